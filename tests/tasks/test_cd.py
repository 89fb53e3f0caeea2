"""CD: tournament picks from a guide's top list, labelled with teacher scores."""

import numpy as np
import pytest

from kdtfrs import samplers
from kdtfrs.tasks import CD
from kdtfrs.models import BPRMF
from tests.tasks import task_checks as checks


def test_teacher_guide_picks_by_tournament(signals, train, teacher, features, student):
    method = CD(weight=0.5, num_items=3, sample_num=10, temperature=0.5, guide="teacher")
    method.prepare(signals, train)
    items, labels = checks.numpy_targets(method, features)
    users = features["user"].numpy()
    positions = samplers.tournament_positions(users.size, 10, 3, 0.5, checks.SEED).numpy()
    np.testing.assert_array_equal(
        items, signals.top_items(10)[users[:, None], positions])
    np.testing.assert_allclose(labels, checks.model_scores(teacher)[users[:, None], items],
                               rtol=1e-5, atol=1e-5)
    checks.assert_targets_deterministic(method, features)
    checks.assert_loss_trains_student_only(method, features, student, teacher)
    checks.assert_weighted_is_weight_times_per_row(method, features, student)
    checks.assert_config_round_trip(method)


def test_student_guide_uses_the_refreshed_student_list(signals, train, teacher, features):
    student = BPRMF(train.num_users, train.num_items, 4, init_stddev=0.5, seed=6)
    method = CD(num_items=4, sample_num=15, label_scale=1.5, label_shift=0.2)
    assert method.needs_refresh
    method.prepare(signals, train)
    method.refresh(student, epoch=0)
    guide = method.guide_items.numpy()
    checks.assert_is_top_k(guide, checks.model_scores(student), checks.dense(train), 15)
    items, _ = checks.numpy_targets(method, features)
    users = features["user"].numpy()
    assert (checks.position_in(guide, users, items) >= 0).all()
    checks.assert_loss_trains_student_only(method, features, student, teacher)


def test_long_lists_never_hold_training_items(signals, train, teacher, student):
    """sample_num above the catalogue: the list stops where the fullest user runs out.

    (Before the fix the list was the whole catalogue, training items last, and the nearly
    uniform tournament of CD drew them.)
    """
    room = train.num_items - int(train.row_lengths().max())
    for guide in ("teacher", "student"):
        method = CD(sample_num=3000, guide=guide)
        method.prepare(signals, train)
        method.refresh(student, epoch=0)
        guide_items = method.guide_items.numpy()
        assert guide_items.shape == (train.num_users, room)
        assert not checks.dense(train)[np.arange(train.num_users)[:, None], guide_items].any()
    method = CD(sample_num=3000, guide="teacher", exclude_train=False)
    method.prepare(signals, train)
    assert method.guide_items.shape == (train.num_users, train.num_items)


def test_guide_is_checked():
    with pytest.raises(ValueError, match="guide"):
        CD(guide="random")
