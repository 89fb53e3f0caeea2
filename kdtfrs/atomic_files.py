"""Files and folders written whole or not at all: a reader never sees half of one.

A file is written beside its destination and renamed over it (``os.replace``, atomic on one
filesystem); a folder is built beside its destination and swapped in by two renames. File
contents are flushed to disk (``fsync``) before the rename and the parent folder after it, so
this holds against a killed process and a power cut alike.
Results are strict JSON: a NaN or an infinity is refused, never written (Python's ``json``
would write ``NaN``, which no JSON reader accepts).
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import shutil


def write_text(path, text: str) -> pathlib.Path:
    """Writes ``text`` to ``path`` through a temporary file beside it and a rename."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        _sync_folder(path.parent)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_json(path, value) -> pathlib.Path:
    """Writes ``value`` as indented, strict JSON (see ``non_finite_entries``), atomically."""
    bad = non_finite_entries(value)
    if bad:
        raise ValueError(f"{path}: refusing to write non-finite results ("
                         f"{', '.join(f'{key}={number}' for key, number in bad[:5])}); "
                         "a results file holds finite numbers only.")
    return write_text(path, json.dumps(value, indent=2, allow_nan=False) + "\n")


def non_finite_entries(value, prefix="") -> list[tuple[str, float]]:
    """(dotted key, value) of every NaN or infinite float inside ``value`` (dicts, lists)."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(prefix or "value", value)]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return []
    found = []
    for key, item in items:
        found += non_finite_entries(item, f"{prefix}.{key}" if prefix else str(key))
    return found


def replace_directory(source, destination) -> pathlib.Path:
    """Moves the folder ``source`` to ``destination``, replacing what is there.

    ``destination`` is renamed aside first and deleted once ``source`` has taken its place,
    so it holds either the old folder or the new one, whole. Both must be on one filesystem
    (siblings, in practice).
    """
    source, destination = pathlib.Path(source), pathlib.Path(destination)
    _sync_tree(source)
    aside = None
    if destination.exists():
        aside = destination.with_name(f".{destination.name}.replaced-{os.getpid()}")
        shutil.rmtree(aside, ignore_errors=True)
        os.rename(destination, aside)
    try:
        os.rename(source, destination)
    except OSError:
        if aside is not None:
            os.rename(aside, destination)
        raise
    _sync_folder(destination.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return destination


def _sync_tree(folder: pathlib.Path) -> None:
    """Flushes every file under ``folder``, then the folders themselves, to disk."""
    for root, _, files in os.walk(folder):
        for name in files:
            descriptor = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        _sync_folder(pathlib.Path(root))


def _sync_folder(folder: pathlib.Path) -> None:
    """Flushes a folder's entries (a rename inside it) to disk."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


__all__ = ["non_finite_entries", "replace_directory", "write_json", "write_text"]
