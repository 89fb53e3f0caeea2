"""Which ``tf.distribute`` strategy a run trains under, and where each worker writes.

    strategy = kdtfrs.strategy.make_strategy("mirrored")
    with strategy.scope():                      # models, tasks and optimizer inside
        student = kdtfrs.models.BPRMF(split.num_users, split.num_items, 20)
        distiller = kdtfrs.Distiller(teacher, student, split.train, [kdtfrs.tasks.RRD()])
        distiller.compile(optimizer=kdtfrs.models.LazyAdam(1e-3))
    replicas = strategy.num_replicas_in_sync
    distiller.fit(kdtfrs.data.bpr_triples(split.train, 2048 * replicas), epochs=10)

The names (``kdtfrs train/distill --strategy``):

- ``default``: TensorFlow's default strategy, one device (the first GPU if there is one,
  else the CPU). Nothing is distributed.
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over the visible GPUs, one replica each
  (NCCL all-reduce); without a GPU, over the logical CPU devices (one, unless the program split
  the CPU with ``tf.config.set_logical_device_configuration``, as the tests do; ring
  collectives).
- ``multi_worker``: ``tf.distribute.MultiWorkerMirroredStrategy`` over the processes listed in
  the ``TF_CONFIG`` environment variable (one replica per process on CPU; AUTO collectives:
  ring on CPU, NCCL on GPUs). Make it before anything else in the program runs TensorFlow.

The global batch is the per-replica batch times ``num_replicas_in_sync``.

One strategy per name per process: ``make_strategy`` returns the one it made before. Two
strategies over the same devices number their collectives alike (the same group key, instance
keys restarting at the same value) and the TensorFlow runtime keeps, for the life of the
process, the shape each (group, instance) key first carried: the second strategy's first
all-reduce of another shape fails with "Shape mismatch in the collective instance" and aborts
every later collective of the process. The sparse (IndexedSlices) gradients of embedding
tables make this likely, since their all-gathered shape follows the batch
(docs/distributed.md). Reuse one strategy for every model of a process.

This module imports TensorFlow only when a strategy is made, so that the command line can
list the names without starting it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import tempfile

NAMES = ("default", "mirrored", "multi_worker")
TF_CONFIG_HELP = ('e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                  '"task": {"type": "worker", "index": 0}}\' on the first machine, index 1 on '
                  'the second (docs/distributed.md)')

_made = {}


def make_strategy(name: str = "default"):
    """The ``tf.distribute.Strategy`` called ``name`` (one of ``NAMES``; module docstring).

    Raises:
      ValueError: an unknown name, or ``multi_worker`` without a usable ``TF_CONFIG``.
    """
    if name not in NAMES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(NAMES)}.")
    from kdtfrs._keras import tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name not in _made:
        _made[name] = _mirrored(tf) if name == "mirrored" else _multi_worker(tf)
    return _made[name]


def _mirrored(tf):
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([device.name for device in devices])


def _multi_worker(tf):
    check_tf_config(os.environ.get("TF_CONFIG"))
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.AUTO)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def check_tf_config(text) -> dict:
    """The parsed ``TF_CONFIG``; ValueError saying what is wrong with it and what to set."""
    if not text:
        raise ValueError(f"the multi_worker strategy needs the TF_CONFIG environment variable: "
                         f"the cluster's workers and this process's place among them, "
                         f"{TF_CONFIG_HELP}.")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}); {TF_CONFIG_HELP}.") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not (cluster.get("worker") or cluster.get("chief")):
        raise ValueError(f"TF_CONFIG has no cluster with workers (got {text}); "
                         f"{TF_CONFIG_HELP}.")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise ValueError(f"TF_CONFIG's task must name one of the cluster's jobs "
                         f"{sorted(cluster)} (got task={task!r}); {TF_CONFIG_HELP}.")
    index = task.get("index", 0)
    if not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        raise ValueError(f"TF_CONFIG's task index {index!r} is not a position in its job "
                         f"{task['type']!r} of {len(cluster[task['type']])} addresses; "
                         f"{TF_CONFIG_HELP}.")
    return config


def is_chief(strategy) -> bool:
    """Whether this process writes the run's outputs: always, unless it is a non-chief worker
    of a multi-worker cluster (the chief is the "chief" task, else worker 0)."""
    resolver = strategy.cluster_resolver
    if resolver is None or resolver.task_type is None:
        return True
    if resolver.task_type == "chief":
        return True
    jobs = resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in jobs


@contextlib.contextmanager
def chief_output(path, strategy):
    """Yields where this process writes ``path``: ``path`` itself on the chief (and in every
    one-process run); on the other workers of a multi-worker run, a path of the same name in a
    new temporary folder, removed with everything in it when the block ends.

    Every worker must save (saving reads distributed variables, which may run collectives on
    all workers), but only the chief's copy may reach ``path``::

        with kdtfrs.strategy.chief_output("runs/student", strategy) as output:
            kdtfrs.model_dir.save(student, output, ...)
    """
    if is_chief(strategy):
        yield path
        return
    resolver = strategy.cluster_resolver
    scratch = pathlib.Path(tempfile.mkdtemp(
        prefix=f"kdtfrs-{resolver.task_type}-{resolver.task_id}-"))
    target = scratch / pathlib.Path(path).name
    try:
        yield str(target) if isinstance(path, str) else target
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


_CLASS_NAMES = {"_DefaultDistributionStrategy": "default", "MirroredStrategy": "mirrored",
                "CollectiveAllReduceStrategy": "multi_worker"}  # MultiWorkerMirroredStrategy


def describe(strategy, batch_size: int) -> dict:
    """What model.json records of a run's distribution: the strategy (its name in ``NAMES``,
    else its class), the replicas and the per-replica and global batch sizes."""
    replicas = int(strategy.num_replicas_in_sync)
    name = type(strategy).__name__
    return {"strategy": _CLASS_NAMES.get(name, name), "replicas": replicas,
            "batch_size_per_replica": int(batch_size),
            "global_batch_size": int(batch_size) * replicas}
