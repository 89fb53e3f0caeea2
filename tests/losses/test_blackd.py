"""BlackDLoss: cross-entropy to a rank-only teacher distribution."""

import numpy as np
import pytest

from kdtfrs.losses import BlackDLoss
from tests.losses import loss_checks as checks

CONFIGS = [{}, {"rank_temperature": 2.0, "temperature": 0.5}]


def reference(y_true, y_pred, mask, rank_temperature=10.0, temperature=1.0):
    losses = np.zeros(len(y_true))
    for row, (labels, logits, real) in enumerate(zip(y_true, y_pred, mask)):
        order = checks.teacher_order(labels, real)
        ranked = order[labels[order] > 0]
        teacher = np.exp(checks.log_softmax(-(np.arange(len(ranked)) + 1.0) / rank_temperature))
        listed = np.flatnonzero(real & (labels >= 0))
        student = dict(zip(listed, checks.log_softmax(logits[listed] / temperature)))
        losses[row] = -sum(p * student[item] for p, item in zip(teacher, ranked))
    return losses


@pytest.mark.parametrize("config", CONFIGS)
def test_matches_numpy_reference(config):
    checks.assert_matches_reference(
        BlackDLoss(**config),
        lambda t, p, m: reference(t, p, m, **config),
        *checks.relevance_inputs(seed=71),
    )


def test_padding_changes_nothing():
    y_true, y_pred, _ = checks.relevance_inputs(seed=72, rows=3, padded=0)
    padded = checks.with_padding(y_true, y_pred, seed=72)
    checks.assert_padding_changes_nothing(BlackDLoss(**CONFIGS[1]), y_true, y_pred, *padded)


def test_keras_contract():
    checks.assert_keras_contract(BlackDLoss(**CONFIGS[1]), *checks.relevance_inputs(seed=73))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(
        two_replica_strategy, BlackDLoss(), *checks.relevance_inputs(seed=74)
    )
