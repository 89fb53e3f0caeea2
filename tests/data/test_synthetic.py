"""Tests of the synthetic dataset: shape, determinism, speed, popularity skew, learnability."""

import time

import numpy as np
import pytest

from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.split import split_random
from kdtfrs.data.synthetic import make_synthetic


def test_defaults_are_fast_deterministic_and_sized():
    start = time.perf_counter()
    data = make_synthetic()
    assert time.perf_counter() - start < 1.0
    assert (data.num_users, data.num_items, data.name) == (2000, 1500, "synthetic")
    assert 22 < len(data) / data.num_users < 28
    assert np.bincount(data.users).min() >= 3
    again = make_synthetic()
    for field in ("users", "items", "order"):
        np.testing.assert_array_equal(getattr(data, field), getattr(again, field))
    assert not np.array_equal(make_synthetic(seed=1).items, data.items)
    assert len(data.deduplicated()) == len(data)


def test_popularity_is_skewed():
    data = make_synthetic()
    popularity = np.sort(np.bincount(data.items, minlength=data.num_items))[::-1]
    top_tenth = popularity[: data.num_items // 10].sum() / popularity.sum()
    assert top_tenth > 0.3  # a uniform catalogue would give 0.1


def _recall_at_20(scores, train, test):
    scores = np.where(train > 0, -np.inf, scores)
    top = np.argpartition(-scores, 20, axis=1)[:, :20]
    hits = np.take_along_axis(test, top, axis=1).sum(axis=1)
    relevant = test.sum(axis=1)
    has_test = relevant > 0
    return np.mean(hits[has_test] / np.minimum(relevant[has_test], 20))


def test_a_low_rank_model_beats_popularity_clearly():
    split = split_random(make_synthetic(num_users=600, num_items=400, num_clusters=8, seed=0))
    train = np.zeros((split.num_users, split.num_items))
    test = np.zeros_like(train)
    train[split.train.to_pairs()] = 1
    test[split.test.to_pairs()] = 1
    popularity = np.broadcast_to(train.sum(axis=0), train.shape)
    _, _, item_factors = np.linalg.svd(train, full_matrices=False)
    low_rank = train @ item_factors[:16].T @ item_factors[:16]  # PureSVD, 16 factors
    assert _recall_at_20(low_rank, train, test) > 1.5 * _recall_at_20(popularity, train, test)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_items": 4},
        {"num_clusters": 0},
        {"mean_interactions_per_user": 0},
        {"cluster_affinity": 2},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(DataFormatError):
        make_synthetic(**kwargs)
