"""RDLoss: rank-weighted log σ on the teacher's top-K, static and dynamic (probe) weights."""

import math

import numpy as np
import pytest

from kdtfrs._keras import tf
from kdtfrs.losses import RDLoss, rd_dynamic_weights, rd_loss
from tests.losses import loss_checks as checks


def naive_dynamic_weights(labels, logits, real, num_items, mu):
    """RD's w^b per entry of one row: probes are the real label-0 entries."""
    order = checks.teacher_order(labels, real)
    ranked = order[labels[order] > 0]
    probes = logits[order[labels[order] == 0]]
    weights = np.ones(len(labels))
    if len(probes):
        for rank, item in enumerate(ranked):  # rank = r - 1
            above = sum(probe > logits[item] for probe in probes)
            estimated = math.floor((num_items - 1) * above / len(probes)) + 1
            weights[item] = max(math.tanh(mu * (estimated - rank)), 0.0)
    return weights


def reference(y_true, y_pred, mask, rank_temperature=1.0, weights=None, num_items=None,
              mu=0.1):
    losses = np.zeros(len(y_true))
    for row, (labels, logits, real) in enumerate(zip(y_true, y_pred, mask)):
        order = checks.teacher_order(labels, real)
        ranked = order[labels[order] > 0]
        rank_weights = np.exp(-np.arange(1, len(ranked) + 1) / rank_temperature)
        rank_weights /= rank_weights.sum()
        item_weights = None if weights is None else weights[row]
        if num_items is not None:
            item_weights = naive_dynamic_weights(labels, logits, real, num_items, mu)
        if item_weights is not None:
            rank_weights = rank_weights * item_weights[ranked]
            total = rank_weights.sum()
            rank_weights = rank_weights / total if total > 0 else rank_weights
        losses[row] = -(rank_weights * checks.log_sigmoid(logits[ranked])).sum()
    return losses


@pytest.mark.parametrize("rank_temperature", [1.0, 0.01, 5.0])
def test_matches_numpy_reference(rank_temperature):
    checks.assert_matches_reference(
        RDLoss(rank_temperature=rank_temperature),
        lambda t, p, m: reference(t, p, m, rank_temperature),
        *checks.relevance_inputs(seed=81, unranked=0),
    )


@pytest.mark.parametrize("num_items, mu", [(40, 0.1), (7, 2.0)])
def test_probes_give_the_dynamic_weights(num_items, mu):
    y_true, y_pred, _ = checks.relevance_inputs(seed=86, rows=5, ranked=5, unranked=6)
    y_true[0, y_true[0] == 0] = -1.0  # a row without probes: static weights
    checks.assert_matches_reference(
        RDLoss(rank_temperature=2.0, mu=mu, num_items=num_items),
        lambda t, p, m: reference(t, p, m, 2.0, num_items=num_items, mu=mu),
        y_true, y_pred,
    )
    static = checks.per_row(RDLoss(2.0), y_true[:1], y_pred[:1])
    np.testing.assert_allclose(
        checks.per_row(RDLoss(2.0, mu, num_items), y_true[:1], y_pred[:1]), static, rtol=1e-6
    )


def test_dynamic_weights_match_a_loop_in_any_list_order():
    rng = np.random.default_rng(0)
    ranked, probes = 7, 11
    labels = np.concatenate([ranked - np.arange(ranked), np.zeros(probes), [-1.0]])
    labels = np.tile(labels, (5, 1))
    logits = rng.normal(size=labels.shape)
    logits[0, 0] = logits[0, ranked + 3]  # a tie counts as not above
    for row in range(1, 5):
        permutation = rng.permutation(labels.shape[1])
        labels[row], logits[row] = labels[row, permutation], logits[row, permutation]
    labels, logits = labels.astype(np.float32), logits.astype(np.float32)
    mask = np.ones(labels.shape, bool)
    for mu in (0.1, 2.0):
        weights = rd_dynamic_weights(labels, logits, mask, 40.0, mu).numpy()
        for row in range(5):
            expected = naive_dynamic_weights(labels[row].astype(float),
                                             logits[row].astype(float), mask[row], 40, mu)
            is_ranked = labels[row] > 0
            np.testing.assert_allclose(weights[row, is_ranked], expected[is_ranked],
                                       rtol=1e-5, atol=1e-7)


def test_probes_without_num_items_are_refused():
    y_true, y_pred, _ = checks.relevance_inputs(seed=87)
    with pytest.raises(tf.errors.InvalidArgumentError, match="RDLoss: y_true holds probe"):
        RDLoss()(y_true, y_pred)


def test_per_item_weights_are_multiplied_and_renormalised():
    y_true, y_pred, _ = checks.relevance_inputs(seed=82)
    weights = np.random.default_rng(82).random(y_true.shape).astype(np.float32)
    weights[0] = 0.0  # all products zero: the row contributes 0
    mask = np.ones(y_true.shape, bool)
    logits = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        losses = rd_loss(y_true, logits, mask, 2.0, weights=weights)
        total = tf.reduce_sum(losses)
    expected = reference(y_true.astype(float), y_pred.astype(float), mask, 2.0, weights)
    np.testing.assert_allclose(losses.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert losses.numpy()[0] == 0.0
    np.testing.assert_allclose(
        tape.gradient(total, logits).numpy(),
        checks.numeric_gradient(lambda t, p, m: reference(t, p, m, 2.0, weights), y_true,
                                y_pred),
        rtol=1e-3,
        atol=1e-5,
    )


@pytest.mark.parametrize("num_items", [None, 30])
def test_padding_changes_nothing(num_items):
    y_true, y_pred, _ = checks.relevance_inputs(seed=83, rows=3, padded=0,
                                                unranked=0 if num_items is None else 4)
    padded = checks.with_padding(y_true, y_pred, seed=83)
    checks.assert_padding_changes_nothing(RDLoss(2.0, 0.5, num_items), y_true, y_pred, *padded)


def test_keras_contract():
    checks.assert_keras_contract(RDLoss(rank_temperature=2.0, mu=0.3, num_items=50),
                                 *checks.relevance_inputs(seed=84))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(
        two_replica_strategy, RDLoss(num_items=20), *checks.relevance_inputs(seed=85)
    )
