"""BlackD: a rank-only teacher: its top-K items with relevance K - r."""

import numpy as np

from kdtfrs import losses
from kdtfrs.tasks import BlackD
from tests.tasks import task_checks as checks


def test_blackd_targets_and_loss(signals, train, features, student, teacher):
    method = BlackD(weight=0.1, num_items=8, temperature=2.0, rank_temperature=3.0)
    method.prepare(signals, train)
    items, labels = checks.numpy_targets(method, features)
    users = features["user"].numpy()
    np.testing.assert_array_equal(items, signals.top_items(8)[users])
    np.testing.assert_array_equal(labels, np.tile(8.0 - np.arange(8), (users.size, 1)))
    per_row = checks.assert_loss_trains_student_only(method, features, student, teacher)
    mask = np.ones(items.shape, bool)
    expected = losses.blackd_loss(labels, student.score(users, items), mask,
                                  rank_temperature=3.0, temperature=2.0)
    np.testing.assert_allclose(per_row, expected.numpy(), rtol=1e-6)
    checks.assert_targets_deterministic(method, features, sampled=False)
    checks.assert_weighted_is_weight_times_per_row(method, features, student)
    checks.assert_config_round_trip(method)


def test_blackd_can_keep_training_items(signals, train, features):
    method = BlackD(num_items=30, exclude_train=False)
    method.prepare(signals, train)
    items, _ = checks.numpy_targets(method, features)
    np.testing.assert_array_equal(
        items, signals.top_items(30, exclude_train=False)[features["user"].numpy()])
