"""kdtfrs.strategy: the strategies by name, TF_CONFIG checks, who writes under multi-worker."""

import json
import pathlib
import types

import numpy as np
import pytest

from kdtfrs import strategy as strategies
from kdtfrs._keras import keras, tf
from kdtfrs.data import bpr_triples, make_synthetic, split_random
from kdtfrs.models import BPRMF


def test_default_is_the_one_device_strategy():
    default = strategies.make_strategy("default")
    assert default is tf.distribute.get_strategy()
    assert default.num_replicas_in_sync == 1
    assert strategies.is_chief(default)
    assert strategies.describe(default, 64) == {
        "strategy": "default", "replicas": 1, "batch_size_per_replica": 64,
        "global_batch_size": 64}


def test_mirrored_spans_the_logical_cpus_and_is_made_once(two_replica_strategy):
    mirrored = strategies.make_strategy("mirrored")
    assert mirrored is two_replica_strategy
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert [device.split("/")[-1] for device in mirrored.extended.worker_devices] == [
        "device:CPU:0", "device:CPU:1"]
    assert strategies.describe(mirrored, 64)["global_batch_size"] == 128


def test_models_of_other_sizes_train_one_after_the_other(two_replica_strategy):
    """The CI failure that one strategy per process removes: with a new MirroredStrategy per
    model, the second model's embedding gradients (IndexedSlices, 7 rows per replica) are
    all-gathered under the collective instance key that carried the first model's (8 rows):
    "Shape mismatch in the collective instance 102 ... expected shape [14,3] but another
    member in the group expected shape [16,3]" at node cond_1/CollectiveGatherV2."""
    for num_users, batch_size in ((30, 16), (45, 14)):
        split = split_random(make_synthetic(num_users=num_users, num_items=40, num_clusters=2,
                                            mean_interactions_per_user=6, seed=0), seed=0)
        with strategies.make_strategy("mirrored").scope():
            model = BPRMF(split.num_users, split.num_items, 3, seed=0)
            model.compile(optimizer=keras.optimizers.SGD(0.1))
        history = model.fit(bpr_triples(split.train, batch_size), epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"]).all()


def test_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match="unknown strategy 'tpu'; choose one of default, "
                                         "mirrored, multi_worker"):
        strategies.make_strategy("tpu")


@pytest.mark.parametrize("config, message", [
    (None, "needs the TF_CONFIG environment variable"),
    ("{cluster", "TF_CONFIG is not valid JSON"),
    (json.dumps({"task": {"type": "worker", "index": 0}}), "no cluster with workers"),
    (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}),
     r"task must name one of the cluster's jobs \['worker'\]"),
    (json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}),
     "task index 2 is not a position in its job 'worker' of 2 addresses"),
])
def test_multi_worker_without_a_usable_tf_config_says_what_to_set(config, message, monkeypatch):
    if config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", config)
    with pytest.raises(ValueError, match=message) as error:
        strategies.make_strategy("multi_worker")
    assert 'TF_CONFIG=\'{"cluster"' in str(error.value)  # an example to copy
    assert "multi_worker" not in strategies._made


def fake_worker(task_type, task_id, jobs):
    """An object with a multi-worker strategy's ``cluster_resolver``."""
    spec = tf.train.ClusterSpec({job: [f"host{i}:1" for i in range(count)]
                                 for job, count in jobs.items()})
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        spec, task_type=task_type, task_id=task_id)
    return types.SimpleNamespace(cluster_resolver=resolver)


@pytest.mark.parametrize("task_type, task_id, jobs, chief", [
    ("worker", 0, {"worker": 2}, True),
    ("worker", 1, {"worker": 2}, False),
    ("chief", 0, {"chief": 1, "worker": 2}, True),
    ("worker", 0, {"chief": 1, "worker": 2}, False),
])
def test_the_chief_is_the_chief_task_else_worker_0(task_type, task_id, jobs, chief):
    assert strategies.is_chief(fake_worker(task_type, task_id, jobs)) is chief


def test_the_chief_writes_the_output_itself(tmp_path, two_replica_strategy):
    target = tmp_path / "model"
    with strategies.chief_output(target, two_replica_strategy) as output:
        assert output == target
    with strategies.chief_output(str(target), fake_worker("worker", 0, {"worker": 2})) as output:
        assert output == str(target)


def test_another_worker_writes_a_scratch_copy_removed_afterwards(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    monkeypatch.setattr(strategies.tempfile, "tempdir", None)  # re-read TMPDIR
    worker = fake_worker("worker", 1, {"worker": 2})
    with strategies.chief_output(str(tmp_path / "runs" / "model"), worker) as output:
        assert isinstance(output, str)
        output = pathlib.Path(output)
        assert output.name == "model"
        assert output.parent.name.startswith("kdtfrs-worker-1-")
        assert output.parent.parent == tmp_path / "scratch"
        output.mkdir()
        (output / "model.keras").write_text("weights")
    assert not output.parent.exists()
    assert not (tmp_path / "runs").exists()
