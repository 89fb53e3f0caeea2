"""Vectorised reading of text files made of whitespace-separated non-negative integers.

The LightGCN ``train.txt``/``test.txt``, CiteULike ``users.dat`` and MovieLens ``u.data``
files are all "integers on lines" with a per-format meaning for each line. This module reads
such a file once, with NumPy over the raw bytes (no Python loop over lines), and keeps for every
value the line it came from, so that the format parsers can check their rules vectorised and
still report the 1-based line number of the first offending line.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

import numpy as np

from kdtfrs.data.errors import format_error, require_file

_NEWLINE, _CARRIAGE_RETURN, _SPACE, _TAB = 10, 13, 32, 9
_MAX_DIGITS = 18  # every 18-digit number fits in int64


@dataclasses.dataclass(frozen=True)
class IntegerLines:
    """The integers of a text file, grouped by line.

    Attributes:
      path: the file read.
      values: int64 [T], every integer of the file in reading order.
      line_indptr: int64 [L + 1]; line ``k`` (0-based) holds
        ``values[line_indptr[k]:line_indptr[k + 1]]``. Trailing blank lines are not counted in
        ``L``; blank lines before the last non-blank one are rejected when reading.
    """

    path: pathlib.Path
    values: np.ndarray
    line_indptr: np.ndarray

    @property
    def num_lines(self) -> int:
        return int(self.line_indptr.size - 1)

    def values_per_line(self) -> np.ndarray:
        """int64 [L]: how many integers each line holds."""
        return np.diff(self.line_indptr)

    def line_of_each_value(self) -> np.ndarray:
        """int64 [T]: the 0-based line of every value."""
        return np.repeat(np.arange(self.num_lines, dtype=np.int64), self.values_per_line())

    def first_values(self) -> np.ndarray:
        """int64 [L]: the first integer of each line (every line holds at least one)."""
        return self.values[self.line_indptr[:-1]]

    def error(self, line_index: int, problem: str, advice: str):
        """A format error about 0-based ``line_index`` of this file (reported 1-based)."""
        return format_error(self.path, int(line_index) + 1, problem, advice)


def read_integer_lines(path: os.PathLike | str, what: str) -> IntegerLines:
    """Reads ``path``, a text file of non-negative integers separated by spaces or tabs.

    Args:
      path: the file.
      what: a short description of the file for error messages, e.g. "CiteULike users.dat".

    Raises:
      DataNotFoundError: the file does not exist.
      DataFormatError: the file is empty, holds a character other than digits, spaces, tabs and
        line breaks, a number with more than 18 digits, or a blank line followed by more data.
    """
    path = pathlib.Path(path)
    require_file(path, what)
    data = path.read_bytes()
    buffer = np.frombuffer(data, dtype=np.uint8)
    is_digit = (buffer >= ord("0")) & (buffer <= ord("9"))
    is_newline = buffer == _NEWLINE
    is_blank = is_newline | (buffer == _SPACE) | (buffer == _TAB) | (buffer == _CARRIAGE_RETURN)
    newline_positions = np.flatnonzero(is_newline)

    def line_index_of(position: int) -> int:
        return int(np.searchsorted(newline_positions, position))

    unexpected = np.flatnonzero(~(is_digit | is_blank))
    if unexpected.size:
        position = int(unexpected[0])
        line = line_index_of(position)
        start = newline_positions[line - 1] + 1 if line else 0
        text = data[start : start + 80].split(b"\n")[0].decode("utf-8", "replace")
        raise format_error(
            path,
            line + 1,
            f"unexpected character {chr(buffer[position])!r} in {text!r}",
            f"The {what} must hold only non-negative integers separated by spaces or tabs; "
            f"fix or remove that line",
        )
    if not is_digit.any():
        raise format_error(path, None, "the file is empty", f"Expected the {what}; re-download it")

    previous_is_digit = np.concatenate([[False], is_digit[:-1]])
    next_is_digit = np.concatenate([is_digit[1:], [False]])
    starts = np.flatnonzero(is_digit & ~previous_is_digit)
    ends = np.flatnonzero(is_digit & ~next_is_digit) + 1
    too_long = np.flatnonzero(ends - starts > _MAX_DIGITS)
    if too_long.size:
        position = int(starts[too_long[0]])
        raise format_error(
            path,
            line_index_of(position) + 1,
            f"the number {data[position : ends[too_long[0]]].decode()} has more than "
            f"{_MAX_DIGITS} digits",
            "Ids must fit in int64; check the file is the expected format",
        )

    line_of_value = np.searchsorted(newline_positions, starts)
    num_lines = int(line_of_value[-1]) + 1
    values_per_line = np.bincount(line_of_value, minlength=num_lines)
    blank_lines = np.flatnonzero(values_per_line == 0)
    if blank_lines.size:
        raise format_error(
            path,
            int(blank_lines[0]) + 1,
            "the line is empty",
            f"Every line of the {what} must hold data; remove blank lines",
        )
    line_indptr = np.zeros(num_lines + 1, dtype=np.int64)
    np.cumsum(values_per_line, out=line_indptr[1:])
    values = np.array(data.split()).astype(np.int64)
    return IntegerLines(path=path, values=values, line_indptr=line_indptr)
