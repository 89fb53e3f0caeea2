"""BlackD: cross-entropy to a rank-only teacher distribution."""

import numpy as np
import pytest

from kdtfrs.losses import BlackD
from tests.losses import loss_checks as checks

CONFIGS = [{}, {"rank_temperature": 2.0, "temperature": 0.5}]


def reference(y_true, y_pred, rank_temperature=10.0, temperature=1.0):
    losses = np.zeros(len(y_true))
    for row, (labels, logits) in enumerate(zip(y_true, y_pred)):
        order = checks.teacher_order(labels)
        ranked = order[labels[order] > 0]
        teacher = np.exp(checks.log_softmax(-(np.arange(len(ranked)) + 1.0) / rank_temperature))
        real = np.flatnonzero(np.isfinite(labels))
        student = dict(zip(real, checks.log_softmax(logits[real] / temperature)))
        losses[row] = -sum(p * student[item] for p, item in zip(teacher, ranked))
    return losses


@pytest.mark.parametrize("config", CONFIGS)
def test_matches_numpy_reference(config):
    checks.assert_matches_reference(
        BlackD(**config),
        *checks.relevance_inputs(seed=71),
        lambda t, p: reference(t, p, **config),
    )


def test_padding_changes_nothing():
    y_true, y_pred = checks.relevance_inputs(seed=72, rows=3, padded=0)
    padded = checks.with_padding(y_true, y_pred, seed=72)
    checks.assert_padding_changes_nothing(BlackD(**CONFIGS[1]), y_true, y_pred, *padded)


def test_keras_contract():
    checks.assert_keras_contract(BlackD(**CONFIGS[1]), *checks.relevance_inputs(seed=73))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(
        two_replica_strategy, BlackD(), *checks.relevance_inputs(seed=74)
    )
