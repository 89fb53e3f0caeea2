"""CDLoss: soft-label BCE with w = σ((t + t2)/t1)."""

import numpy as np
import pytest

from kdtfrs.losses import CDLoss
from tests.losses import loss_checks as checks

CONFIGS = [{}, {"temperature": 0.5, "shift": -1.0}]


def reference(y_true, y_pred, mask, temperature=2.0, shift=0.0):
    losses = np.zeros(len(y_true))
    for row, (labels, logits, real) in enumerate(zip(y_true, y_pred, mask)):
        weights = 1.0 / (1.0 + np.exp(-(labels[real] + shift) / temperature))
        inner = 1.0 / (1.0 + np.exp(-logits[real]))
        losses[row] = -(weights * np.log(inner) + (1 - weights) * np.log(1 - inner)).sum()
    return losses


@pytest.mark.parametrize("config", CONFIGS)
def test_matches_numpy_reference(config):
    checks.assert_matches_reference(
        CDLoss(**config), lambda t, p, m: reference(t, p, m, **config),
        *checks.score_inputs(seed=31),
    )


def test_padding_changes_nothing():
    y_true, y_pred, _ = checks.score_inputs(seed=32, rows=3, padding=0.0)
    padded = checks.with_padding(y_true, y_pred, seed=32, by_labels=False)
    checks.assert_padding_changes_nothing(CDLoss(**CONFIGS[1]), y_true, y_pred, *padded)


def test_keras_contract():
    checks.assert_keras_contract(CDLoss(**CONFIGS[1]), *checks.score_inputs(seed=33))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(two_replica_strategy, CDLoss(), *checks.score_inputs(seed=34))


def test_rejects_bad_shift():
    with pytest.raises(ValueError, match="shift=nan"):
        CDLoss(shift=float("nan"))
