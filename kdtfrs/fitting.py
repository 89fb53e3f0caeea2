"""One training routine for backbones and distillers: Adam, early stopping, resumable.

``fit_model`` trains either a backbone (``kdtfrs.models.Recommender``) from scratch or a
``kdtfrs.Distiller``, on BPR triples of the training split, watching the validation
NDCG@20 of the model that will be served (the backbone itself or the distiller's student).
A non-finite loss stops it with an error (``kdtfrs.run_guards``); SIGINT/SIGTERM stop it
at a step end with ``RunInterrupted``, the best model so far in place.
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np

from kdtfrs._keras import keras
from kdtfrs.data import bpr_triples
from kdtfrs.evaluation import EvaluationCallback
from kdtfrs.models import LazyAdam
from kdtfrs.pipeline_args import METRICS as STOP_METRICS  # the metrics kdtfrs names
from kdtfrs.resumable import ResumableEarlyStopping, ResumableHistory, TrainingCheckpoint
from kdtfrs.run_guards import RunInterrupted, StopOnNonFiniteLoss, StopOnSignal
from kdtfrs.validation import check_number

MONITOR = "val_ndcg@20"


@dataclasses.dataclass
class FitConfig:
    """Optimisation settings shared by teachers, scratch students and distilled students.

    The optimizer is Adam; "lazy_adam" (default) updates only the embedding rows of the batch,
    about 6x faster per step on Gowalla sizes (``kdtfrs.models.LazyAdam``).

    ``patience`` counts evaluations without a better validation ``stop_on`` (early stopping;
    the best weights are restored). With no validation split, all ``epochs`` run.
    ``stop_on`` is NDCG@20 by default; "ndcg@10" follows the reference protocol of
    woriazzc/KDs and the DE/RRD papers' code, so that results compare with published tables.

    ``batch_size`` is per replica: under a ``tf.distribute`` strategy of R replicas a step
    trains on ``batch_size * R`` pairs, split among the replicas (docs/distributed.md).
    """

    epochs: int = 50
    batch_size: int = 2048
    learning_rate: float = 1e-3
    num_negatives: int = 1
    patience: int = 10
    eval_every: int = 1
    seed: int = 0
    optimizer: str = "lazy_adam"
    stop_on: str = "ndcg@20"

    def __post_init__(self):
        for name in ("epochs", "batch_size", "num_negatives", "patience", "eval_every"):
            check_number(name, getattr(self, name), minimum=1, integer=True)
        check_number("seed", self.seed, minimum=0, integer=True)
        check_number("learning_rate", self.learning_rate, above=0)
        if self.optimizer not in ("lazy_adam", "adam"):
            raise ValueError(
                f"optimizer must be 'lazy_adam' or 'adam', got {self.optimizer!r}.")
        if self.stop_on not in STOP_METRICS:  # ndcg/recall at 10, 20 or 50
            raise ValueError(f"stop_on must be one of {', '.join(STOP_METRICS)}; got "
                             f"{self.stop_on!r}.")

    @property
    def monitor(self) -> str:
        """The logged metric early stopping follows, e.g. "val_ndcg@20"."""
        return "val_" + self.stop_on

    @property
    def evaluation_ks(self) -> tuple:
        """The cut-offs evaluated on validation: 20 (always logged) and ``stop_on``'s."""
        return tuple(sorted({20, int(self.stop_on.split("@")[1])}))

    def make_optimizer(self):
        """``LazyAdam`` (row-wise updates of embedding tables, the default) or dense ``Adam``."""
        if self.optimizer == "lazy_adam":
            return LazyAdam(self.learning_rate)
        if self.optimizer == "adam":
            return keras.optimizers.Adam(self.learning_rate)
        raise ValueError(f"optimizer must be 'lazy_adam' or 'adam', got {self.optimizer!r}.")


class EpochTimer(keras.callbacks.Callback):
    """Logs ``epoch_seconds``: training wall time of the epoch, evaluation and refresh excluded.

    Place it after the refresh callback, whose work happens in ``on_epoch_begin``.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = self._last - self._start


class EpochWallClock(keras.callbacks.Callback):
    """Logs ``epoch_wall_seconds``: the wall time of the whole epoch, its refresh and its
    evaluation included (from the end of the previous epoch, or the start of ``fit``).

    Place it after the evaluation and early-stopping callbacks and before the
    ``ResumableHistory``, so that the History of a resumed run holds every epoch's figure
    and their sum is the run's training time across interruptions (``history_summary``'s
    ``training_seconds``).
    """

    def on_train_begin(self, logs=None):
        self._mark = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        if logs is not None:
            logs["epoch_wall_seconds"] = now - self._mark
        self._mark = now


def fit_model(model, served, split, config: FitConfig, checkpoint_dir=None, verbose=1,
              callbacks=()):
    """Compiles and fits ``model``; returns the Keras History.

    Args:
      model: the model to fit (a backbone, or a Distiller); built inside the strategy's
        ``scope()`` to train under ``tf.distribute`` (its optimizer is made there too), on
        global batches of ``config.batch_size`` x the strategy's replicas.
      served: the model evaluated for early stopping (the backbone, or the student).
      split: a ``kdtfrs.data.SplitData``; without validation interactions there is no early
        stopping (a warning says so) and all ``config.epochs`` run.
      checkpoint_dir: if given, the training state is saved there after every epoch
        (``kdtfrs.resumable.TrainingCheckpoint``) and a rerun resumes from it, ending with
        exactly the weights and History of an uninterrupted run; the History then covers
        every epoch. The checkpoints are removed when training ends.
      callbacks: more Keras callbacks, called after the checkpoint is written.

    Raises:
      NonFiniteLossError: the loss became NaN or infinite (``model`` is then unusable).
      RunInterrupted: SIGINT (Ctrl-C) or SIGTERM, or a KeyboardInterrupt. The model holds
        the best weights so far (or those of the last finished epoch); the exception says
        how many epochs were finished and which was best.

    The History has one value per epoch for every key, NaN where a metric was not logged
    (validation metrics with ``config.eval_every > 1``).
    """
    keras.utils.set_random_seed(config.seed)
    strategy = model.distribute_strategy
    with strategy.scope():
        model.compile(optimizer=config.make_optimizer())
    dataset = bpr_triples(split.train, config.batch_size * strategy.num_replicas_in_sync,
                          config.num_negatives, seed=config.seed)
    callback_list = [StopOnNonFiniteLoss(), EpochTimer()]
    if hasattr(model, "refresh_callback"):
        callback_list.insert(0, model.refresh_callback())
    stopping = None
    if split.valid.nnz:
        callback_list.append(EvaluationCallback(
            served, split.valid, exclude=(split.train,), ks=config.evaluation_ks,
            every=config.eval_every))
        stopping = ResumableEarlyStopping(monitor=config.monitor, mode="max",
                                          patience=config.patience, restore_best_weights=True,
                                          verbose=min(verbose, 1))
        callback_list.append(stopping)
    else:
        warnings.warn(f"{split.name} has no validation interactions: no early stopping, all "
                      f"{config.epochs} epochs run and the last epoch's model is kept.",
                      UserWarning, stacklevel=2)
    history = ResumableHistory()
    callback_list += [EpochWallClock(), history]
    checkpoint, initial_epoch = None, 0
    if checkpoint_dir is not None:
        checkpoint = TrainingCheckpoint(checkpoint_dir, [c for c in (stopping, history) if c])
        callback_list.append(checkpoint)
        with strategy.scope():
            initial_epoch = checkpoint.restore(model)
        if stopping is not None and stopping.stopped:
            initial_epoch = config.epochs  # it had stopped early: nothing left to run
        # bpr_triples draws each epoch's seed when an iterator is made (one per epoch and one
        # before the first, in Keras' fit): make as many as the epochs already run, so that
        # epoch k gets the seed an uninterrupted run gives it.
        for _ in range(initial_epoch if initial_epoch < config.epochs else 0):
            iter(dataset)
    callback_list.extend(callbacks)
    interrupt = StopOnSignal()
    callback_list.append(interrupt)
    with interrupt.handling_signals():
        try:
            result = model.fit(dataset, epochs=config.epochs, initial_epoch=initial_epoch,
                               callbacks=callback_list, verbose=verbose)
        except KeyboardInterrupt as error:
            raise _interrupted(error, model, stopping, history, checkpoint) from None
    return history.merge_into(result)


def _interrupted(error, model, stopping, history, checkpoint) -> RunInterrupted:
    """``error`` as a ``RunInterrupted``, with the best model so far in ``model``."""
    interrupted = error if isinstance(error, RunInterrupted) else RunInterrupted()
    interrupted.epochs_done = (checkpoint.epochs_done if checkpoint is not None
                               else len(history.epochs))
    if stopping is not None and stopping.best_weights is not None:
        model.set_weights(stopping.best_weights)
        interrupted.best_epoch = stopping.best_epoch + 1
        interrupted.best_score = float(stopping.best)
    elif checkpoint is not None and checkpoint.latest() is not None:
        checkpoint.restore(model)  # the model after the last finished epoch
    return interrupted


def history_summary(history, monitor=MONITOR) -> dict:
    """Epochs run, mean epoch seconds, mean refresh seconds and the training time of every
    epoch (``training_seconds``: refreshes and evaluations included, the epochs of
    interrupted processes too) for a History of ``fit_model``;
    and where validation ran, the (1-based) epoch early stopping chose by ``monitor``
    (``best_epoch``) and the validation metrics there: ``best_<monitor>`` and, when it is
    another metric, ``best_val_ndcg@20`` too.

    The first epoch also traces the training graph: it is left out of the mean epoch time
    when there are later epochs.
    """
    logs = history.history
    seconds = logs.get("epoch_seconds", [])
    seconds = seconds[1:] if len(seconds) > 1 else seconds
    refresh = logs.get("refresh_seconds", [])
    summary = {
        "epochs": len(logs.get("epoch_seconds", [])),
        "seconds_per_epoch": float(sum(seconds) / len(seconds)) if seconds else None,
        "refresh_seconds": float(sum(refresh) / len(refresh)) if refresh else 0.0,
        "training_seconds": float(np.nansum(logs.get("epoch_wall_seconds", []))),
    }
    scores = np.asarray(logs.get(monitor, []), dtype=np.float64)
    if np.isfinite(scores).any():
        best = int(np.nanargmax(scores))
        for metric in dict.fromkeys((monitor, MONITOR)):
            if metric in logs:
                summary["best_" + metric] = float(logs[metric][best])
        summary["best_epoch"] = int(history.epoch[best]) + 1
    return summary


__all__ = ["FitConfig", "RunInterrupted", "STOP_METRICS", "fit_model", "history_summary"]
