"""Tests of the CSV/TSV loader."""

import numpy as np
import pytest

from kdtfrs.data.csv_loader import load_csv
from kdtfrs.data.errors import DataFormatError, DataNotFoundError


def _write(tmp_path, text, name="events.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_string_ids_comma_sniffed_and_blank_lines_skipped(tmp_path):
    path = _write(
        tmp_path, '\ufeff\nuser,item,ts\nalice,x1,30\n\nbob, x2,10\nalice,x2,20\nbob,"x,3",5\n'
    )
    data = load_csv(path, "user", "item", order_column="ts")
    assert data.name == "events" and len(data) == 4
    np.testing.assert_array_equal(data.user_ids[data.users], ["alice", "bob", "alice", "bob"])
    np.testing.assert_array_equal(data.item_ids[data.items], ["x1", "x2", "x2", "x,3"])
    np.testing.assert_array_equal(data.order, [30, 10, 20, 5])


def test_integer_ids_tab_sniffed_positions_without_header(tmp_path):
    path = _write(tmp_path, "7\t100\n3\t100\n7\t200\n", name="events.tsv")
    data = load_csv(path, 0, 1, header=False)
    assert data.user_ids.dtype == np.int64 and data.item_ids.dtype == np.int64
    np.testing.assert_array_equal(data.user_ids, [3, 7])
    np.testing.assert_array_equal(data.order, [0, 1, 2])


def test_iso_dates_as_order_and_explicit_delimiter(tmp_path):
    path = _write(tmp_path, "u;i;when\n1;2;2020-01-02T00:00:00\n1;3;2020-01-01\n")
    data = load_csv(path, "u", "i", order_column="when", delimiter=";")
    assert data.order[0] - data.order[1] == 86400


@pytest.mark.parametrize(
    "text, kwargs, line, fragment",
    [
        ("user,item\n1,2\n1,2,3\n", {}, 3, "expected 2 fields separated by ',', got 3"),
        ("user,item\n1,2\n,3\n", {}, 3, "an id field is empty"),
        ("user,item,t\n1,2,5\n1,3,soon\n", {"order_column": "t"}, 3, "'soon' is neither a number"),
        ("user,item\n1,2\n", {"item_column": "movie"}, 1, "item_column='movie' is not a column"),
        ("\nuser,item\n\n1,2,3\n", {}, 4, "rows have 3 fields but the header has 2"),
    ],
)
def test_bad_rows_and_columns_name_file_and_line(tmp_path, text, kwargs, line, fragment):
    path = _write(tmp_path, text)
    arguments = {"user_column": "user", "item_column": "item", **kwargs}
    with pytest.raises(DataFormatError) as caught:
        load_csv(path, **arguments)
    assert f"{path}, line {line}:" in str(caught.value) and fragment in str(caught.value)


def test_column_arguments_and_empty_files(tmp_path):
    path = _write(tmp_path, "1,2\n")
    with pytest.raises(DataFormatError, match="header=False"):
        load_csv(path, "user", "item", header=False)
    with pytest.raises(DataFormatError, match="out of range"):
        load_csv(path, 0, 5, header=False)
    with pytest.raises(DataFormatError, match="no data rows"):
        load_csv(_write(tmp_path, "user,item\n"), "user", "item")
    with pytest.raises(DataFormatError, match="empty"):
        load_csv(_write(tmp_path, "\n\n"), "user", "item")
    with pytest.raises(DataNotFoundError):
        load_csv(tmp_path / "absent.csv", "user", "item")
