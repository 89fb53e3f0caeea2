"""DCD: under- and over-estimated items of the teacher's list, from the student's ranks."""

import math

import numpy as np
import pytest

from kdtfrs.tasks import DCD
from kdtfrs.tasks.dcd import correction_logits
from tests.tasks import task_checks as checks

MAX_RANK = 20


def _naive_correction_logits(student_scores, temperature):
    """d(r) = (rank of the r-th listed item by student score among the list) - r, per user."""
    under = np.zeros(student_scores.shape)
    over = np.zeros(student_scores.shape)
    for user, scores in enumerate(student_scores.tolist()):
        for r, score in enumerate(scores):
            student_rank = sum(other > score for other in scores)
            student_rank += sum(other == score for other in scores[:r])  # stable ties
            d = (student_rank - r) / temperature
            under[user, r] = math.log(max(math.tanh(max(d, 0.0)), 1e-5))
            over[user, r] = math.log(max(math.tanh(max(-d, 0.0)), 1e-5))
    return under, over


def test_correction_logits_match_a_loop():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(6, 9))
    scores[2, 4] = scores[2, 1]  # a tie
    for temperature in (1.0, 4.0):
        under, over = correction_logits(scores, temperature)
        assert under.dtype == over.dtype == np.float32
        expected_under, expected_over = _naive_correction_logits(scores, temperature)
        np.testing.assert_allclose(under, expected_under, rtol=1e-5)
        np.testing.assert_allclose(over, expected_over, rtol=1e-5)


@pytest.fixture(scope="module")
def dcd(signals, train, student):
    method = DCD(weight=0.4, num_items=4, temperature=2.0, max_rank=MAX_RANK)
    method.prepare(signals, train)
    method.refresh(student, epoch=0)
    return method


def test_refresh_sets_logits_from_the_student_ranks(dcd, signals, student):
    ranked = signals.top_items(MAX_RANK)
    scores = checks.model_scores(student)[np.arange(ranked.shape[0])[:, None], ranked]
    under, over = _naive_correction_logits(scores, 2.0)
    np.testing.assert_allclose(dcd.under_logits.numpy(), under, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dcd.over_logits.numpy(), over, rtol=1e-4, atol=1e-5)
    assert int(dcd.epoch.numpy()) == 0


def test_under_and_over_items_come_from_the_list(dcd, signals, features):
    items, labels = checks.numpy_targets(dcd, features)
    users = features["user"].numpy()
    assert items.shape == labels.shape == (users.size, 8)
    positions = checks.position_in(signals.top_items(MAX_RANK), users, items)
    assert (positions >= 0).all()
    under, over = positions[:, :4], positions[:, 4:]
    assert np.all(np.diff(under, axis=1) > 0)  # distinct, in teacher order
    assert all(len(set(row)) == 4 for row in over.tolist())
    np.testing.assert_array_equal(labels[:, :4], MAX_RANK - under)
    np.testing.assert_array_equal(labels[:, 4:], 0.0)
    # Mostly drawn where the student under- / over-estimates (weights tanh(d/T) vs 1e-5).
    rows = np.arange(users.size)[:, None]
    under_logits, over_logits = dcd.under_logits.numpy()[users], dcd.over_logits.numpy()[users]
    assert (under_logits[rows, under] > np.log(1e-5)).mean() > 0.9
    assert (over_logits[rows, over] > np.log(1e-5)).mean() > 0.9


def test_dcd_contract(dcd, features, student, teacher):
    assert dcd.needs_refresh
    checks.assert_targets_deterministic(dcd, features)
    checks.assert_loss_trains_student_only(dcd, features, student, teacher)
    checks.assert_weighted_is_weight_times_per_row(dcd, features, student)
    checks.assert_config_round_trip(dcd)


def test_num_items_cannot_exceed_max_rank():
    with pytest.raises(ValueError, match=r"num_items \(30\).*max_rank \(20\)"):
        DCD(num_items=30, max_rank=20)
