"""Tests of the MovieLens-100K loader."""

import numpy as np
import pytest

from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.movielens import load_movielens_100k


def test_reads_ids_ratings_and_timestamps(tmp_path):
    (tmp_path / "u.data").write_text("5\t10\t4\t300\n1\t10\t2\t100\n5\t11\t5\t200\n")
    data = load_movielens_100k(tmp_path)
    assert (data.num_users, data.num_items, len(data), data.name) == (2, 2, 3, "movielens-100k")
    np.testing.assert_array_equal(data.user_ids[data.users], [5, 1, 5])
    np.testing.assert_array_equal(data.item_ids[data.items], [10, 10, 11])
    np.testing.assert_array_equal(data.order, [300, 100, 200])
    liked = load_movielens_100k(tmp_path / "u.data", min_rating=4)
    np.testing.assert_array_equal(liked.user_ids, [5])
    assert len(liked) == 2


def test_wrong_number_of_fields_names_the_line(tmp_path):
    path = tmp_path / "u.data"
    path.write_text("1\t2\t3\t4\n1\t2\t3\n")
    with pytest.raises(DataFormatError, match=rf"{path}, line 2: expected 4 values .* got 3"):
        load_movielens_100k(path)


def test_min_rating_that_keeps_nothing_is_an_error(tmp_path):
    (tmp_path / "u.data").write_text("1\t2\t3\t4\n")
    with pytest.raises(DataFormatError, match="min_rating=5"):
        load_movielens_100k(tmp_path, min_rating=5)


def test_counts_of_the_shared_copy(shared_data_dir):
    data = load_movielens_100k(shared_data_dir / "movielens-100k")
    assert (data.num_users, data.num_items, len(data)) == (943, 1682, 100_000)
    np.testing.assert_array_equal(data.user_ids, np.arange(1, 944))
    assert len(load_movielens_100k(shared_data_dir / "movielens-100k", min_rating=4)) == 55_375
