"""KD: softmax cross-entropy on the guide's top-K (teacher list fixed, student list per epoch)."""

import numpy as np
import pytest

from kdtfrs.tasks import KD
from kdtfrs.models import BPRMF
from tests.tasks import task_checks as checks


def test_teacher_guide_uses_the_teacher_list_and_scores(signals, train, teacher, features,
                                                        student):
    method = KD(weight=0.5, num_items=7, temperature=2.0, guide="teacher")
    assert not method.needs_refresh
    method.prepare(signals, train)
    items, labels = checks.numpy_targets(method, features)
    users = features["user"].numpy()
    np.testing.assert_array_equal(items, signals.top_items(7)[users])
    np.testing.assert_allclose(labels, checks.model_scores(teacher)[users[:, None], items],
                               rtol=1e-5, atol=1e-5)
    checks.assert_targets_deterministic(method, features, sampled=False)
    checks.assert_loss_trains_student_only(method, features, student, teacher)
    checks.assert_weighted_is_weight_times_per_row(method, features, student)
    checks.assert_config_round_trip(method)


@pytest.mark.parametrize("exclude_train", [True, False])
def test_student_guide_follows_the_refreshed_student(signals, train, teacher, features,
                                                     exclude_train):
    student = BPRMF(train.num_users, train.num_items, 4, init_stddev=0.5, seed=5)
    method = KD(num_items=6, exclude_train=exclude_train)
    assert method.needs_refresh
    method.prepare(signals, train)
    excluded = checks.dense(train) if exclude_train else np.zeros((60, 80), bool)
    users = features["user"].numpy()
    for epoch, seed in enumerate((5, 6)):
        student.user_embedding.assign(
            np.random.default_rng(seed).normal(size=(60, 4)).astype(np.float32))
        method.refresh(student, epoch)
        checks.assert_is_top_k(method.guide_items.numpy(), checks.model_scores(student),
                               excluded, 6)
        items, labels = checks.numpy_targets(method, features)
        np.testing.assert_array_equal(items, method.guide_items.numpy()[users])
        np.testing.assert_allclose(labels, checks.model_scores(teacher)[users[:, None], items],
                                   rtol=1e-5, atol=1e-5)
    checks.assert_loss_trains_student_only(method, features, student, teacher)


def test_guide_is_checked():
    with pytest.raises(ValueError, match="guide must be one of .*'oracle'"):
        KD(guide="oracle")
