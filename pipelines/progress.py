"""Tool-like output of a local pipeline run: one line per component, indented training lines.

    [1/10] CsvExampleGen .................    6.1 s
    [7/10] TeacherTrainer ................
             teacher epoch   1/30  loss 0.6801  val ndcg@20 0.0712
             ...
           done: 14.2 s

``ComponentProgress`` is a logging handler fed TFX's own records ("Component X is running.",
"A cached execution N is used.", "Component X is finished.") and nothing else: while
``tool_output`` is active, TFX's, Beam's and TensorFlow's log lines are not printed (a
failing component's exception says what went wrong). The Trainers show their epochs with
``status`` (one line that each epoch replaces, on a terminal) and their outcome with
``detail``. The handler also keeps each component's wall time (``seconds``) and which ones
came from the cache (``cached``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time

_RUNNING, _FINISHED = "Component %s is running.", "Component %s is finished."
_CACHED = "A cached execution %d is used."
_INDENT = " " * 9
_QUIET_LOGGERS = ("apache_beam", "tensorflow", "tfx", "ml_metadata", "kfp", "google")


class _Line:
    """``open``: a component's line waits for its time (nothing printed after it yet);
    ``status``: the last line is a status line that the next output replaces."""

    open = False
    status = False


def _close_line() -> None:
    if _Line.open:
        print(flush=True)
        _Line.open = False
    if _Line.status:
        print("\r\x1b[K", end="", flush=True)
        _Line.status = False


def detail(text: str) -> None:
    """Prints an indented line under the current component (its line is closed first)."""
    _close_line()
    print(f"{_INDENT}{text}", flush=True)


def status(text: str) -> None:
    """An indented line that the next one replaces on a terminal (e.g. the current epoch);
    elsewhere (a log file, a CI job), a line like ``detail``'s."""
    if not sys.stdout.isatty():
        detail(text)
        return
    _close_line()
    print(f"{_INDENT}{text}", end="", flush=True)
    _Line.status = True


class ComponentProgress(logging.Handler):
    """Prints a line per component from TFX's log records; keeps the wall times."""

    def __init__(self, node_ids):
        super().__init__(logging.INFO)
        self.position = {node: index + 1 for index, node in enumerate(node_ids)}
        self.seconds: dict[str, float] = {}
        self.cached: set[str] = set()
        self.current = None
        self._started = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == _RUNNING:
            self._begin(record.args[0])
        elif record.msg == _FINISHED:
            self._end(record.args[0])
        elif record.msg == _CACHED and self.current is not None:
            self.cached.add(self.current)

    def failed(self) -> None:
        """Closes the line of the component that raised."""
        if self.current is not None:
            self._finish_line(f"failed after {time.perf_counter() - self._started:.1f} s")
            self.current = None

    def _begin(self, node: str) -> None:
        self.current, self._started = node, time.perf_counter()
        label = f"[{self.position.get(node, '?')}/{len(self.position)}] {node} "
        print(f"{label:.<38}", end="", flush=True)
        _Line.open = True

    def _end(self, node: str) -> None:
        self.seconds[node] = time.perf_counter() - self._started
        note = " (cached)" if node in self.cached else ""
        self._finish_line(f"{self.seconds[node]:6.1f} s{note}")
        self.current = None

    @staticmethod
    def _finish_line(text: str) -> None:
        if _Line.status:
            _close_line()
        if _Line.open:
            print(f" {text}", flush=True)
            _Line.open = False
        else:
            print(f"{' ' * 7}done: {text.strip()}", flush=True)


@contextlib.contextmanager
def tool_output(node_ids):
    """Routes TFX's log records to a ``ComponentProgress`` (yielded) and silences the rest."""
    from absl import logging as absl_logging

    handler = ComponentProgress(node_ids)
    absl_logger = logging.getLogger("absl")
    saved = (absl_logging.get_verbosity(), list(absl_logger.handlers), absl_logger.propagate,
             {name: logging.getLogger(name).level for name in _QUIET_LOGGERS})
    # Through absl's flag, not the logger: TensorFlow's SavedModel export sets the verbosity
    # to FATAL and back to the flag's value.
    absl_logging.set_verbosity(absl_logging.INFO)
    absl_logger.handlers = [handler]
    absl_logger.propagate = False
    # Beam's multi-processing workers are new interpreters: the library FutureWarnings they
    # would print at import (google.api_core's about Python 3.11) are turned off there too.
    saved_warnings = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = "ignore::FutureWarning"
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield handler
    except BaseException:
        handler.failed()
        raise
    finally:
        verbosity, handlers, propagate, levels = saved
        absl_logging.set_verbosity(verbosity)
        absl_logger.handlers = handlers
        absl_logger.propagate = propagate
        for name, quiet_level in levels.items():
            logging.getLogger(name).setLevel(quiet_level)
        if saved_warnings is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = saved_warnings
        sys.stdout.flush()
