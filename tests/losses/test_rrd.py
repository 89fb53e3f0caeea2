"""RRD: relaxed ranking distillation (also the math of IR-RRD's item side and DCD)."""

import numpy as np

from kdtfrs.losses import RRD
from tests.losses import loss_checks as checks


def test_matches_numpy_reference():
    checks.assert_matches_reference(
        RRD(), *checks.relevance_inputs(seed=41), checks.relaxed_ranking
    )


def test_list_order_does_not_matter():
    y_true, y_pred = checks.relevance_inputs(seed=42, tie=False)
    permutation = np.random.default_rng(42).permutation(y_true.shape[1])
    np.testing.assert_allclose(
        checks.per_row(RRD(), y_true[:, permutation], y_pred[:, permutation]),
        checks.per_row(RRD(), y_true, y_pred),
        rtol=1e-6,
    )


def test_stable_for_large_score_gaps():
    y_true = np.array([[3.0, 2.0, 1.0, 0.0, 0.0]], np.float32)
    y_pred = np.array([[-150.0, 200.0, 0.0, -100.0, 120.0]], np.float32)
    expected = checks.relaxed_ranking(y_true.astype(float), y_pred.astype(float))
    np.testing.assert_allclose(checks.per_row(RRD(), y_true, y_pred), expected, rtol=1e-6)
    assert np.all(np.isfinite(checks.gradient(RRD(), y_true, y_pred)))


def test_padding_changes_nothing():
    y_true, y_pred = checks.relevance_inputs(seed=43, rows=3, padded=0)
    padded = checks.with_padding(y_true, y_pred, seed=43)
    checks.assert_padding_changes_nothing(RRD(), y_true, y_pred, *padded)


def test_keras_contract():
    checks.assert_keras_contract(RRD(), *checks.relevance_inputs(seed=44))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(two_replica_strategy, RRD(), *checks.relevance_inputs(seed=45))
