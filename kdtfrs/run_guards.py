"""Callbacks that stop a ``fit`` cleanly: on a non-finite loss, and on Ctrl-C or SIGTERM.

Keras' ``TerminateOnNaN`` stops quietly and ``fit`` returns as if it had finished, so a
caller saves an all-NaN model; ``StopOnNonFiniteLoss`` raises instead. ``StopOnSignal``
turns the first SIGINT (Ctrl-C) or SIGTERM into ``RunInterrupted`` at the next step end,
never in the middle of writing a checkpoint; a second signal interrupts at once.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading

from kdtfrs._keras import keras


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite: the run diverged."""

    def __init__(self, name: str, value: float, epoch: int, step: int | None):
        where = f"epoch {epoch + 1}" + (f", step {step + 1}" if step is not None else "")
        what = "the training loss" + ("" if name == "loss" else f" {name}")
        super().__init__(
            f"{what} became {value} at {where}, so training stopped and "
            f"nothing was saved. A learning rate too large for the data is the usual cause: "
            f"lower it (or a distillation weight).")
        self.name, self.value, self.epoch, self.step = name, value, epoch, step


class RunInterrupted(KeyboardInterrupt):
    """A ``fit`` stopped by a signal (or Ctrl-C). ``kdtfrs.fitting.fit_model`` fills in:

    Attributes:
      signal_name: "SIGINT" or "SIGTERM" (None for a KeyboardInterrupt raised otherwise).
      epochs_done: epochs finished and checkpointed before the interruption.
      best_epoch: 1-based epoch of the best validation score so far (None without one).
      best_score: that score.
      saved_to: where the best model so far was written (set by whoever wrote it).
    """

    def __init__(self, signal_name=None):
        super().__init__(signal_name or "interrupted")
        self.signal_name = signal_name
        self.epochs_done = 0
        self.best_epoch = None
        self.best_score = None
        self.saved_to = None


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises ``NonFiniteLossError`` as soon as a logged loss is NaN or infinite.

    The batch logs hold the epoch's running mean, so one bad step keeps it non-finite; the
    epoch end checks every ``*loss`` entry (the tasks' losses too).
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        value = (logs or {}).get("loss")
        if value is not None and not math.isfinite(float(value)):
            raise NonFiniteLossError("loss", float(value), self._epoch, batch)

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            if name.endswith("loss") and not math.isfinite(float(value)):
                raise NonFiniteLossError(name, float(value), epoch, None)


class StopOnSignal(keras.callbacks.Callback):
    """Raises ``RunInterrupted`` at the first step end (or epoch end) after SIGINT/SIGTERM.

    The handlers are installed only inside ``with callback.handling_signals():`` and only
    in the main thread (Python delivers signals there); the previous handlers come back
    after. Put the callback last, so an epoch's checkpoint is written before it raises.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        super().__init__()
        self.received = None

    @contextlib.contextmanager
    def handling_signals(self):
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        self.received = None
        previous = {number: signal.getsignal(number) for number in self.SIGNALS}

        def handle(number, frame):
            del frame
            if self.received is not None:
                raise RunInterrupted(signal.Signals(number).name)
            self.received = signal.Signals(number).name
            print(f"\n{self.received} received: stopping at the end of this step (again to "
                  "stop at once).", file=sys.stderr, flush=True)

        for number in self.SIGNALS:
            signal.signal(number, handle)
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _check(self):
        if self.received is not None:
            raise RunInterrupted(self.received)

    def on_train_batch_end(self, batch, logs=None):
        self._check()

    def on_epoch_end(self, epoch, logs=None):
        self._check()


__all__ = ["NonFiniteLossError", "RunInterrupted", "StopOnNonFiniteLoss", "StopOnSignal"]
