"""UnKDLoss: mean pairwise logistic loss over teacher-ordered pairs."""

import numpy as np

from kdtfrs.losses import UnKDLoss
from tests.losses import loss_checks as checks


def pair_inputs(seed, rows=4, pairs=5, padding=True):
    """(y_true, y_pred, None) float32 [rows, pairs, 2]: relevance >= 0 with some tied pairs
    and, when ``padding``, some pairs with one or both entries padded (relevance < 0)."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 20, size=(rows, pairs, 2)).astype(float)
    y_pred = rng.normal(scale=2.0, size=(rows, pairs, 2))
    y_true[0, 1, 1] = y_true[0, 1, 0]
    y_true[2, :, 1] = y_true[2, :, 0]  # a row of ties only: no valid pair
    if padding:
        y_true[1, 0, 0], y_true[3, 2:, :] = -1.0, -3.0
        y_pred[1, 0, 0] = checks.NAN
        y_pred[3, 2:, :] = 1e30
    return y_true.astype(np.float32), y_pred.astype(np.float32), None


def reference(y_true, y_pred, mask):
    losses = np.zeros(len(y_true))
    for row, (labels, logits, real) in enumerate(zip(y_true, y_pred, mask)):
        terms = [
            -checks.log_sigmoid((s[0] - s[1]) * np.sign(t[0] - t[1]))
            for t, s, m in zip(labels, logits, real)
            if np.all(t >= 0) and np.all(m) and t[0] != t[1]
        ]
        losses[row] = np.mean(terms) if terms else 0.0
    return losses


def test_matches_numpy_reference():
    checks.assert_matches_reference(UnKDLoss(), reference, *pair_inputs(seed=91))


def test_padding_changes_nothing():
    y_true, y_pred, _ = pair_inputs(seed=92, padding=False)
    padded = checks.with_padding(y_true, y_pred, seed=92)
    checks.assert_padding_changes_nothing(UnKDLoss(), y_true, y_pred, *padded)


def test_keras_contract():
    checks.assert_keras_contract(UnKDLoss(), *pair_inputs(seed=93))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(two_replica_strategy, UnKDLoss(), *pair_inputs(seed=94))
