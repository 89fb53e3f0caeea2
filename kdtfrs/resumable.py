"""Callbacks whose state survives an interrupted ``fit``, next to ``BackupAndRestore``.

``keras.callbacks.BackupAndRestore`` brings back the weights, the optimizer and the epoch
counter, but not what other callbacks saw before the interruption: Keras' ``EarlyStopping``
starts over (forgetting the best score, its weights and the patience used), and the returned
``History`` holds only the epochs run after the restart. These two callbacks keep that state
in the same directory, write it at every epoch end and delete it when training ends.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from kdtfrs._keras import keras

STATE_FILE = "early_stopping.json"
WEIGHTS_FILE = "early_stopping_best_weights.npz"
HISTORY_FILE = "history.json"


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """``keras.callbacks.EarlyStopping`` whose best score, wait count, best epoch and best
    weights are kept in ``directory`` and picked up again by a resumed run.

    An epoch whose logs lack the monitored value (``EvaluationCallback(every=...)`` skips
    it) is passed over quietly: patience counts evaluations. Keras' ``EarlyStopping`` skips
    it too, but warns on every such epoch.

    Args:
      directory: where the state is written (e.g. the ``BackupAndRestore`` directory);
        None keeps it in memory only.
      **kwargs: as ``keras.callbacks.EarlyStopping``.
    """

    def __init__(self, directory=None, **kwargs):
        super().__init__(**kwargs)
        self.directory = None if directory is None else pathlib.Path(directory)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        state_path = None if self.directory is None else self.directory / STATE_FILE
        if state_path is None or not state_path.exists():
            return
        state = json.loads(state_path.read_text())
        self.best, self.wait, self.best_epoch = state["best"], state["wait"], state["best_epoch"]
        weights_path = self.directory / WEIGHTS_FILE
        if weights_path.exists():
            with np.load(weights_path) as saved:
                self.best_weights = [saved[f"w{i}"] for i in range(len(saved.files))]

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor not in (logs or {}):
            return
        super().on_epoch_end(epoch, logs)
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.best_weights is not None and self.best_epoch == epoch:
            np.savez(self.directory / WEIGHTS_FILE,
                     **{f"w{i}": weight for i, weight in enumerate(self.best_weights)})
        state = {"best": float(self.best), "wait": self.wait, "best_epoch": self.best_epoch}
        (self.directory / STATE_FILE).write_text(json.dumps(state))

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        if self.directory is None:
            return
        for name in (STATE_FILE, WEIGHTS_FILE):
            (self.directory / name).unlink(missing_ok=True)


class ResumableHistory(keras.callbacks.Callback):
    """Keeps every epoch's logs in ``directory`` so ``merge_into`` can give the ``History`` of
    a resumed ``fit`` the epochs run before the interruption too.

    ``merge_into`` also aligns the logs: one value per epoch for every key, NaN where a metric
    was not logged (e.g. validation metrics on the epochs ``EvaluationCallback(every=...)``
    skips), where Keras' ``History`` would append only the values present. With
    ``directory=None`` nothing is written: it only aligns.
    """

    def __init__(self, directory=None):
        super().__init__()
        self.directory = None if directory is None else pathlib.Path(directory)
        self.epochs = []  # (epoch, logs) in order
        self._resumed = False

    def on_train_begin(self, logs=None):
        path = None if self.directory is None else self.directory / HISTORY_FILE
        self.epochs = ([tuple(entry) for entry in json.loads(path.read_text())]
                       if path is not None and path.exists() else [])
        self._resumed = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._resumed:  # an epoch logged but not backed up is run again
            self.epochs = [(done, past) for done, past in self.epochs if done < epoch]
            self._resumed = True

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((epoch, {key: float(value) for key, value in (logs or {}).items()}))
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / HISTORY_FILE).write_text(json.dumps(self.epochs))

    def on_train_end(self, logs=None):
        if self.directory is not None:
            (self.directory / HISTORY_FILE).unlink(missing_ok=True)

    def merge_into(self, history):
        """Replaces ``history``'s epochs and logs by those of every epoch run; returns it."""
        history.epoch = [epoch for epoch, _ in self.epochs]
        keys = {key for _, logs in self.epochs for key in logs}
        history.history = {key: [logs.get(key, np.nan) for _, logs in self.epochs]
                           for key in sorted(keys)}
        return history


__all__ = ["ResumableEarlyStopping", "ResumableHistory"]
