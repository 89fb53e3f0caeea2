"""PointwiseMSELoss: Σ (s - t)² over the list."""

import numpy as np

from kdtfrs.losses import PointwiseMSELoss
from tests.losses import loss_checks as checks


def reference(y_true, y_pred, mask):
    return np.array([((p[r] - t[r]) ** 2).sum() for t, p, r in zip(y_true, y_pred, mask)])


def test_matches_numpy_reference():
    checks.assert_matches_reference(PointwiseMSELoss(), reference, *checks.score_inputs(seed=11))


def test_padding_changes_nothing():
    y_true, y_pred, _ = checks.score_inputs(seed=12, rows=3, padding=0.0)
    padded = checks.with_padding(y_true, y_pred, seed=12, by_labels=False)
    checks.assert_padding_changes_nothing(PointwiseMSELoss(), y_true, y_pred, *padded)


def test_keras_contract():
    checks.assert_keras_contract(PointwiseMSELoss(), *checks.score_inputs(seed=13))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(
        two_replica_strategy, PointwiseMSELoss(), *checks.score_inputs(seed=14)
    )
