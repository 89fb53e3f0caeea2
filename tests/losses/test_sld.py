"""SLDLoss: Plackett–Luce over the ranked items only."""

from kdtfrs.losses import SLDLoss
from tests.losses import loss_checks as checks


def reference(y_true, y_pred, mask):
    return checks.relaxed_ranking(y_true, y_pred, mask, with_uninteresting=False)


def test_matches_numpy_reference():
    checks.assert_matches_reference(SLDLoss(), reference, *checks.relevance_inputs(seed=51))


def test_padding_changes_nothing():
    y_true, y_pred, _ = checks.relevance_inputs(seed=52, rows=3, padded=0)
    padded = checks.with_padding(y_true, y_pred, seed=52)
    checks.assert_padding_changes_nothing(SLDLoss(), y_true, y_pred, *padded)


def test_keras_contract():
    checks.assert_keras_contract(SLDLoss(), *checks.relevance_inputs(seed=53))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(
        two_replica_strategy, SLDLoss(), *checks.relevance_inputs(seed=54)
    )
