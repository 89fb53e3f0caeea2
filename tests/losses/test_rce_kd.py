"""RCE-KD: adaptive mix of CE on the student's top-K and CE on the closure-extended set."""

import numpy as np
import pytest

from kdtfrs._keras import tf
from kdtfrs.losses import RCEKD, rce_kd_loss
from tests.losses import loss_checks as checks

K, L = 3, 2
CONFIGS = [{}, {"temperature": 2.0, "beta": 0.5}]


def list_inputs(seed, rows=4, padding=True):
    """y_true [rows, 2K+L, 2] (teacher score, item id), y_pred [rows, 2K+L]. Ids come from a
    small catalogue, so Q^S, Q^T and C overlap; an item has one score per row."""
    rng = np.random.default_rng(seed)
    catalogue = 7
    teacher = rng.normal(scale=2.0, size=(rows, catalogue))
    student = rng.normal(size=(rows, catalogue))
    ids = np.stack(
        [
            np.concatenate([rng.choice(catalogue, n, replace=False) for n in (K, K, L)])
            for _ in range(rows)
        ]
    )
    scores = np.take_along_axis(teacher, ids, axis=1)
    y_pred = np.take_along_axis(student, ids, axis=1)
    ids = ids.astype(np.float64)
    if padding:
        scores[0, K + 1] = ids[1, 2 * K] = checks.NAN  # in Q^T (score) and C (id)
        scores[2, :K] = checks.NAN  # Q^S all padding
        y_pred[0, K + 1], y_pred[1, 2 * K], y_pred[2, :K] = checks.NAN, checks.NAN, 1e30
    return np.stack([scores, ids], axis=-1).astype(np.float32), y_pred.astype(np.float32)


def cross_entropy(teacher, student):
    if len(teacher) == 0:
        return 0.0
    return -(np.exp(checks.log_softmax(teacher)) * checks.log_softmax(student)).sum()


def reference(y_true, y_pred, temperature=1.0, beta=3.0):
    losses = np.zeros(len(y_true))
    for row, (entries, logits) in enumerate(zip(y_true, y_pred)):
        real = np.all(np.isfinite(entries), axis=-1)
        t, s, ids = entries[:, 0] / temperature, logits / temperature, entries[:, 1]
        q_s = [i for i in range(K) if real[i]]
        q_t = [i for i in range(K, 2 * K) if real[i]]
        closure = [i for i in range(2 * K, 2 * K + L) if real[i]]
        closure_ids, student_ids = {ids[i] for i in closure}, {ids[i] for i in q_s}
        a = closure + [i for i in q_t if ids[i] not in closure_ids | student_ids]
        overlap = np.mean([ids[i] in closure_ids for i in q_t]) if q_t else 0.0
        gamma = np.exp(-beta * overlap)
        losses[row] = (1 - gamma) * cross_entropy(t[q_s], s[q_s]) + gamma * cross_entropy(
            t[a], s[a]
        )
    return losses


@pytest.mark.parametrize("config", CONFIGS)
def test_matches_numpy_reference(config):
    checks.assert_matches_reference(
        RCEKD(K, L, **config), *list_inputs(seed=101), lambda t, p: reference(t, p, **config)
    )


def test_pure_function_takes_integer_ids_beyond_float32_precision():
    y_true, y_pred = list_inputs(seed=102, padding=False)
    ids = y_true[..., 1].astype(np.int64) + 2**40
    mask = np.ones(y_pred.shape, bool)
    losses = rce_kd_loss(y_true[..., 0], y_pred, mask, tf.constant(ids), K, L)
    expected = checks.per_row(RCEKD(K, L), y_true, y_pred)
    np.testing.assert_allclose(losses.numpy(), expected, rtol=1e-6)


def test_padding_changes_nothing():
    y_true, y_pred = list_inputs(seed=103, rows=3, padding=False)
    sections = [slice(0, K), slice(K, 2 * K), slice(2 * K, None)]
    parts = [
        checks.with_padding(y_true[:, section], y_pred[:, section], seed=103 + index)
        for index, section in enumerate(sections)
    ]
    padded_true = np.concatenate([part[0] for part in parts], axis=1)
    padded_pred = np.concatenate([part[1] for part in parts], axis=1)
    checks.assert_padding_changes_nothing(
        RCEKD(K, L), y_true, y_pred, padded_true, padded_pred, padded_loss=RCEKD(K + 2, L + 2)
    )


def test_keras_contract():
    checks.assert_keras_contract(RCEKD(K, L, **CONFIGS[1]), *list_inputs(seed=104))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(two_replica_strategy, RCEKD(K, L), *list_inputs(seed=105))


def test_rejects_a_list_of_the_wrong_width():
    y_true, y_pred = list_inputs(seed=106)
    with pytest.raises(ValueError, match="received 8"):
        RCEKD(K, L + 1)(y_true, y_pred)
    with pytest.raises(ValueError, match=r"y_true must be \[B, 2K\+L, 2\]"):
        RCEKD(K, L)(y_true[..., 0], y_pred)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_top": 0}, "num_top=0"),
        ({"num_closure": 2.5}, "num_closure=2.5"),
        ({"beta": -1}, "beta=-1"),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RCEKD(**{"num_top": K, "num_closure": L, **kwargs})
