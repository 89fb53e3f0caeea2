"""Tests of Interactions and the raw id -> index maps."""

import numpy as np
import pytest

from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.interactions import Interactions, index_ids


@pytest.mark.parametrize(
    "raw",
    [np.array([30, 10, 20, 10]), np.array(["u30", "u10", "u20", "u10"]), [2.5, 1.5, 2.5, 0.5]],
)
def test_index_ids_round_trips_and_is_contiguous(raw):
    indices, ids = index_ids(raw)
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(ids[indices], np.asarray(raw))
    assert set(indices.tolist()) == set(range(len(ids)))
    assert len(ids) == len(set(np.asarray(raw).tolist()))


def test_index_ids_keeps_contiguous_int_ids_and_ignores_input_order():
    indices, ids = index_ids(np.array([2, 0, 1, 2]))
    np.testing.assert_array_equal(indices, [2, 0, 1, 2])
    np.testing.assert_array_equal(ids, [0, 1, 2])
    _, shuffled_ids = index_ids(np.array([1, 2, 0]))
    np.testing.assert_array_equal(shuffled_ids, ids)


def test_index_ids_rejects_mixed_types():
    with pytest.raises(DataFormatError, match="mixed types"):
        index_ids(np.array([1, "a"], dtype=object))


def test_from_raw_defaults_order_to_position_and_checks_lengths():
    data = Interactions.from_raw(["b", "a"], [5, 7])
    assert (data.num_users, data.num_items, len(data)) == (2, 2, 2)
    np.testing.assert_array_equal(data.order, [0.0, 1.0])
    np.testing.assert_array_equal(data.user_ids[data.users], ["b", "a"])
    with pytest.raises(DataFormatError, match="same length"):
        Interactions.from_raw([1, 2], [1])


def test_constructor_rejects_out_of_range_indices():
    with pytest.raises(DataFormatError, match=r"users must lie in \[0, 2\)"):
        Interactions(np.array([0, 2]), np.array([0, 0]), np.zeros(2), np.arange(2), np.arange(1))


def test_min_user_interactions_drops_users_then_unused_items():
    data = Interactions.from_raw(["a", "a", "b", "c", "c"], [1, 2, 3, 1, 2], order=[5, 4, 3, 2, 1])
    kept = data.with_min_user_interactions(2)
    np.testing.assert_array_equal(kept.user_ids, ["a", "c"])
    np.testing.assert_array_equal(kept.item_ids, [1, 2])
    pairs = sorted(zip(kept.user_ids[kept.users], kept.item_ids[kept.items], kept.order))
    assert pairs == [("a", 1, 5.0), ("a", 2, 4.0), ("c", 1, 2.0), ("c", 2, 1.0)]


def test_deduplicated_keeps_the_earliest_of_each_pair():
    data = Interactions.from_raw([1, 1, 1, 2], [7, 8, 7, 7], order=[5.0, 1.0, 2.0, 9.0])
    unique = data.deduplicated()
    np.testing.assert_array_equal(unique.order, [1.0, 2.0, 9.0])
    np.testing.assert_array_equal(unique.item_ids[unique.items], [8, 7, 7])
