"""MSE and BCE on teacher scores of uniformly or rank-sampled items."""

import numpy as np
import pytest

from kdtfrs.tasks import BCE, MSE
from tests.tasks import task_checks as checks


@pytest.mark.parametrize("cls", [MSE, BCE])
def test_uniform_items_are_never_training_items(cls, signals, train, teacher, features,
                                                student):
    method = cls(weight=0.2, num_items=30)
    method.prepare(signals, train)
    items, labels = checks.numpy_targets(method, features)
    users = features["user"].numpy()
    assert items.shape == labels.shape == (users.size, 30)
    assert not checks.dense(train)[users[:, None], items].any()
    np.testing.assert_allclose(labels, checks.model_scores(teacher)[users[:, None], items],
                               rtol=1e-5, atol=1e-5)
    checks.assert_targets_deterministic(method, features)
    checks.assert_loss_trains_student_only(method, features, student, teacher)
    checks.assert_weighted_is_weight_times_per_row(method, features, student)
    checks.assert_config_round_trip(method)


def test_uniform_items_may_be_training_items_without_exclusion(signals, train, teacher,
                                                              features):
    method = MSE(num_items=400, exclude_train=False)
    method.prepare(signals, train)
    items, labels = checks.numpy_targets(method, features)
    users = features["user"].numpy()
    assert items.min() >= 0 and items.max() < train.num_items
    assert checks.dense(train)[users[:, None], items].any()
    np.testing.assert_allclose(labels, checks.model_scores(teacher)[users[:, None], items],
                               rtol=1e-5, atol=1e-5)
    checks.assert_targets_deterministic(method, features)


@pytest.mark.parametrize("cls", [MSE, BCE])
def test_rank_sampling_draws_from_the_teacher_list(cls, signals, train, features, student,
                                                   teacher):
    method = cls(num_items=5, sampling="rank", temperature=3.0, max_rank=12)
    method.prepare(signals, train)
    items, _ = checks.numpy_targets(method, features)
    positions = checks.position_in(signals.top_items(12), features["user"].numpy(), items)
    assert (positions >= 0).all() and np.all(np.diff(positions, axis=1) > 0)
    checks.assert_loss_trains_student_only(method, features, student, teacher)


def test_mse_per_row_is_the_squared_error_sum(signals, train, features, student):
    method = MSE(num_items=4)
    method.prepare(signals, train)
    items, labels = checks.numpy_targets(method, features)
    users = features["user"].numpy()
    scores = checks.model_scores(student)[users[:, None], items]
    np.testing.assert_allclose(method.per_row_loss(features, student, checks.SEED).numpy(),
                               ((scores - labels) ** 2).sum(axis=1), rtol=1e-4)


def test_bce_label_temperature_round_trips():
    method = BCE(label_temperature=3.0, sampling="rank")
    assert checks.assert_config_round_trip(method).label_temperature == 3.0
    assert method.loss.temperature == 3.0


def test_sampling_is_checked():
    with pytest.raises(ValueError, match="sampling must be one of .*'popular'"):
        MSE(sampling="popular")


def test_rank_sampling_needs_enough_listed_items(signals, train):
    with pytest.raises(ValueError, match=r"num_items \(30\) exceeds the 20 entries"):
        MSE(num_items=30, sampling="rank", max_rank=20).prepare(signals, train)
