"""Test configuration shared by every test module.

Keras 2 is selected before TensorFlow is imported, and the one physical CPU is split into two
logical devices so that tests can run a 2-replica ``tf.distribute.MirroredStrategy`` on CPU.
"""

import os
import pathlib

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from kdtfrs.strategy import make_strategy  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

SHARED_DATA_DIR = pathlib.Path(
    os.environ.get("KDTFRS_DATA_DIR",
                   pathlib.Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture
def two_replica_strategy():
    """The library's ``mirrored`` strategy: a MirroredStrategy over the two logical CPUs, with
    TensorFlow's default cross-device ops for CPUs (ring collectives).

    One strategy for every test of a process (``make_strategy`` returns the one it made):
    strategies made anew per test reused the same collective keys, and the runtime's memory of
    each key's shape made a later test's IndexedSlices all-gather fail ("Shape mismatch in the
    collective instance"), depending on which test files shared a pytest worker
    (docs/distributed.md).
    """
    strategy = make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2, strategy.extended.worker_devices
    return strategy


@pytest.fixture
def shared_data_dir():
    """The ../shared/data folder; the test is skipped when it is absent."""
    if not SHARED_DATA_DIR.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA_DIR} (set KDTFRS_DATA_DIR)")
    return SHARED_DATA_DIR
