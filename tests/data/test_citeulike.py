"""Tests of the CiteULike users.dat loader."""

import numpy as np
import pytest

from kdtfrs.data.citeulike import load_citeulike
from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.split import split_leave_one_out, split_ordered


def test_line_k_is_user_k_and_order_follows_the_line(tmp_path):
    (tmp_path / "users.dat").write_text("2 9 4\n3 4 7 9\n1 8")
    data = load_citeulike(tmp_path, name="tiny")
    assert (data.num_users, data.num_items, len(data), data.name) == (3, 4, 6, "tiny")
    np.testing.assert_array_equal(data.user_ids[data.users], [0, 0, 1, 1, 1, 2])
    np.testing.assert_array_equal(data.item_ids[data.items], [9, 4, 4, 7, 9, 8])
    assert np.all(np.diff(data.order) > 0)


def test_min_user_interactions_drops_short_users_and_their_only_items(tmp_path):
    (tmp_path / "users.dat").write_text("2 9 4\n3 4 7 9\n1 8\n")
    data = load_citeulike(tmp_path / "users.dat", min_user_interactions=3)
    np.testing.assert_array_equal(data.user_ids, [1])
    np.testing.assert_array_equal(data.item_ids, [4, 7, 9])


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("2 1 2\n3 1 2\n", 2, "declares 3 items but 2 follow"),
        ("2 1 2\n\n1 1\n", 2, "the line is empty"),
        ("2 1 2\n1 a\n", 2, "unexpected character 'a'"),
    ],
)
def test_malformed_lines_are_reported_with_file_and_line(tmp_path, text, line, fragment):
    path = tmp_path / "users.dat"
    path.write_text(text)
    with pytest.raises(DataFormatError) as caught:
        load_citeulike(path)
    assert f"{path}, line {line}:" in str(caught.value) and fragment in str(caught.value)


def test_citeulike_t_5_core_matches_the_kd_papers(shared_data_dir):
    raw = load_citeulike(shared_data_dir / "citeulike-t")
    assert (raw.num_users, raw.num_items, len(raw)) == (7947, 25584, 134_860)
    data = load_citeulike(shared_data_dir / "citeulike-t", min_user_interactions=5)
    assert (data.num_users, data.num_items, len(data)) == (5219, 25181, 125_580)
    split = split_ordered(data)
    assert (split.train.nnz, split.valid.nnz, split.test.nnz) == (98_405, 12_451, 14_724)  # KDs
    assert split_leave_one_out(data).train.nnz == 115_142  # DE-RRD's LOO train matrix


def test_citeulike_a_counts(shared_data_dir):
    data = load_citeulike(shared_data_dir / "citeulike-a")
    assert (data.num_users, data.num_items, len(data)) == (5551, 16980, 204_986)
