"""Tests of the LightGCN-format (Gowalla) loader."""

import numpy as np
import pytest

from kdtfrs.data.errors import DataFormatError, DataNotFoundError
from kdtfrs.data.gowalla import load_gowalla


def _write(folder, train, test):
    (folder / "train.txt").write_text(train)
    (folder / "test.txt").write_text(test)
    return folder


def test_reads_the_given_split_with_ids_as_given(tmp_path):
    split = load_gowalla(_write(tmp_path, "0 0 1 2\n1 2 3\n", "0 4\n1 0\n"), name="toy")
    assert (split.num_users, split.num_items, split.name) == (2, 5, "toy")
    assert split.valid.nnz == 0
    np.testing.assert_array_equal(split.train.indptr, [0, 3, 5])
    np.testing.assert_array_equal(split.train.indices, [0, 1, 2, 2, 3])
    np.testing.assert_array_equal(split.test.indices, [4, 0])
    np.testing.assert_array_equal(split.item_ids, np.arange(5))


@pytest.mark.parametrize(
    "train, test, where, fragment",
    [
        ("0 1\n1\n", "0 0\n", "train.txt, line 2", "user 1 has no items"),
        ("0 1\n1 0\n0 2\n", "0 0\n", "train.txt, line 3", "user 0 already has a line (line 1)"),
        ("0 1\n2 0\n", "0 0\n", "train.txt", "user ids are not contiguous"),
        ("0 1\n1 0\n", "2 0\n", "test.txt", "user 2 has no train line"),
        ("0 0\n1 0\n", "0 2\n", "", "item ids are not contiguous"),
    ],
)
def test_bad_files_raise_with_location(tmp_path, train, test, where, fragment):
    with pytest.raises(DataFormatError) as caught:
        load_gowalla(_write(tmp_path, train, test))
    assert where in str(caught.value) and fragment in str(caught.value)


def test_missing_file(tmp_path):
    (tmp_path / "train.txt").write_text("0 0\n")
    with pytest.raises(DataNotFoundError, match="test.txt does not exist"):
        load_gowalla(tmp_path)


def test_counts_of_the_shared_copy(shared_data_dir):
    split = load_gowalla(shared_data_dir / "gowalla")
    assert (split.num_users, split.num_items) == (29_858, 40_981)
    assert (split.train.nnz, split.valid.nnz, split.test.nnz) == (810_128, 0, 217_242)
