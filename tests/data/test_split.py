"""Tests of the per-user splits: invariants, the floor rule on hand cases, determinism."""

import numpy as np
import pytest

from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.interactions import Interactions
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.data.split import (SplitData, hold_out_validation, split_leave_one_out,
                               split_ordered, split_random)
from kdtfrs.data.synthetic import make_synthetic


def _pairs(matrix):
    users, items = matrix.to_pairs()
    return set(zip(users.tolist(), items.tolist()))


def _reference_sizes(n, a=0.8, b=0.1):
    """Independent scalar statement of the floor rule, one user at a time."""
    train = max(int(np.floor(a * n + 1e-9)), 1)
    valid_end = max(int(np.floor((a + b) * n + 1e-9)), train)
    return train, valid_end - train, n - valid_end


@pytest.mark.parametrize("split", [split_random, split_ordered, split_leave_one_out])
def test_parts_are_disjoint_cover_everything_and_keep_a_train_item(split):
    data = make_synthetic(num_users=60, num_items=80, mean_interactions_per_user=9, seed=3)
    result = split(data)
    train, valid, test = (_pairs(m) for m in (result.train, result.valid, result.test))
    assert not (train & valid or train & test or valid & test)
    assert train | valid | test == set(zip(data.users.tolist(), data.items.tolist()))
    assert (result.train.row_lengths() >= 1).all()
    assert (result.num_users, result.num_items) == (60, 80)


@pytest.mark.parametrize("split", [split_random, split_ordered])
def test_per_user_sizes_follow_the_floor_rule(split):
    data = make_synthetic(num_users=50, num_items=100, mean_interactions_per_user=12, seed=1)
    result = split(data)
    counts = np.bincount(data.users, minlength=data.num_users)
    expected = np.array([_reference_sizes(n) for n in counts])
    sizes = np.stack([m.row_lengths() for m in (result.train, result.valid, result.test)], axis=1)
    np.testing.assert_array_equal(sizes, expected)


def test_ordered_split_on_a_hand_case():
    # user "a": 10 items given out of time order, user "b": 5 items, user "c": 1 item.
    times = [9, 0, 8, 1, 7, 2, 6, 3, 5, 4]
    users = ["a"] * 10 + ["b"] * 5 + ["c"]
    items = list(range(10)) + [0, 1, 2, 3, 4] + [5]
    order = times + [0, 1, 2, 3, 4] + [0]
    result = split_ordered(Interactions.from_raw(users, items, order=order))
    assert result.train.row(0).tolist() == [1, 3, 4, 5, 6, 7, 8, 9]  # times 0..7
    assert result.valid.row(0).tolist() == [2]  # time 8
    assert result.test.row(0).tolist() == [0]  # time 9
    assert (
        result.train.row(1).tolist(),
        result.valid.row(1).tolist(),
        result.test.row(1).tolist(),
    ) == ([0, 1, 2, 3], [], [4])
    assert (result.train.row(2).tolist(), result.test.row(2).tolist()) == ([5], [])


def test_leave_one_out_by_order_and_short_users():
    users = [0, 0, 0, 0, 1, 1, 2]
    items = [0, 1, 2, 3, 0, 1, 2]
    order = [3, 1, 0, 2, 5, 4, 0]
    result = split_leave_one_out(Interactions.from_raw(users, items, order=order))
    assert [result.train.row(u).tolist() for u in range(3)] == [[1, 2], [1], [2]]
    assert [result.valid.row(u).tolist() for u in range(3)] == [[3], [], []]
    assert [result.test.row(u).tolist() for u in range(3)] == [[0], [0], []]


def test_ties_in_order_keep_the_array_order_and_duplicates_collapse():
    data = Interactions.from_raw([0] * 5, [4, 3, 2, 1, 4], order=[0, 0, 0, 0, 9])
    result = split_leave_one_out(data)
    assert result.item_ids[result.test.row(0)].tolist() == [1]  # the last of the tied items
    assert result.item_ids[result.valid.row(0)].tolist() == [2]
    assert result.train.nnz + result.valid.nnz + result.test.nnz == 4


def test_random_split_is_seeded():
    data = make_synthetic(num_users=40, num_items=60, mean_interactions_per_user=10, seed=0)
    first, again, other = (
        split_random(data, seed=7),
        split_random(data, seed=7),
        split_random(data, seed=8),
    )
    assert _pairs(first.test) == _pairs(again.test)
    assert _pairs(first.test) != _pairs(other.test)


@pytest.mark.parametrize("ratios", [(0.8, 0.1), (0.5, 0.6, -0.1), (0.0, 0.5, 0.5), (0.8, 0.1, 0.2)])
def test_bad_ratios_are_rejected(ratios):
    data = Interactions.from_raw([0, 0], [0, 1])
    with pytest.raises(DataFormatError, match="ratios must be"):
        split_random(data, ratios=ratios)


def test_split_data_checks_shapes():
    matrix = InteractionMatrix.from_pairs([0], [0], 1, 2)
    with pytest.raises(DataFormatError, match="SplitData.train has shape"):
        SplitData(matrix, matrix, matrix, np.arange(2), np.arange(2))


def _without_validation(seed=5):
    data = make_synthetic(num_users=50, num_items=90, mean_interactions_per_user=14, seed=seed)
    split = split_random(data, ratios=(0.8, 0.0, 0.2), seed=seed)
    assert split.valid.nnz == 0
    return split


def test_hold_out_validation_moves_train_pairs_only_by_the_floor_rule():
    given = _without_validation()
    held = hold_out_validation(given, fraction=0.1, seed=2)
    train, valid = _pairs(held.train), _pairs(held.valid)
    assert not train & valid
    assert train | valid == _pairs(given.train)
    assert _pairs(held.test) == _pairs(given.test)
    expected = np.array([_reference_sizes(n, 0.9, 0.1)[:2] for n in given.train.row_lengths()])
    np.testing.assert_array_equal(
        np.stack([held.train.row_lengths(), held.valid.row_lengths()], axis=1), expected)


def test_hold_out_validation_is_seeded():
    given = _without_validation()
    first, again, other = (hold_out_validation(given, seed=s) for s in (1, 1, 2))
    assert _pairs(first.valid) == _pairs(again.valid)
    assert _pairs(first.valid) != _pairs(other.valid)


def test_hold_out_validation_refuses_a_split_with_validation_or_a_bad_fraction():
    with pytest.raises(DataFormatError, match="already has a validation part"):
        hold_out_validation(split_random(make_synthetic(seed=0)))
    with pytest.raises(DataFormatError, match="fraction must lie in"):
        hold_out_validation(_without_validation(), fraction=1.0)
