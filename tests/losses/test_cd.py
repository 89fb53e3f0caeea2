"""CD: soft-label BCE with w = σ((t + t2)/t1)."""

import numpy as np
import pytest

from kdtfrs.losses import CD
from tests.losses import loss_checks as checks

CONFIGS = [{}, {"temperature": 0.5, "shift": -1.0}]


def reference(y_true, y_pred, temperature=2.0, shift=0.0):
    losses = np.zeros(len(y_true))
    for row, (labels, logits) in enumerate(zip(y_true, y_pred)):
        real = np.isfinite(labels)
        weights = 1.0 / (1.0 + np.exp(-(labels[real] + shift) / temperature))
        inner = 1.0 / (1.0 + np.exp(-logits[real]))
        losses[row] = -(weights * np.log(inner) + (1 - weights) * np.log(1 - inner)).sum()
    return losses


@pytest.mark.parametrize("config", CONFIGS)
def test_matches_numpy_reference(config):
    checks.assert_matches_reference(
        CD(**config), *checks.score_inputs(seed=31), lambda t, p: reference(t, p, **config)
    )


def test_padding_changes_nothing():
    y_true, y_pred = checks.score_inputs(seed=32, rows=3, padding=0.0)
    padded = checks.with_padding(y_true, y_pred, seed=32)
    checks.assert_padding_changes_nothing(CD(**CONFIGS[1]), y_true, y_pred, *padded)


def test_keras_contract():
    checks.assert_keras_contract(CD(**CONFIGS[1]), *checks.score_inputs(seed=33))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(two_replica_strategy, CD(), *checks.score_inputs(seed=34))


def test_rejects_bad_shift():
    with pytest.raises(ValueError, match="shift=nan"):
        CD(shift=float("nan"))
