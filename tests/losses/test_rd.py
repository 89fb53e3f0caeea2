"""RD: rank-weighted log σ on the teacher's top-K, static and dynamic weights."""

import numpy as np
import pytest

from kdtfrs._keras import tf
from kdtfrs.losses import RD, rd_loss
from tests.losses import loss_checks as checks


def reference(y_true, y_pred, rank_temperature=1.0, dynamic_weights=None):
    losses = np.zeros(len(y_true))
    for row, (labels, logits) in enumerate(zip(y_true, y_pred)):
        order = checks.teacher_order(labels)
        ranked = order[labels[order] > 0]
        weights = np.exp(-np.arange(1, len(ranked) + 1) / rank_temperature)
        weights /= weights.sum()
        if dynamic_weights is not None:
            weights = weights * dynamic_weights[row, ranked]
            weights = weights / weights.sum() if weights.sum() > 0 else weights
        losses[row] = -(weights * checks.log_sigmoid(logits[ranked])).sum()
    return losses


@pytest.mark.parametrize("rank_temperature", [1.0, 0.01, 5.0])
def test_matches_numpy_reference(rank_temperature):
    checks.assert_matches_reference(
        RD(rank_temperature=rank_temperature),
        *checks.relevance_inputs(seed=81),
        lambda t, p: reference(t, p, rank_temperature),
    )


def test_dynamic_weights_are_multiplied_and_renormalised():
    y_true, y_pred = checks.relevance_inputs(seed=82)
    dynamic = np.random.default_rng(82).random(y_true.shape).astype(np.float32)
    dynamic[0] = 0.0  # all products zero: the row contributes 0
    mask = np.isfinite(y_true)
    logits = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        losses = rd_loss(y_true, logits, mask, 2.0, dynamic_weights=dynamic)
        total = tf.reduce_sum(losses)
    expected = reference(y_true.astype(float), y_pred.astype(float), 2.0, dynamic)
    np.testing.assert_allclose(losses.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert losses.numpy()[0] == 0.0
    np.testing.assert_allclose(
        tape.gradient(total, logits).numpy(),
        checks.numeric_gradient(lambda t, p: reference(t, p, 2.0, dynamic), y_true, y_pred),
        rtol=1e-3,
        atol=1e-5,
    )


def test_padding_changes_nothing():
    y_true, y_pred = checks.relevance_inputs(seed=83, rows=3, padded=0)
    padded = checks.with_padding(y_true, y_pred, seed=83)
    checks.assert_padding_changes_nothing(RD(2.0), y_true, y_pred, *padded)


def test_keras_contract():
    checks.assert_keras_contract(RD(rank_temperature=2.0), *checks.relevance_inputs(seed=84))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(two_replica_strategy, RD(), *checks.relevance_inputs(seed=85))
