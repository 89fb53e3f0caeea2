"""RD: the teacher's top-K with static rank weights, then the dynamic student-rank weights."""

import math

import numpy as np
import pytest

from kdtfrs import losses
from kdtfrs._keras import tf
from kdtfrs.tasks import RD
from kdtfrs.tasks.rd import dynamic_rank_weights
from tests.tasks import task_checks as checks

NUM_ITEMS = 6


def _naive_dynamic_weights(scores, probe_scores, num_items, mu):
    weights = np.zeros(scores.shape)
    for row in range(scores.shape[0]):
        for column in range(scores.shape[1]):  # column = teacher rank r - 1
            above = sum(probe > scores[row, column] for probe in probe_scores[row])
            estimated = math.floor((num_items - 1) * above / len(probe_scores[row])) + 1
            weights[row, column] = max(math.tanh(mu * (estimated - column)), 0.0)
    return weights


def test_dynamic_rank_weights_match_a_loop():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(5, 7)).astype(np.float32)
    probes = rng.normal(size=(5, 11)).astype(np.float32)
    scores[0, 0] = probes[0, 3]  # a tie counts as not above
    for mu in (0.1, 2.0):
        np.testing.assert_allclose(
            dynamic_rank_weights(scores, probes, 40.0, mu).numpy(),
            _naive_dynamic_weights(scores, probes, 40, mu), rtol=1e-5, atol=1e-7)


@pytest.fixture
def rd(signals, train):
    method = RD(weight=0.3, num_items=NUM_ITEMS, rank_temperature=2.0, mu=0.5,
                num_probe_items=9, dynamic_start_epoch=3)
    method.prepare(signals, train)
    return method


def test_targets_are_the_teacher_top_k_with_relevance(rd, signals, features):
    items, labels = checks.numpy_targets(rd, features)
    users = features["user"].numpy()
    np.testing.assert_array_equal(items, signals.top_items(NUM_ITEMS)[users])
    np.testing.assert_array_equal(labels, np.tile(NUM_ITEMS - np.arange(NUM_ITEMS),
                                                  (users.size, 1)))


def test_static_weights_before_the_start_epoch(rd, features, student):
    items, labels = rd.targets(features, checks.SEED)
    static = losses.RD(rank_temperature=2.0, reduction="none")(
        labels, student.score(features["user"], items)).numpy()
    rd.refresh(student, epoch=2)
    np.testing.assert_allclose(rd.per_row_loss(features, student, checks.SEED).numpy(),
                               static, rtol=1e-6)
    rd.refresh(student, epoch=3)
    dynamic = rd.per_row_loss(features, student, checks.SEED).numpy()
    assert np.all(np.isfinite(dynamic)) and not np.allclose(dynamic, static)


def test_dynamic_weights_from_uniform_non_training_probes(rd, features, student, train):
    rd.refresh(student, epoch=5)
    users = features["user"]
    probes = rd.exclusion.sample_uniform_excluding(users, 9, checks.SEED)
    assert not checks.dense(train)[users.numpy()[:, None], probes.numpy()].any()
    items, labels = rd.targets(features, checks.SEED)
    scores = student.score(users, items)
    weights = _naive_dynamic_weights(scores.numpy(), student.score(users, probes).numpy(),
                                     80, 0.5)
    expected = losses.rd_loss(labels, scores, tf.ones_like(scores, tf.bool), 2.0,
                              weights.astype(np.float32))
    np.testing.assert_allclose(rd.per_row_loss(features, student, checks.SEED).numpy(),
                               expected.numpy(), rtol=1e-5)


@pytest.mark.parametrize("epoch", [0, 4])
def test_rd_contract(rd, features, student, teacher, epoch):
    rd.refresh(student, epoch)
    checks.assert_targets_deterministic(rd, features, sampled=False)
    checks.assert_loss_trains_student_only(rd, features, student, teacher)
    checks.assert_weighted_is_weight_times_per_row(rd, features, student)
    checks.assert_config_round_trip(rd)


def test_static_only_without_a_start_epoch(signals, train, features, student):
    method = RD(num_items=NUM_ITEMS, dynamic_start_epoch=None)
    method.prepare(signals, train)
    method.refresh(student, epoch=1000)
    items, labels = method.targets(features, checks.SEED)
    np.testing.assert_allclose(
        method.per_row_loss(features, student, checks.SEED).numpy(),
        losses.RD(reduction="none")(labels, student.score(features["user"], items)).numpy(),
        rtol=1e-6)
    assert checks.assert_config_round_trip(method).dynamic_start_epoch is None
