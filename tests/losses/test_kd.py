"""KDLoss: Hinton soft cross-entropy on item lists."""

import numpy as np
import pytest

from kdtfrs.losses import KDLoss
from tests.losses import loss_checks as checks

CONFIGS = [{}, {"temperature": 2.5, "scale_by_temperature_squared": True}]


def reference(y_true, y_pred, mask, temperature=1.0, scale_by_temperature_squared=False):
    losses = np.zeros(len(y_true))
    for row, (labels, logits, real) in enumerate(zip(y_true, y_pred, mask)):
        if real.any():
            teacher = np.exp(checks.log_softmax(labels[real] / temperature))
            student = checks.log_softmax(logits[real] / temperature)
            losses[row] = -(teacher * student).sum()
    return losses * (temperature**2 if scale_by_temperature_squared else 1.0)


@pytest.mark.parametrize("config", CONFIGS)
def test_matches_numpy_reference(config):
    checks.assert_matches_reference(
        KDLoss(**config), lambda t, p, m: reference(t, p, m, **config),
        *checks.score_inputs(seed=1),
    )


def test_padding_changes_nothing():
    y_true, y_pred, _ = checks.score_inputs(seed=2, rows=3, padding=0.0)
    padded = checks.with_padding(y_true, y_pred, seed=2, by_labels=False)
    checks.assert_padding_changes_nothing(KDLoss(**CONFIGS[1]), y_true, y_pred, *padded)


def test_keras_contract():
    checks.assert_keras_contract(KDLoss(**CONFIGS[1]), *checks.score_inputs(seed=3))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(two_replica_strategy, KDLoss(), *checks.score_inputs(seed=4))


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("inf"), "1"])
def test_rejects_bad_temperature(temperature):
    with pytest.raises(ValueError, match=f"temperature={temperature!r}"):
        KDLoss(temperature=temperature)
