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
    """A MirroredStrategy over the two logical CPUs.

    Gradients are reduced on one device: the CPU ring collectives that MirroredStrategy picks
    by default for CPU devices failed once in CI (InvalidArgumentError in the
    CollectiveGatherV2 that all-gathers the embeddings' IndexedSlices gradients) and did
    not recur in seven local runs. What the tests check, per-replica losses and their
    reduction, does not depend on how the gradients travel.
    """
    return tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice()
    )


@pytest.fixture
def shared_data_dir():
    """The ../shared/data folder; the test is skipped when it is absent."""
    if not SHARED_DATA_DIR.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA_DIR} (set KDTFRS_DATA_DIR)")
    return SHARED_DATA_DIR
