"""A teacher's training trajectory: snapshots of the model every N epochs, kept with it.

``kdtfrs train --keep-every N`` writes, beside the finished model, one model directory per
snapshot (``kdtfrs.model_dir``, loadable on its own):

    runs/teacher/                 the finished (best) model
        trajectory/epoch-00005/   the model after 5 epochs
        trajectory/epoch-00010/   ...

HetComp (``kdtfrs.hetcomp``) reads a teacher's trajectory as an easy-to-hard curriculum:
``select_checkpoints`` picks E of them, the final model last.

The snapshot after epoch k is written at the start of epoch k + 1 (``TrajectorySnapshots``),
from the state the next epoch starts from. A resumed run restores that same state before its
first epoch begins, so a run killed at any moment still ends with every snapshot, each equal
to the one an uninterrupted run writes; the last epoch's state is the only one not kept
(HetComp uses the snapshots before the best epoch, and the final model itself).
"""

from __future__ import annotations

import json
import pathlib
import re

from kdtfrs import model_dir
from kdtfrs._keras import keras

DIRECTORY = "trajectory"
_SNAPSHOT = re.compile(r"^epoch-(\d{5,})$")


def snapshot_name(epoch: int) -> str:
    return f"epoch-{epoch:05d}"


class TrajectorySnapshots(keras.callbacks.Callback):
    """Saves ``model`` as a model directory ``directory/epoch-NNNNN`` every ``every`` epochs.

    Args:
      model: the model to snapshot (a kdtfrs Recommender); None: the model being fitted.
      directory: the folder of the snapshots (created as needed).
      every: N: the states after epochs N, 2N, ... are kept.
      data: the provenance record written in each snapshot (``DataSpec.record``).
      extra: model.json "extra" of each snapshot (the epoch is added).
      ids: ``(user_ids, item_ids)`` saved with each snapshot.
    """

    def __init__(self, model, directory, every: int, data: dict, extra=None, ids=None):
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}.")
        self.snapshot_model = model
        self.directory = pathlib.Path(directory)
        self.every = every
        self.data, self.extra, self.ids = data, dict(extra or {}), ids

    def on_epoch_begin(self, epoch, logs=None):
        if epoch and epoch % self.every == 0:
            model = self.snapshot_model if self.snapshot_model is not None else self.model
            model_dir.save(model, self.directory / snapshot_name(epoch), self.data,
                           {**self.extra, "trajectory_epoch": epoch}, ids=self.ids)


def snapshots(teacher_dir) -> list[tuple[int, pathlib.Path]]:
    """(epoch, path) of every snapshot kept with the model in ``teacher_dir``, by epoch."""
    folder = pathlib.Path(teacher_dir) / DIRECTORY
    if not folder.is_dir():
        return []
    found = [(int(match.group(1)), path) for path in folder.iterdir()
             if (match := _SNAPSHOT.match(path.name)) and model_dir.is_model_dir(path)]
    return sorted(found)


def select_checkpoints(teacher_dir, count: int) -> list[pathlib.Path]:
    """``count`` checkpoints of the teacher in ``teacher_dir``, earliest first, the model itself
    last: ``count − 1`` snapshots taken before its best epoch, evenly spread from the first.

    The best epoch is the training summary's (``metrics.json``); without one (no validation
    part), every snapshot is before it.

    Raises:
      ValueError: fewer snapshots than needed, naming the teacher and the fix.
    """
    teacher_dir = pathlib.Path(teacher_dir)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"the number of checkpoints must be a positive integer, got {count!r}.")
    best = _best_epoch(teacher_dir)
    earlier = [path for epoch, path in snapshots(teacher_dir) if best is None or epoch < best]
    if len(earlier) < count - 1:
        before = f" taken before its best epoch ({best})" if best is not None else ""
        raise ValueError(
            f"{teacher_dir}: HetComp needs {count - 1} snapshots{before}, the teacher has "
            f"{len(earlier)}. Train it again with `kdtfrs train --keep-every N` and a smaller "
            f"N, or ask for fewer checkpoints (--param num_checkpoints=...).")
    if count == 1:
        return [teacher_dir]
    positions = [round(i * (len(earlier) - 1) / max(count - 2, 1)) for i in range(count - 1)]
    return [earlier[position] for position in positions] + [teacher_dir]


def _best_epoch(teacher_dir: pathlib.Path):
    path = teacher_dir / model_dir.METRICS_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("training", {}).get("best_epoch")


__all__ = ["DIRECTORY", "TrajectorySnapshots", "select_checkpoints", "snapshot_name",
           "snapshots"]
