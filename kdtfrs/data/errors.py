"""Errors raised by the data layer, with messages that name the file, the line and the fix.

Every data error derives from :class:`DataError`, so ``except DataError`` catches them all,
and also from the built-in class a caller would expect (``ValueError`` for bad content,
``FileNotFoundError`` for a missing file).
"""

from __future__ import annotations

import os


class DataError(Exception):
    """Base class of every error raised while reading or preparing interaction data."""


class DataFormatError(DataError, ValueError):
    """A data file or an argument holds something the data layer cannot use."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data file or folder does not exist."""


def format_error(
    path: os.PathLike | str, line: int | None, problem: str, advice: str
) -> DataFormatError:
    """Builds a :class:`DataFormatError` for ``path`` (and 1-based ``line`` when known).

    The message reads ``<path>, line <n>: <problem>. <advice>`` so that an editor or a terminal
    can jump to the spot.
    """
    where = f"{os.fspath(path)}, line {line}" if line is not None else os.fspath(path)
    return DataFormatError(f"{where}: {problem}. {advice}")


def require_file(path: os.PathLike | str, what: str) -> None:
    """Raises :class:`DataNotFoundError` when ``path`` is not an existing file."""
    if not os.path.isfile(path):
        state = "is a folder, not a file" if os.path.isdir(path) else "does not exist"
        raise DataNotFoundError(
            f"{os.fspath(path)} {state}: expected the {what}. Check the path (or the data "
            f"folder, e.g. KDTFRS_DATA_DIR) and that the file was downloaded."
        )
