"""The one place that picks Keras for kdtfrs: tf-keras (Keras 2).

TensorFlow Recommenders 0.7.7, TFX and TFMA are built on Keras 2. TensorFlow >= 2.16 ships
Keras 3 as ``tf.keras`` unless ``TF_USE_LEGACY_KERAS=1`` is set *before TensorFlow is first
imported*. This module sets it when TensorFlow has not been imported yet, and fails fast with
a message that says what to do when Keras 3 is already active.

Every other module imports Keras as ``from kdtfrs._keras import keras``.
"""

import os
import sys

_ADVICE = (
    "kdtfrs needs Keras 2 (the tf-keras package) because TensorFlow Recommenders, TFX and "
    "TFMA do. Set TF_USE_LEGACY_KERAS=1 in the environment of the process before TensorFlow "
    "is imported (e.g. `export TF_USE_LEGACY_KERAS=1`), or import kdtfrs before tensorflow, "
    "and install tf-keras matching your TensorFlow minor version (`pip install 'tf-keras~=X.Y.0'`)."
)

if "tensorflow" not in sys.modules:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402  (must follow the environment setup above)

keras = tf.keras

if not keras.__name__.startswith("tf_keras"):
    raise ImportError(f"Keras 3 is active as tf.keras ({keras.__name__}). {_ADVICE}")

__all__ = ["keras", "tf"]
