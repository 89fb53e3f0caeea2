"""PointwiseBCELoss: Σ BCE(σ(s), σ(t/τ)) over the list."""

import numpy as np
import pytest

from kdtfrs.losses import PointwiseBCELoss
from tests.losses import loss_checks as checks


def reference(y_true, y_pred, mask, temperature=1.0):
    losses = np.zeros(len(y_true))
    for row, (labels, logits, real) in enumerate(zip(y_true, y_pred, mask)):
        soft = 1.0 / (1.0 + np.exp(-labels[real] / temperature))
        student = logits[real]
        losses[row] = -(
            soft * checks.log_sigmoid(student) + (1 - soft) * checks.log_sigmoid(-student)
        ).sum()
    return losses


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_matches_numpy_reference(temperature):
    checks.assert_matches_reference(
        PointwiseBCELoss(temperature=temperature),
        lambda t, p, m: reference(t, p, m, temperature),
        *checks.score_inputs(seed=21),
    )


def test_exact_for_large_scores():
    y_true = np.array([[50.0, -50.0]], np.float32)
    y_pred = np.array([[-60.0, 60.0]], np.float32)
    np.testing.assert_allclose(
        checks.per_row(PointwiseBCELoss(), y_true, y_pred), [120.0], rtol=1e-5
    )


def test_padding_changes_nothing():
    y_true, y_pred, _ = checks.score_inputs(seed=22, rows=3, padding=0.0)
    padded = checks.with_padding(y_true, y_pred, seed=22, by_labels=False)
    checks.assert_padding_changes_nothing(PointwiseBCELoss(2.0), y_true, y_pred, *padded)


def test_keras_contract():
    checks.assert_keras_contract(PointwiseBCELoss(temperature=2.0), *checks.score_inputs(seed=23))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(
        two_replica_strategy, PointwiseBCELoss(), *checks.score_inputs(seed=24)
    )
