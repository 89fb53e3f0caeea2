"""A run's output: checked before training, locked while written, replaced whole at the end.

    runs/teacher/           the finished model (``kdtfrs.model_dir``); a run replaces it only
                            when told to (``overwrite``), and only as a whole
    runs/teacher.partial/   the run's work area, locked while a run writes it:
        owner.json          pid, host, start time and command line of the run that holds it
        run.json            the run's settings; a resumed run must pass the same ones
        checkpoints/        the training state after the last finished epoch
        best/               the best model so far, written when the run is interrupted
        model/              the finished model, renamed to runs/teacher at the end

The lock is ``flock`` on the work area: it ends with the process, so a killed run leaves a
work area that the next run can take (and resume), never a stale lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pathlib
import shutil
import socket
import sys
import time

from kdtfrs import model_dir
from kdtfrs.atomic_files import replace_directory, write_text

WORK_SUFFIX = ".partial"
CHECKPOINT_PREFIX = "epoch-"  # kdtfrs.resumable.CHECKPOINT_PREFIX (that module imports TensorFlow)
OWNER_FILE = "owner.json"
SETTINGS_FILE = "run.json"


class OutputError(ValueError):
    """The output cannot be written, or writing it would destroy something."""


class RunLockedError(OutputError):
    """Another process is writing the same output."""


class RunDirectory:
    """The output directory of one training run, and its work area beside it.

    ``open()`` checks everything before training starts and takes the lock; ``commit()``
    moves the finished model in place and removes the work area; ``close()`` releases the
    lock (keeping the work area when it holds something to resume). Use it as a context
    manager around the run.

    Args:
      output: the model directory to write.
      overwrite: replace a finished model already at ``output``, or start over from an
        interrupted run's work area.
      resume: continue the interrupted run whose work area is beside ``output``.
      protect: ``(path, name)`` pairs that ``output`` may not be, contain or lie in (the
        teacher a student learns from, named as the user knows it, e.g. "--teacher").
      flag: how messages name the output ("--output" on the command line).
    """

    def __init__(self, output, *, overwrite=False, resume=False, protect=(), flag="--output"):
        self.output = pathlib.Path(output).expanduser().absolute()
        self.work = self.output.with_name(self.output.name + WORK_SUFFIX)
        self.overwrite, self.resume = bool(overwrite), bool(resume)
        self.protect = [(pathlib.Path(path).expanduser().absolute(), name)
                        for path, name in protect]
        self.flag = flag
        self.resuming = False
        self._lock_fd = None

    # -- paths ------------------------------------------------------------------------------
    @property
    def checkpoints(self) -> pathlib.Path:
        return self.work / "checkpoints"

    @property
    def best(self) -> pathlib.Path:
        return self.work / "best"

    @property
    def staging(self) -> pathlib.Path:
        return self.work / "model"

    # -- lifecycle --------------------------------------------------------------------------
    def open(self) -> "RunDirectory":
        """Checks the output, takes the lock and prepares the work area; returns ``self``."""
        self._check_paths()
        try:
            self.work.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{self.flag} {self.output}: cannot create {self.work} "
                              f"({error.strerror}). Choose a folder you can write to.") from None
        self._lock()
        try:
            self._finish_interrupted_swap()
            self._check_output()
            self._prepare_work_area()
            write_text(self.work / OWNER_FILE, json.dumps(
                {"pid": os.getpid(), "host": socket.gethostname(),
                 "started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": sys.argv}))
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Releases the lock; removes the work area unless it holds a checkpoint or a model."""
        if self._lock_fd is None:
            return
        if self.work.is_dir() and not self.has_checkpoint() and not self.best.exists():
            shutil.rmtree(self.work, ignore_errors=True)
        os.close(self._lock_fd)
        self._lock_fd = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc_info):
        self.close()

    def commit(self) -> pathlib.Path:
        """Moves the finished model (``staging``) to ``output``, replacing what is there, then
        removes the work area and releases the lock."""
        if not model_dir.is_model_dir(self.staging):
            raise OutputError(f"{self.staging} holds no finished model to move to {self.output}.")
        replace_directory(self.staging, self.output)
        shutil.rmtree(self.work, ignore_errors=True)
        self.close()
        return self.output

    def discard(self) -> None:
        """Removes the work area (a run that cannot be resumed usefully) and releases the lock."""
        shutil.rmtree(self.work, ignore_errors=True)
        self.close()

    def has_checkpoint(self) -> bool:
        """Whether the work area holds a complete checkpoint (``kdtfrs.resumable``)."""
        return self.checkpoints.is_dir() and any(
            path.name.startswith(CHECKPOINT_PREFIX) for path in self.checkpoints.iterdir())

    def follow(self, source_output) -> None:
        """Before ``open``: makes this run start as the run writing ``source_output`` will.

        A worker of a multi-worker run that is not the chief writes to a folder of its own
        (``kdtfrs.strategy.chief_output``) but must restore the state the chief restores. This
        raises the errors the chief's ``open`` will raise (so that every worker stops, rather
        than one waiting for the others in a collective), and with ``resume``, copies the
        settings and the last complete checkpoint of the chief's interrupted run into this
        work area. The chief's work area must be readable here (a shared filesystem, as for
        the data and the teacher); it is only read.
        """
        source = RunDirectory(source_output, overwrite=self.overwrite, resume=self.resume,
                              protect=self.protect, flag=self.flag)
        source._check_paths()
        if not (source.has_checkpoint() and source.settings() is not None):
            return
        if not self.resume:
            if not self.overwrite:
                raise source._interrupted_run_error()
            return
        latest = max(path for path in source.checkpoints.iterdir()
                     if path.name.startswith(CHECKPOINT_PREFIX))
        try:
            self.checkpoints.mkdir(parents=True, exist_ok=True)
            shutil.copytree(latest, self.checkpoints / latest.name)
            shutil.copyfile(source.work / SETTINGS_FILE, self.work / SETTINGS_FILE)
        except OSError as error:
            raise OutputError(f"{self.flag} {source.output}: cannot copy the interrupted run's "
                              f"checkpoint {latest} to this worker ({error}). Every worker must "
                              "read the chief's --output.") from None

    # -- settings of a resumable run ---------------------------------------------------------
    def settings(self) -> dict | None:
        """The settings of the run in the work area, or None."""
        path = self.work / SETTINGS_FILE
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            raise OutputError(f"{path} is damaged (not valid JSON): the interrupted run cannot "
                              f"be resumed; pass --overwrite to start over.") from None

    def begin(self, settings: dict, describe_difference) -> None:
        """Records ``settings``, or checks that a resumed run's settings are the same.

        ``describe_difference(recorded, settings)`` returns a list of phrases ([] if equal).
        """
        if self.resuming:
            recorded = self.settings() or {}
            differences = describe_difference(recorded, settings)
            if differences:
                raise OutputError(
                    f"{self.work} holds a run with other settings: {'; '.join(differences)}. "
                    f"Resume it with the settings it started with, or pass --overwrite "
                    f"(without --resume) to start over.")
            return
        write_text(self.work / SETTINGS_FILE, json.dumps(settings, indent=2, default=str))

    # -- checks ------------------------------------------------------------------------------
    def _check_paths(self) -> None:
        output = self.output
        for path, name in self.protect:
            if _same_or_inside(output, path) or _same_or_inside(path, output):
                raise OutputError(
                    f"{self.flag} {output} {'is' if output == path else 'overlaps'} {name} "
                    f"{path}: a run never writes over the model it reads. Choose another "
                    f"{self.flag}.")
        if output.exists() and not output.is_dir():
            raise OutputError(f"{self.flag} {output} is a file, not a folder. Choose a path for "
                              "a new folder.")
        if self.work.exists() and not self.work.is_dir():
            raise OutputError(f"{self.work} (the work area of {self.flag} {output}) is a file. "
                              "Move it away or choose another output.")
        for parent in output.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise OutputError(f"{self.flag} {output}: {parent} is a file, not a folder.")
                if not os.access(parent, os.W_OK | os.X_OK):
                    raise OutputError(f"{self.flag} {output}: cannot write in {parent} "
                                      "(permission denied). Choose a folder you can write to.")
                break
        self._check_output()

    def _check_output(self) -> None:
        output = self.output
        if not output.exists():
            return
        if model_dir.is_model_dir(output):
            if not self.overwrite:
                raise OutputError(
                    f"{self.flag} {output} already holds a model. Pass --overwrite to replace "
                    f"it (it is replaced only when the new run finishes), or choose another "
                    f"{self.flag}.")
        elif any(output.iterdir()):
            raise OutputError(
                f"{self.flag} {output} is a folder that is not a kdtfrs model directory and "
                f"is not empty. Choose another {self.flag}: a run replaces model directories "
                f"only.")

    def _finish_interrupted_swap(self) -> None:
        """Completes a ``commit`` killed between its renames (``replace_directory``).

        Killed after the old model was renamed aside but before the new one took its place,
        the output is missing: the finished new model (still in ``staging``) is moved in, or,
        if there is none, the old one is put back. Killed after the swap, the old model aside
        (which the run was told to replace) is removed.
        """
        asides = sorted(self.output.parent.glob(f".{self.output.name}.replaced-*"))
        if not asides:
            return
        if not self.output.exists():
            if model_dir.is_model_dir(self.staging):
                replace_directory(self.staging, self.output)
                print(f"{self.output}: finished the replacement an interrupted run had begun.",
                      file=sys.stderr)
            else:
                os.rename(asides.pop(), self.output)
                print(f"{self.output}: put back the model an interrupted run had moved aside.",
                      file=sys.stderr)
        for aside in asides:
            shutil.rmtree(aside, ignore_errors=True)

    def _prepare_work_area(self) -> None:
        interrupted = self.has_checkpoint() and self.settings() is not None
        if interrupted and self.resume:
            self.resuming = True
            return
        if interrupted and not self.overwrite:
            raise self._interrupted_run_error()
        for entry in self.work.iterdir():  # a fresh start: clear what an earlier run left
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def _interrupted_run_error(self) -> OutputError:
        return OutputError(
            f"{self.work} holds an interrupted run of {self.flag} {self.output}. Pass "
            f"--resume (with the same settings) to continue it, or --overwrite to discard it "
            f"and start over.")

    def _lock(self) -> None:
        for _ in range(5):
            fd = os.open(self.work, os.O_RDONLY | os.O_DIRECTORY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                os.close(fd)
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                raise RunLockedError(
                    f"{self.flag} {self.output} is being written by another kdtfrs run "
                    f"({self._owner()}). Wait for it to finish, or choose another "
                    f"{self.flag}.") from None
            try:
                same = os.stat(self.work).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._lock_fd = fd
                return
            os.close(fd)  # the work area was removed and made again meanwhile: lock the new one
            self.work.mkdir(parents=True, exist_ok=True)
        raise RunLockedError(f"{self.flag} {self.output}: could not lock {self.work}.")

    def _owner(self) -> str:
        try:
            owner = json.loads((self.work / OWNER_FILE).read_text())
            return f"pid {owner['pid']} on {owner['host']}, started {owner['started']}"
        except (OSError, ValueError, KeyError):
            return f"it holds the lock on {self.work}"


def _same_or_inside(path: pathlib.Path, folder: pathlib.Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


__all__ = ["OutputError", "RunDirectory", "RunLockedError"]
