"""Tests of the vectorised integer-lines reader."""

import numpy as np
import pytest

from kdtfrs.data.errors import DataError, DataFormatError, DataNotFoundError
from kdtfrs.data.integer_lines import read_integer_lines


def _write(tmp_path, text, name="f.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_values_and_lines_match_a_python_split(tmp_path):
    text = "3 10 11 12\n1\t7\r\n2 0 123456789012\n"
    lines = read_integer_lines(_write(tmp_path, text), "test file")
    expected = [[int(v) for v in line.split()] for line in text.splitlines()]
    np.testing.assert_array_equal(lines.values, np.concatenate(expected))
    np.testing.assert_array_equal(lines.values_per_line(), [len(e) for e in expected])
    np.testing.assert_array_equal(lines.first_values(), [3, 1, 2])
    np.testing.assert_array_equal(lines.line_of_each_value(), [0, 0, 0, 0, 1, 1, 2, 2, 2])


def test_no_final_newline_and_trailing_blank_lines_are_fine(tmp_path):
    assert read_integer_lines(_write(tmp_path, "1 2\n3"), "f").num_lines == 2
    assert read_integer_lines(_write(tmp_path, "1 2\n3\n\n  \n"), "f").num_lines == 2


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("1 2\n3 x 4\n", 2, "unexpected character 'x'"),
        ("1 2\n3 -4\n", 2, "unexpected character '-'"),
        ("1 2\n\n3 4\n", 2, "the line is empty"),
        ("1\n2\n" + "9" * 19 + "\n", 3, "more than 18 digits"),
    ],
)
def test_malformed_input_names_file_and_line(tmp_path, text, line, fragment):
    path = _write(tmp_path, text)
    with pytest.raises(DataFormatError) as caught:
        read_integer_lines(path, "test file")
    message = str(caught.value)
    assert f"{path}, line {line}:" in message and fragment in message


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(DataFormatError, match="empty"):
        read_integer_lines(_write(tmp_path, "\n \n"), "f")
    with pytest.raises(DataNotFoundError, match="does not exist") as caught:
        read_integer_lines(tmp_path / "absent.txt", "f")
    assert isinstance(caught.value, (DataError, FileNotFoundError))
