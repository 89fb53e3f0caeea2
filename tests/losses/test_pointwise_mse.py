"""PointwiseMSE: Σ (s - t)² over the list."""

import numpy as np

from kdtfrs.losses import PointwiseMSE
from tests.losses import loss_checks as checks


def reference(y_true, y_pred):
    real = np.isfinite(y_true)
    return np.array([((p[r] - t[r]) ** 2).sum() for t, p, r in zip(y_true, y_pred, real)])


def test_matches_numpy_reference():
    checks.assert_matches_reference(PointwiseMSE(), *checks.score_inputs(seed=11), reference)


def test_padding_changes_nothing():
    y_true, y_pred = checks.score_inputs(seed=12, rows=3, padding=0.0)
    padded = checks.with_padding(y_true, y_pred, seed=12)
    checks.assert_padding_changes_nothing(PointwiseMSE(), y_true, y_pred, *padded)


def test_keras_contract():
    checks.assert_keras_contract(PointwiseMSE(), *checks.score_inputs(seed=13))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(
        two_replica_strategy, PointwiseMSE(), *checks.score_inputs(seed=14)
    )
