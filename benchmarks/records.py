"""Results files of the benchmarks: a JSON list of records, appended and skipped by key.

Every benchmark is resumable: it reads its results file, skips the records already there,
and writes the file again after each new record (atomically), so an interrupted sweep loses
at most the run in progress (which itself resumes from its checkpoint).
"""

from __future__ import annotations

import json
import os
import pathlib


class ResultsFile:
    """A list of dict records on disk, keyed by a tuple of fields."""

    def __init__(self, path, key_fields):
        self.path = pathlib.Path(path)
        self.key_fields = tuple(key_fields)
        self.records = self._read()

    def _read(self) -> list:
        return json.loads(self.path.read_text()) if self.path.exists() else []

    def key(self, record) -> tuple:
        return tuple(record.get(field) for field in self.key_fields)

    def has(self, **fields) -> bool:
        wanted = self.key(fields)
        return any(self.key(record) == wanted for record in self.records)

    def get(self, **fields):
        wanted = self.key(fields)
        return next((record for record in self.records if self.key(record) == wanted), None)

    def add(self, record) -> None:
        """Adds (or replaces) ``record``, keeping what other processes wrote meanwhile."""
        self.records = [r for r in self._read() if self.key(r) != self.key(record)] + [record]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.records, indent=1) + "\n")
        os.replace(temporary, self.path)


def plain(value):
    """``value`` as it reads back from JSON (tuples become lists), for comparing configs."""
    return json.loads(json.dumps(value))


def stale_record_error(path, record, config) -> str:
    return (
        f"{path}: the record {record['dataset']} {record['method']} seed {record['seed']} was "
        f"made with {record['config']}, but the settings now give {config}. Move that record "
        "to another file (e.g. results/distill-superseded.json) to rerun it with the current "
        "settings (and delete its checkpoint directory under --work, if one is left); nothing "
        "was changed."
    )


#: The record field naming the weights (``kdtfrs.teacher_identity.weights_digest``) of the
#: teacher(s) a record's table is made against; records made before 2026-12-07 lack it.
TEACHER_WEIGHTS = "teacher_weights"


def other_teacher_error(path, record, teacher_config, teacher_weights=None) -> str:
    """Why ``record`` was made against another teacher: other settings than ``teacher_config``
    or, given ``teacher_weights`` (the record's ``teacher_weights`` differ), other weights."""
    if teacher_weights is not None:
        made = f"made against a teacher with weights sha256 {_short(record[TEACHER_WEIGHTS])}"
        now = f"the teacher under --work has {_short(teacher_weights)}"
    else:
        made = record.get("teacher_config")
        made = ("made with no record of its teacher's settings" if made is None
                else f"made against the teacher {made}")
        now = f"the settings now give the teacher {teacher_config}"
    return (
        f"{path}: the record {record['dataset']} {record['method']} seed {record['seed']} was "
        f"{made}, but {now}. Move that dataset's records to another file (e.g. "
        "results/distill-superseded.json), with the teacher's directories under --work, to "
        "rerun them with the current teacher; nothing was changed."
    )


def _short(digests) -> str:
    """A weights digest (or a list of them, one per teacher) cut to 12 hex digits."""
    if isinstance(digests, list):
        return "[" + ", ".join(map(_short, digests)) + "]"
    return f"{digests[:12]}…"


#: The file in a run's checkpoint directory that names the config the directory is for.
CLAIM_FILE = "run_config.json"


def claim_checkpoint(directory, config) -> pathlib.Path:
    """Returns ``directory`` for a run of ``config``, refusing one left by another config.

    A run resumes from its checkpoint directory; resuming the state of different settings
    would silently mix two runs, so the directory keeps the config it was made for, until
    ``release_checkpoint`` once the run has finished.
    """
    directory = pathlib.Path(directory)
    path = directory / CLAIM_FILE
    config = plain(config)
    if path.exists() and json.loads(path.read_text()) != config:
        raise SystemExit(
            f"{directory} holds the state of a run with {path.read_text().strip()}, but this "
            f"run has {config}. Delete that directory to start this run afresh; nothing was "
            "changed."
        )
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config) + "\n")
    return directory


def release_checkpoint(directory) -> None:
    """Ends the claim of a run that finished: removes ``directory`` when it
    holds nothing but ``CLAIM_FILE`` (training removes its checkpoints when it ends), and
    leaves it as it is otherwise. A claim that outlived its run would refuse any later run
    of the same name with other settings, though no state is left to mix; the results
    file's record keeps guarding the finished run."""
    directory = pathlib.Path(directory)
    if [entry.name for entry in directory.iterdir()] == [CLAIM_FILE]:
        (directory / CLAIM_FILE).unlink()
        directory.rmdir()
