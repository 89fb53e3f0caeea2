"""The Keras side shared by every kdtfrs loss: padding mask, per-row losses, argument checks."""

import math
import numbers

from kdtfrs._keras import keras, tf
from kdtfrs.losses._utils import padding_mask


def check_positive(name, value):
    """``value`` as a float, or a ValueError naming ``name`` when it is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ValueError(
            f"`{name}` must be a finite number greater than 0; received {name}={value!r}."
        )
    return float(value)


def check_non_negative(name, value):
    """``value`` as a float, or a ValueError naming ``name`` when it is not a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < math.inf:
        raise ValueError(
            f"`{name}` must be a finite number greater than or equal to 0; "
            f"received {name}={value!r}."
        )
    return float(value)


def check_finite(name, value):
    """``value`` as a float, or a ValueError naming ``name`` when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number; received {name}={value!r}.")
    return float(value)


def check_positive_int(name, value):
    """``value`` as an int, or a ValueError naming ``name`` when it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1; received {name}={value!r}.")
    return int(value)


class DistillationLoss(keras.losses.Loss):
    """Base of the kdtfrs Keras losses.

    ``call(y_true, y_pred)`` casts both to float32, checks their shapes, derives the padding
    mask from y_true (NaN = padding; same shape as y_true) and returns the per-row losses [B]
    of :meth:`compute_unreduced_loss`. Keras then reduces them: AUTO = mean over rows; inside
    a custom train_step under tf.distribute use SUM (or NONE) and divide by the global batch
    size.
    """

    def call(self, y_true, y_pred):
        labels = tf.cast(y_true, tf.float32)
        logits = tf.cast(y_pred, tf.float32)
        self.check_shapes(labels, logits)
        return self.compute_unreduced_loss(labels, logits, padding_mask(labels))

    def check_shapes(self, labels, logits):
        """Raise a ValueError when y_true and y_pred do not describe the same entries."""
        if not labels.shape.is_compatible_with(logits.shape):
            raise ValueError(
                f"{type(self).__name__}: y_true and y_pred must have the same shape (one teacher "
                f"signal per student score); received y_true {labels.shape} and y_pred "
                f"{logits.shape}."
            )

    def compute_unreduced_loss(self, labels, logits, mask):
        """Per-row losses float32 [B] from y_true (``labels``), y_pred (``logits``) and
        ``mask`` = ``padding_mask(labels)``; implemented by each subclass."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute_unreduced_loss.")
