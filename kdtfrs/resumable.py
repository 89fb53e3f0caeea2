"""Training that survives an interruption and resumes to exactly the uninterrupted result.

``TrainingCheckpoint`` writes the whole training state at the end of every epoch, into one
folder that appears only once complete (written beside, then renamed):

    <directory>/epoch-00003/     the state after 3 epochs
        state.*                  tf.train.Checkpoint of the model and its optimizer (weights,
                                 Adam moments, the step counter the samplers are seeded with)
        callbacks.json           the other callbacks' state: early stopping (best score, wait,
                                 best epoch) and the logs of every epoch run
        arrays.npz               their arrays (the early-stopping best weights)

A process killed at any moment leaves the last complete folder; ``restore`` loads it before
``fit(initial_epoch=...)``. Keras' ``BackupAndRestore`` keeps the weights and the epoch but not
what other callbacks saw (``EarlyStopping`` would start over), and the data pipeline's epoch
seeds are not state Keras can save: see ``kdtfrs.fitting.fit_model`` for how they are replayed.
"""

from __future__ import annotations

import json
import pathlib
import re
import shutil

import numpy as np

from kdtfrs._keras import keras, tf
from kdtfrs.atomic_files import write_text

CHECKPOINT_PREFIX = "epoch-"
_STATE = "state"
_CALLBACKS = "callbacks.json"
_ARRAYS = "arrays.npz"


class CheckpointMismatchError(ValueError):
    """A checkpoint does not hold exactly the state of the model that would resume from it."""


def _mismatch(path, directory, error) -> CheckpointMismatchError:
    """The error for a checkpoint at ``path`` whose state and the model's differ."""
    text = str(error)
    unsaved = sorted(set(re.findall(r"tf\.Variable '([^']+?)(?::\d+)?'", text)))
    unused = sorted(set(re.findall(r"Unresolved object in checkpoint \(root\)\.(\S+?):", text)))
    if unsaved:
        detail = f"variables without a saved value: {', '.join(unsaved)}"
    elif unused:
        detail = f"saved values without a variable: {', '.join(unused)}"
    else:
        detail = text.splitlines()[0]
    return CheckpointMismatchError(
        f"{path} does not hold the state of this model ({detail}). It was written by another "
        f"model, or by another version of kdtfrs whose method keeps other variables. Finish "
        f"that run with the code that started it, or start over: pass --overwrite (without "
        f"--resume), or remove {directory}.")


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """``keras.callbacks.EarlyStopping`` whose state (best score, wait count, best epoch, best
    weights, whether it stopped) ``TrainingCheckpoint`` saves and a resumed run restores.

    An epoch whose logs lack the monitored value (``EvaluationCallback(every=...)`` skips
    it) is passed over quietly: patience counts evaluations. Keras' ``EarlyStopping`` skips
    it too, but warns on every such epoch.

    Args: as ``keras.callbacks.EarlyStopping``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._pending = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._pending is None:
            return
        state, arrays = self._pending
        self._pending = None
        if state["best"] is not None:
            self.best = state["best"]
        self.wait, self.best_epoch = state["wait"], state["best_epoch"]
        self.stopped_epoch = state["stopped_epoch"]
        if arrays:
            self.best_weights = [arrays[f"w{i}"] for i in range(len(arrays))]

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor in (logs or {}):
            super().on_epoch_end(epoch, logs)

    @property
    def stopped(self) -> bool:
        """Whether it stopped training (restored state included)."""
        state = self._pending[0] if self._pending is not None else None
        return (state["stopped_epoch"] if state else self.stopped_epoch) > 0

    def get_state(self) -> tuple[dict, dict]:
        best = float(self.best)
        state = {"best": best if np.isfinite(best) else None, "wait": int(self.wait),
                 "best_epoch": int(self.best_epoch), "stopped_epoch": int(self.stopped_epoch)}
        weights = self.best_weights or []
        return state, {f"w{i}": weight for i, weight in enumerate(weights)}

    def set_state(self, state: dict, arrays: dict) -> None:
        """Restores ``get_state``'s output when training begins."""
        self._pending = (state, arrays)


class ResumableHistory(keras.callbacks.Callback):
    """Keeps every epoch's logs, those of a run before an interruption included (its state
    goes through ``TrainingCheckpoint``), so that ``merge_into`` gives the ``History`` of a
    resumed ``fit`` every epoch.

    ``merge_into`` also aligns the logs: one value per epoch for every key, NaN where a metric
    was not logged (e.g. validation metrics on the epochs ``EvaluationCallback(every=...)``
    skips), where Keras' ``History`` would append only the values present.
    """

    def __init__(self):
        super().__init__()
        self.epochs = []  # (epoch, logs) in order
        self._pending = None

    def on_train_begin(self, logs=None):
        self.epochs, self._pending = list(self._pending or []), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs = [(done, past) for done, past in self.epochs if done < epoch]

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((epoch, {key: float(value) for key, value in (logs or {}).items()}))

    def get_state(self) -> tuple[dict, dict]:
        return {"epochs": self.epochs}, {}

    def set_state(self, state: dict, arrays: dict) -> None:
        del arrays
        self._pending = [(epoch, logs) for epoch, logs in state["epochs"]]

    def merge_into(self, history):
        """Replaces ``history``'s epochs and logs by those of every epoch run; returns it."""
        history.epoch = [epoch for epoch, _ in self.epochs]
        keys = {key for _, logs in self.epochs for key in logs}
        history.history = {key: [logs.get(key, np.nan) for _, logs in self.epochs]
                           for key in sorted(keys)}
        return history


class TrainingCheckpoint(keras.callbacks.Callback):
    """Saves the model, its optimizer and the ``stateful`` callbacks after every epoch into
    ``directory`` (layout in the module docstring); ``restore`` brings the latest back.

    Put it after the callbacks whose state it saves (their epoch-end work must be done).
    The checkpoints are removed when training ends normally.

    Args:
      directory: the folder of the checkpoints (created as needed).
      stateful: callbacks with ``get_state() -> (json-ready dict, {name: array})`` and
        ``set_state(dict, arrays)``, e.g. ``ResumableEarlyStopping``, ``ResumableHistory``.
    """

    def __init__(self, directory, stateful=()):
        super().__init__()
        self.directory = pathlib.Path(directory)
        self.stateful = list(stateful)
        self.epochs_done = 0

    def latest(self) -> pathlib.Path | None:
        """The folder of the last complete checkpoint, or None."""
        if not self.directory.is_dir():
            return None
        done = sorted(path for path in self.directory.iterdir()
                      if path.name.startswith(CHECKPOINT_PREFIX) and path.is_dir())
        return done[-1] if done else None

    def restore(self, model) -> int:
        """Loads the latest checkpoint into ``model`` (compiled) and the callbacks; returns the
        number of epochs it had run (0 without a checkpoint)."""
        path = self.latest()
        if path is None:
            return 0
        model.optimizer.build(model.trainable_variables)
        status = tf.train.Checkpoint(model=model, optimizer=model.optimizer).read(
            str(path / _STATE))
        try:
            status.assert_consumed()
        except AssertionError as error:
            status.expect_partial()  # the error says it all: no warning when status goes
            raise _mismatch(path, self.directory, error) from None
        saved = json.loads((path / _CALLBACKS).read_text())
        with np.load(path / _ARRAYS, allow_pickle=False) as arrays:
            arrays = dict(arrays)
        for callback in self.stateful:
            name = type(callback).__name__
            prefix = f"{name}/"
            callback.set_state(saved["callbacks"][name],
                               {key[len(prefix):]: value for key, value in arrays.items()
                                if key.startswith(prefix)})
        self.epochs_done = int(saved["epochs_done"])
        return self.epochs_done

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch + 1)

    def save(self, epochs_done: int) -> pathlib.Path:
        """Writes the state after ``epochs_done`` epochs; removes the older checkpoints."""
        name = f"{CHECKPOINT_PREFIX}{epochs_done:05d}"
        final, temporary = self.directory / name, self.directory / f".{name}.tmp"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
        tf.train.Checkpoint(model=self.model, optimizer=self.model.optimizer).write(
            str(temporary / _STATE))
        states, arrays = {}, {}
        for callback in self.stateful:
            state, values = callback.get_state()
            states[type(callback).__name__] = state
            arrays.update({f"{type(callback).__name__}/{key}": value
                           for key, value in values.items()})
        with open(temporary / _ARRAYS, "wb") as file:
            np.savez(file, **arrays)
        write_text(temporary / _CALLBACKS,
                   json.dumps({"epochs_done": epochs_done, "callbacks": states}))
        shutil.rmtree(final, ignore_errors=True)
        temporary.rename(final)
        for path in self.directory.iterdir():
            if path != final and path.name.startswith(CHECKPOINT_PREFIX):
                shutil.rmtree(path, ignore_errors=True)
        self.epochs_done = epochs_done
        return final

    def on_train_end(self, logs=None):
        self.clear()

    def clear(self) -> None:
        """Removes every checkpoint."""
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            if path.name.startswith((CHECKPOINT_PREFIX, f".{CHECKPOINT_PREFIX}")):
                shutil.rmtree(path, ignore_errors=True)


__all__ = ["CheckpointMismatchError", "ResumableEarlyStopping", "ResumableHistory",
           "TrainingCheckpoint"]
