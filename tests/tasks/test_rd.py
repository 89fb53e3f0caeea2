"""RD: the teacher's top-K with static rank weights, then the dynamic student-rank weights."""

import math

import numpy as np
import pytest

from kdtfrs import losses
from kdtfrs._keras import tf
from kdtfrs.tasks import RD
from tests.tasks import task_checks as checks

NUM_ITEMS = 6

# Per-row losses of the ``rd`` fixture on checks.SEED, computed before RD's dynamic weights
# moved from the task into kdtfrs.losses.RDLoss (epoch 2: static weights; 5: dynamic).
BEFORE_THE_LOSS_TOOK_THE_PROBES = {
    2: [0.6820555329322815, 0.6825270056724548, 0.5797775387763977, 0.8133962154388428,
        0.7320089936256409, 0.8340513110160828, 0.603958010673523, 0.8033351302146912,
        0.7901182174682617, 0.6820555329322815, 0.5606103539466858, 0.6820555329322815],
    5: [0.682346522808075, 0.6828923225402832, 0.667975902557373, 0.8139294385910034,
        0.7320089936256409, 0.8341960310935974, 0.7273228168487549, 0.8033819198608398,
        0.8075158596038818, 0.682346522808075, 0.5606103539466858, 0.7051770091056824],
}


def _naive_dynamic_weights(scores, probe_scores, num_items, mu):
    weights = np.zeros(scores.shape)
    for row in range(scores.shape[0]):
        for column in range(scores.shape[1]):  # column = teacher rank r - 1
            above = sum(probe > scores[row, column] for probe in probe_scores[row])
            estimated = math.floor((num_items - 1) * above / len(probe_scores[row])) + 1
            weights[row, column] = max(math.tanh(mu * (estimated - column)), 0.0)
    return weights


@pytest.fixture
def rd(signals, train):
    method = RD(weight=0.3, num_items=NUM_ITEMS, rank_temperature=2.0, mu=0.5,
                num_probe_items=9, dynamic_start_epoch=3)
    method.prepare(signals, train)
    return method


@pytest.mark.parametrize("epoch, probe_label", [(2, -1.0), (3, 0.0), (7, 0.0)])
def test_targets_are_the_teacher_top_k_then_the_probes(rd, signals, train, features, epoch,
                                                       probe_label):
    rd.refresh(None, epoch)
    items, labels = checks.numpy_targets(rd, features)
    users = features["user"].numpy()
    assert items.shape == labels.shape == (users.size, NUM_ITEMS + 9)
    np.testing.assert_array_equal(items[:, :NUM_ITEMS], signals.top_items(NUM_ITEMS)[users])
    np.testing.assert_array_equal(labels[:, :NUM_ITEMS],
                                  np.tile(NUM_ITEMS - np.arange(NUM_ITEMS), (users.size, 1)))
    probes = rd.exclusion.sample_uniform_excluding(features["user"], 9, checks.SEED).numpy()
    np.testing.assert_array_equal(items[:, NUM_ITEMS:], probes)
    assert not checks.dense(train)[users[:, None], probes].any()
    np.testing.assert_array_equal(labels[:, NUM_ITEMS:], probe_label)


def test_targets_read_the_epoch_when_drawn_in_tf_data(rd, features):
    dataset = tf.data.Dataset.from_tensors(features).map(lambda f: rd.targets(f, checks.SEED))
    rd.refresh(None, 0)
    assert (next(iter(dataset))[1].numpy()[:, NUM_ITEMS:] == -1).all()
    rd.refresh(None, 3)
    assert (next(iter(dataset))[1].numpy()[:, NUM_ITEMS:] == 0).all()
    assert rd.needs_refresh  # RefreshCallback advances the epoch; no prefetch across it


def test_static_weights_before_the_start_epoch(rd, features, student):
    items, labels = rd.targets(features, checks.SEED)
    scores = student.score(features["user"], items)
    static = losses.RDLoss(rank_temperature=2.0, reduction="none")(
        labels[:, :NUM_ITEMS], scores[:, :NUM_ITEMS]).numpy()
    rd.refresh(student, epoch=2)
    np.testing.assert_allclose(rd.per_row_loss(features, student, checks.SEED).numpy(),
                               static, rtol=1e-6)
    rd.refresh(student, epoch=3)
    dynamic = rd.per_row_loss(features, student, checks.SEED).numpy()
    assert np.all(np.isfinite(dynamic)) and not np.allclose(dynamic, static)


def test_dynamic_weights_from_uniform_non_training_probes(rd, features, student):
    rd.refresh(student, epoch=5)
    users = features["user"]
    items, labels = rd.targets(features, checks.SEED)
    scores = student.score(users, items)
    top, probes = scores[:, :NUM_ITEMS], scores[:, NUM_ITEMS:]
    weights = _naive_dynamic_weights(top.numpy(), probes.numpy(), 80, 0.5)
    expected = losses.rd_loss(labels[:, :NUM_ITEMS], top, tf.ones_like(top, tf.bool), 2.0,
                              weights=weights.astype(np.float32))
    np.testing.assert_allclose(rd.per_row_loss(features, student, checks.SEED).numpy(),
                               expected.numpy(), rtol=1e-5)


@pytest.mark.parametrize("epoch", [2, 5])
def test_plain_keras_loss_gets_the_dynamic_weights_too(rd, features, student, epoch):
    """What ``student.compile(loss=RDLoss(...))`` on ``signal_dataset`` computes: the values
    of the task's own path (computed before the probes moved into the loss)."""
    rd.refresh(student, epoch)
    items, labels = rd.targets(features, checks.SEED)
    loss = losses.RDLoss(rank_temperature=2.0, mu=0.5, num_items=80, reduction="none")
    np.testing.assert_allclose(loss(labels, student(features | {"item": items})).numpy(),
                               BEFORE_THE_LOSS_TOOK_THE_PROBES[epoch], rtol=1e-6)


def test_the_loss_needs_the_prepared_catalogue():
    with pytest.raises(RuntimeError, match=r"prepare\(signals, train\) must run"):
        RD().make_loss()


@pytest.mark.parametrize("epoch", [0, 4])
def test_rd_contract(rd, features, student, teacher, epoch):
    rd.refresh(student, epoch)
    checks.assert_targets_deterministic(rd, features)  # the probes are drawn
    checks.assert_loss_trains_student_only(rd, features, student, teacher)
    checks.assert_weighted_is_weight_times_per_row(rd, features, student)
    checks.assert_config_round_trip(rd)


def test_static_only_without_a_start_epoch(signals, train, features, student):
    method = RD(num_items=NUM_ITEMS, dynamic_start_epoch=None)
    method.prepare(signals, train)
    method.refresh(student, epoch=1000)
    assert not method.needs_refresh
    items, labels = method.targets(features, checks.SEED)
    assert items.shape == (features["user"].shape[0], NUM_ITEMS)  # no probes
    np.testing.assert_allclose(
        method.per_row_loss(features, student, checks.SEED).numpy(),
        losses.RDLoss(reduction="none")(labels, student.score(features["user"], items)).numpy(),
        rtol=1e-6)
    assert checks.assert_config_round_trip(method).dynamic_start_epoch is None


@pytest.mark.parametrize("epoch", [2, 5])
def test_loss_is_unchanged_by_moving_the_dynamic_weights_into_the_loss(rd, features, student,
                                                                       epoch):
    rd.refresh(student, epoch)
    np.testing.assert_allclose(rd.per_row_loss(features, student, checks.SEED).numpy(),
                               BEFORE_THE_LOSS_TOOK_THE_PROBES[epoch], rtol=1e-6)
