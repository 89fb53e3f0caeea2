"""``kdtfrs`` in a child process, with a fault at a chosen point of training (tests only).

    python tests/faulty_kdtfrs.py FAULT[,FAULT...] kdtfrs-arguments...

FAULT is one of
    none                  run as the console script does
    kill@E.B              SIGKILL this process after step B of epoch E (0-based): a crash
    sigint@E              send SIGINT to this process at the end of epoch E: Ctrl-C
    pause@E:READY:GO      at the end of epoch E, create the file READY and wait (up to 120 s)
                          for the file GO to appear: a run held mid-way
    after:READY           start the command once the file READY exists (TensorFlow is
                          imported before: processes started together overlap their start-up)

The fault is hooked into ``kdtfrs.fitting.EpochTimer``, a callback of every ``fit_model``.
"""

import os
import pathlib
import signal
import sys
import time


def install(faults: str) -> None:
    """Hooks the comma-separated ``faults`` into ``kdtfrs.fitting.EpochTimer``."""
    for fault in faults.split(","):
        if fault.startswith("after:"):
            _wait_for(pathlib.Path(fault.partition(":")[2]))
        elif fault != "none":
            _install(fault)


def _wait_for(path, seconds=120):
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _install(fault: str) -> None:
    from kdtfrs import fitting

    kind, _, where = fault.partition("@")
    epoch_text, _, rest = where.partition(":" if kind == "pause" else ".")
    epoch = int(epoch_text)

    class Faulty(fitting.EpochTimer):
        def on_epoch_begin(self, current, logs=None):
            self._epoch = current
            super().on_epoch_begin(current, logs)

        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, logs)
            if kind == "kill" and (self._epoch, batch) == (epoch, int(rest)):
                os.kill(os.getpid(), signal.SIGKILL)

        def on_epoch_end(self, current, logs=None):
            super().on_epoch_end(current, logs)
            if current != epoch:
                return
            if kind == "sigint":
                os.kill(os.getpid(), signal.SIGINT)
            elif kind == "pause":
                ready, go = rest.split(":")
                pathlib.Path(ready).touch()
                _wait_for(pathlib.Path(go))

    fitting.EpochTimer = Faulty


if __name__ == "__main__":
    from kdtfrs import cli

    cli.quiet_tensorflow()
    install(sys.argv[1])
    sys.exit(cli.main(sys.argv[2:]))
