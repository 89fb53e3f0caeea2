"""Tests of the UnKD popularity grouping against a plain item-by-item reference."""

import numpy as np
import pytest

from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.data.popularity import popularity_groups
from kdtfrs.data.synthetic import make_synthetic


def _reference_groups(popularity, num_groups):
    """The greedy rule of METHODS.md 2.3, one item at a time (written apart from the library)."""
    quota = popularity.sum() / num_groups
    order = sorted(range(len(popularity)), key=lambda item: (-popularity[item], item))
    groups, current, current_count = [], [], 0
    for item in order:
        current.append(item)
        current_count += popularity[item]
        if current_count > quota:
            if len(current) == 1:
                groups.append(current)
                current, current_count = [], 0
            else:
                current.pop()
                groups.append(current)
                current, current_count = [item], popularity[item]
    if current:
        if current_count > quota / 2 or not groups:
            groups.append(current)
        else:
            groups[-1].extend(current)
    result = np.empty(len(popularity), dtype=np.int32)
    for group, items in enumerate(groups):
        result[items] = group
    return result


def _matrix_with_popularity(popularity):
    items = np.repeat(np.arange(len(popularity)), popularity)
    users = np.concatenate([np.arange(count) for count in popularity]).astype(np.int64)
    return InteractionMatrix.from_pairs(users, items, max(popularity), len(popularity))


@pytest.mark.parametrize(
    "popularity, num_groups, expected",
    [
        ([4, 3, 2, 1], 2, [0, 1, 1, 1]),  # quota 5: {4}, then {3, 2} + remainder {1} merged
        ([9, 1, 1, 1, 1], 2, [0, 1, 1, 1, 1]),  # an item above the quota (6.5) stands alone
        ([9, 1, 1, 1], 2, [0, 0, 0, 0]),  # remainder 3 is not above quota / 2 = 3: merged
        ([3, 3, 3, 3], 2, [0, 0, 1, 1]),
        ([2, 2, 2, 0], 3, [0, 1, 2, 2]),  # an unseen item joins the last group
    ],
)
def test_hand_cases(popularity, num_groups, expected):
    groups = popularity_groups(_matrix_with_popularity(popularity), num_groups)
    assert groups.dtype == np.int32
    np.testing.assert_array_equal(groups, expected)


@pytest.mark.parametrize("num_groups", [1, 2, 4, 7])
def test_matches_the_reference_on_synthetic_data(num_groups):
    data = make_synthetic(num_users=300, num_items=200, seed=num_groups)
    train = InteractionMatrix.from_pairs(data.users, data.items, data.num_users, data.num_items)
    groups = popularity_groups(train, num_groups)
    np.testing.assert_array_equal(groups, _reference_groups(train.item_popularity(), num_groups))
    mean_popularity = np.bincount(groups, weights=train.item_popularity()) / np.bincount(groups)
    assert np.all(np.diff(mean_popularity) <= 0)  # group 0 is the most popular


def test_bad_arguments():
    with pytest.raises(DataFormatError, match="num_groups"):
        popularity_groups(_matrix_with_popularity([1, 1]), 0)
    with pytest.raises(DataFormatError, match="empty"):
        popularity_groups(InteractionMatrix.from_pairs([], [], 1, 3), 2)
