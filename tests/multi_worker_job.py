"""One worker of a 2-process multi-worker run (tests/test_multi_worker.py; tests only).

    TF_CONFIG=... python tests/multi_worker_job.py WORK TEACHER

Every worker of the cluster runs the same two jobs, as a user would:

1. the command line: ``kdtfrs distill --strategy multi_worker --teacher TEACHER --output
   WORK/cli-student`` (it makes the strategy before anything else runs TensorFlow); then the
   same run to ``WORK/cli-resumed``, interrupted after its first epoch on every worker (as a
   stopped cluster would be; a patched checkpoint callback raises KeyboardInterrupt once it
   has written the epoch), and continued with ``--resume``: each worker restores the chief's
   checkpoint;
2. the library: a Distiller built in ``make_strategy("multi_worker").scope()`` (the same
   strategy, one per process) trains a few steps; the worker writes its logs and its
   student's weights to ``WORK/history-<task>.json`` and ``WORK/weights-<task>.npz``, the logs
   of one step of a BidirectionalDistiller to ``WORK/bd-history-<task>.json``, and its
   SavedModel export (``kdtfrs.serving.export_saved_model``) through
   ``kdtfrs.strategy.chief_output`` to ``WORK/export``, the path it used to
   ``WORK/export-<task>.txt``.
"""

import json
import os
import pathlib
import sys

from kdtfrs import cli  # selects Keras 2; TensorFlow starts with the command

STEPS = 4
BATCH_PER_REPLICA = 8
EXPORT_K = 10


EPOCHS = 2


def run_command(teacher: pathlib.Path, output: pathlib.Path, *flags) -> int:
    return cli.main(["distill", "--teacher", str(teacher), "--method", "kd",
                     "--param", "num_items=5", "--dim", "4", "--epochs", str(EPOCHS),
                     "--batch-size", str(BATCH_PER_REPLICA), "--lr", "0.01", "--verbose", "0",
                     "--strategy", "multi_worker", "--output", str(output), *flags])


def run_interrupted_then_resumed(teacher: pathlib.Path, output: pathlib.Path) -> int:
    """The run stopped after its first epoch (exit 130), then ``--resume``d to the end."""
    from kdtfrs.cli import EXIT_INTERRUPTED
    from kdtfrs.resumable import TrainingCheckpoint

    write_epoch = TrainingCheckpoint.on_epoch_end

    def write_then_stop(self, epoch, logs=None):
        write_epoch(self, epoch, logs)
        if epoch == 0:
            raise KeyboardInterrupt

    TrainingCheckpoint.on_epoch_end = write_then_stop
    try:
        status = run_command(teacher, output)
    finally:
        TrainingCheckpoint.on_epoch_end = write_epoch
    if status != EXIT_INTERRUPTED:
        print(f"the interrupted run exited with {status}, not {EXIT_INTERRUPTED}")
        return status or 1
    return run_command(teacher, output, "--resume")


def train_and_export(work: pathlib.Path, teacher_dir: pathlib.Path, name: str) -> None:
    import numpy as np

    from kdtfrs import BidirectionalDistiller, Distiller, serving, tasks
    from kdtfrs.data import bpr_triples
    from kdtfrs.experiment import load_teacher
    from kdtfrs.models import BPRMF, LazyAdam
    from kdtfrs.strategy import chief_output, make_strategy

    strategy = make_strategy("multi_worker")
    teacher, split, _ = load_teacher(teacher_dir)
    with strategy.scope():
        student = BPRMF(split.num_users, split.num_items, 4, init_stddev=0.1, seed=2)
        distiller = Distiller(teacher, student, split.train, [tasks.get("rrd", num_interesting=5,
                              num_uninteresting=5, max_rank=20)], seed=0)
        distiller.compile(optimizer=LazyAdam(0.01))
    global_batch = BATCH_PER_REPLICA * strategy.num_replicas_in_sync
    history = distiller.fit(bpr_triples(split.train, global_batch, seed=0), epochs=STEPS,
                            steps_per_epoch=1, verbose=0)  # one step per epoch: its logs
    (work / f"history-{name}.json").write_text(json.dumps(history.history))
    np.savez(work / f"weights-{name}.npz", *student.get_weights(),
             users=student.user_embedding.numpy(), items=student.item_embedding.numpy())
    with strategy.scope():
        pair = [BPRMF(split.num_users, split.num_items, 4, seed=seed) for seed in (3, 4)]
        bidirectional = BidirectionalDistiller(*pair, split.train, seed=0)
        bidirectional.compile(optimizer=LazyAdam(0.01))
    history = bidirectional.fit(bpr_triples(split.train, global_batch, seed=0), epochs=1,
                                steps_per_epoch=1, verbose=0)
    (work / f"bd-history-{name}.json").write_text(json.dumps(history.history))
    with chief_output(work / "export", strategy) as target:
        serving.export_saved_model(student, target, ids=(split.user_ids, split.item_ids),
                                   k=EXPORT_K, exclude=split.train)
        (work / f"export-{name}.txt").write_text(str(target))


def main(work, teacher):
    work, teacher = pathlib.Path(work), pathlib.Path(teacher)
    task = json.loads(os.environ["TF_CONFIG"])["task"]
    status = (run_command(teacher, work / "cli-student")
              or run_interrupted_then_resumed(teacher, work / "cli-resumed"))
    if status:
        return status
    train_and_export(work, teacher, f"{task['type']}-{task['index']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
