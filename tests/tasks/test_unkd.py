"""UnKD: teacher-ordered item pairs drawn within popularity groups."""

import numpy as np
import pytest

from kdtfrs.data import popularity_groups
from kdtfrs.tasks import UnKD
from kdtfrs.tasks.unkd import group_pair_counts
from tests.tasks import task_checks as checks


def _naive_pair_counts(popularity, groups, num_groups, total, exponent):
    means = [np.mean([popularity[i] for i in range(len(groups)) if groups[i] == g])
             for g in range(num_groups)]
    raw = [max(means) + min(means) - m for m in means]
    ratios = [max(round(r / sum(raw), 2), 0.1) ** exponent for r in raw]
    ratios = [r / sum(ratios) for r in ratios]
    counts = [round(r * total) for r in ratios]
    short = total - sum(counts)
    return [c + (1 if g < short else 0) for g, c in enumerate(counts)]


@pytest.mark.parametrize("num_groups, total, exponent",
                         [(2, 2, 0.0), (4, 30, 0.0), (3, 7, 1.0), (4, 30, 2.0), (4, 3, 0.5)])
def test_group_pair_counts_match_a_loop(train, num_groups, total, exponent):
    popularity = train.item_popularity()
    groups = popularity_groups(train, num_groups)
    found = int(groups.max()) + 1
    counts = group_pair_counts(popularity, groups, found, total, exponent)
    np.testing.assert_array_equal(
        counts, _naive_pair_counts(popularity, groups, found, total, exponent))
    assert counts.sum() >= total


def test_group_pair_counts_weights_unpopular_groups_up():
    popularity = np.array([10, 10, 6, 2, 1, 1])
    groups = np.array([0, 0, 1, 2, 2, 2])
    counts = group_pair_counts(popularity, groups, 3, 30, exponent=1.0)
    assert counts[0] < counts[1] < counts[2]
    # Rounding half to even may overshoot, as in the reference: two equal groups, 3 pairs.
    equal = group_pair_counts(np.array([5, 5, 1, 1]), np.array([0, 1, 0, 1]), 2, 3, 0.0)
    np.testing.assert_array_equal(equal, [2, 2])


@pytest.fixture(scope="module")
def unkd(signals, train):
    method = UnKD(weight=0.6, num_groups=3, num_pairs=7, rank_temperature=4.0, max_rank=12)
    method.prepare(signals, train)
    return method


def test_pairs_are_teacher_ordered_within_one_group(unkd, train, teacher, features):
    items, labels = checks.numpy_targets(unkd, features)
    users = features["user"].numpy()
    assert items.shape == labels.shape == (users.size, unkd.pair_counts.sum(), 2)
    valid = (labels >= 0).all(axis=-1)
    assert valid.mean() > 0.5
    np.testing.assert_array_equal(labels[~valid], -1.0)  # both entries padded, by -1
    assert np.isfinite(labels).all()
    np.testing.assert_array_equal(valid, items[..., 0] != items[..., 1])
    groups = popularity_groups(train, 3)
    assert (groups[items[..., 0]] == groups[items[..., 1]]).all()
    group_of_pair = np.repeat(np.arange(len(unkd.pair_counts)), unkd.pair_counts)
    assert (groups[items] == group_of_pair[None, :, None]).all()
    seen = checks.dense(train)[users[:, None, None], items]
    assert not seen[valid].any()
    scores = checks.model_scores(teacher)[users[:, None, None], items]
    assert (scores[..., 0] > scores[..., 1])[valid].all()
    assert (labels[..., 0] > labels[..., 1])[valid].all()


def test_equal_positions_are_padding(signals, train, features, student):
    """With a tiny rank temperature both draws are position 0: every pair is padding."""
    method = UnKD(num_groups=2, num_pairs=3, rank_temperature=1e-3, max_rank=12)
    method.prepare(signals, train)
    _, labels = checks.numpy_targets(method, features)
    np.testing.assert_array_equal(labels, -1.0)
    np.testing.assert_array_equal(method.per_row_loss(features, student, checks.SEED).numpy(), 0)


def test_unkd_contract(unkd, features, student, teacher):
    checks.assert_targets_deterministic(unkd, features)
    checks.assert_loss_trains_student_only(unkd, features, student, teacher)
    checks.assert_weighted_is_weight_times_per_row(unkd, features, student)
    checks.assert_config_round_trip(unkd)


def test_keeping_training_items_is_refused():
    with pytest.raises(ValueError, match="exclude_train=False is not supported"):
        UnKD(exclude_train=False)
