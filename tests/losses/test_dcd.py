"""DCDLoss: relaxed ranking of the under-estimated items against the over-estimated ones."""

import numpy as np

from kdtfrs.losses import DCDLoss, RRDLoss
from tests.losses import loss_checks as checks


def test_matches_numpy_reference():
    # labels > 0: under-estimated items by teacher rank; 0: over-estimated items.
    checks.assert_matches_reference(
        DCDLoss(), checks.relaxed_ranking,
        *checks.relevance_inputs(seed=61, ranked=3, unranked=3),
    )


def test_is_rrd_under_its_own_name():
    y_true, y_pred, _ = checks.relevance_inputs(seed=62)
    np.testing.assert_array_equal(
        checks.per_row(DCDLoss(), y_true, y_pred), checks.per_row(RRDLoss(), y_true, y_pred)
    )
    assert DCDLoss().name == "dcd"


def test_padding_changes_nothing():
    y_true, y_pred, _ = checks.relevance_inputs(seed=63, rows=3, padded=0)
    padded = checks.with_padding(y_true, y_pred, seed=63)
    checks.assert_padding_changes_nothing(DCDLoss(), y_true, y_pred, *padded)


def test_keras_contract():
    checks.assert_keras_contract(DCDLoss(), *checks.relevance_inputs(seed=64))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(
        two_replica_strategy, DCDLoss(), *checks.relevance_inputs(seed=65)
    )
