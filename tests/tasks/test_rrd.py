"""RRD and SLD: interesting items from the teacher's list in teacher order, uninteresting rest."""

import numpy as np
import pytest

from kdtfrs.tasks import RRD, SLD
from tests.tasks import task_checks as checks

MAX_RANK = 15


@pytest.fixture(scope="module")
def rrd(signals, train):
    method = RRD(weight=0.2, num_interesting=5, num_uninteresting=7, temperature=3.0,
                 max_rank=MAX_RANK)
    method.prepare(signals, train)
    return method


def test_interesting_items_come_from_the_list_in_teacher_order(rrd, signals, features):
    items, labels = checks.numpy_targets(rrd, features)
    assert items.shape == labels.shape == (features["user"].shape[0], 12)
    users = features["user"].numpy()
    positions = checks.position_in(signals.top_items(MAX_RANK), users, items[:, :5])
    assert (positions >= 0).all()
    assert np.all(np.diff(positions, axis=1) > 0)  # distinct, teacher order
    np.testing.assert_array_equal(labels[:, :5], MAX_RANK - positions)
    assert np.all(np.diff(labels[:, :5], axis=1) < 0)


def test_uninteresting_items_are_neither_training_nor_listed(rrd, signals, train, features):
    items, labels = checks.numpy_targets(rrd, features)
    users = features["user"].numpy()
    others = items[:, 5:]
    np.testing.assert_array_equal(labels[:, 5:], 0.0)
    assert not checks.dense(train)[users[:, None], others].any()
    assert (checks.position_in(signals.top_items(MAX_RANK), users, others) == -1).all()


def test_many_draws_cover_the_uninteresting_pool(signals, train, features):
    """Uniform over I minus (train u the list): every allowed item shows up for user 0."""
    method = RRD(num_interesting=2, num_uninteresting=400, max_rank=MAX_RANK)
    method.prepare(signals, train)
    items, _ = method.targets({"user": features["user"][:1]}, checks.SEED)
    user = int(features["user"][0])
    allowed = ~checks.dense(train)[user]
    allowed[signals.top_items(MAX_RANK)[user]] = False
    assert set(items.numpy()[0, 2:].tolist()) == set(np.flatnonzero(allowed).tolist())


def test_rrd_contract(rrd, features, student, teacher):
    checks.assert_targets_deterministic(rrd, features)
    checks.assert_loss_trains_student_only(rrd, features, student, teacher)
    checks.assert_weighted_is_weight_times_per_row(rrd, features, student)
    checks.assert_config_round_trip(rrd)


def test_sld_has_only_interesting_items(signals, train, features, student, teacher):
    method = SLD(weight=0.5, num_interesting=6, temperature=2.0, max_rank=MAX_RANK)
    method.prepare(signals, train)
    items, labels = checks.numpy_targets(method, features)
    assert items.shape == (features["user"].shape[0], 6)
    assert np.all(np.diff(labels, axis=1) < 0) and labels.min() > 0
    checks.assert_targets_deterministic(method, features)
    checks.assert_loss_trains_student_only(method, features, student, teacher)
    checks.assert_weighted_is_weight_times_per_row(method, features, student)
    config = checks.assert_config_round_trip(method).get_config()
    assert "num_uninteresting" not in config and config["num_interesting"] == 6


def test_num_interesting_cannot_exceed_max_rank():
    with pytest.raises(ValueError, match=r"num_interesting \(20\).*max_rank \(10\)"):
        RRD(num_interesting=20, max_rank=10)


def test_targets_need_prepare(features):
    with pytest.raises(RuntimeError, match="prepare"):
        RRD().targets(features, checks.SEED)
