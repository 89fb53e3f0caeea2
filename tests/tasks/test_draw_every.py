"""``draw_every="epoch"``: each user's targets drawn once per epoch, as the reference code does."""

import numpy as np
import pytest

from kdtfrs import tasks
from kdtfrs._keras import keras, tf
from kdtfrs.data import bpr_triples
from kdtfrs.distill import Distiller
from kdtfrs.embeddings import Embeddings
from kdtfrs.models import BPRMF
from kdtfrs.tasks.base import DRAW_BLOCK
from tests.tasks import embedding_task_checks as embedding_checks
from tests.tasks import task_checks as checks

#: The tasks whose targets read only the batch's users and a seed.
DRAWING_METHODS = ("mse", "bce", "rd", "cd", "rrd", "sld", "dcd", "rce_kd", "unkd")


def prepared(method_id, signals, train, student, epoch=0, **options):
    method = tasks.get(method_id, **checks.SMALL_RANKING[method_id], **options)
    method.prepare(signals, train)
    method.refresh(Embeddings.frozen(student), epoch)
    return method


def as_numpy(targets):
    return tuple(np.asarray(part) for part in targets)


@pytest.mark.parametrize("method_id", DRAWING_METHODS)
def test_rows_read_their_users_draw_of_the_epoch(method_id, signals, train, student, features):
    """A batch's targets are the rows of the epoch's draw for its users: ``targets`` of every
    user with the seed of (task, epoch, block), whatever seed the step passes."""
    method = prepared(method_id, signals, train, student, epoch=3, draw_every="epoch")
    assert train.num_users <= DRAW_BLOCK  # one block: block 0's seed
    everyone = method.targets({"user": tf.range(train.num_users)},
                              tf.constant([method.draw_seed, 3 * 2**20], tf.int64))
    users = features["user"].numpy()
    for seed in (checks.SEED, checks.OTHER_SEED):
        items, labels = as_numpy(method.batch_targets(features, seed))
        np.testing.assert_array_equal(items, np.asarray(everyone[0])[users])
        np.testing.assert_array_equal(labels, np.asarray(everyone[1])[users])
    per_row = method.per_row_loss(features, Embeddings.of(student), checks.SEED)
    flat = Embeddings.of(student).score(features["user"], items.reshape(len(users), -1))
    expected = method.loss(labels, tf.reshape(flat, items.shape))  # UnKD's pairs: [B, n, 2]
    np.testing.assert_allclose(per_row.numpy(), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("method_id", DRAWING_METHODS)
def test_draws_change_per_epoch_and_repeat_per_epoch(method_id, signals, train, student,
                                                     features):
    """Another epoch draws anew; the same epoch draws the same (a resumed run repeats it), and
    ``prepare`` already holds epoch 0's draw."""
    method = tasks.get(method_id, **checks.SMALL_RANKING[method_id], draw_every="epoch")
    method.prepare(signals, train)
    before_refresh = as_numpy(method.batch_targets(features, checks.SEED))
    student_view = Embeddings.frozen(student)
    method.refresh(student_view, 0)
    first = as_numpy(method.batch_targets(features, checks.SEED))
    if not method.needs_refresh:  # else prepare drew from state the refresh then set
        np.testing.assert_array_equal(before_refresh[0], first[0])
    method.refresh(student_view, 1)
    second = as_numpy(method.batch_targets(features, checks.SEED))
    assert not all(np.array_equal(a, b) for a, b in zip(first, second))
    method.refresh(student_view, 0)
    for again, expected in zip(as_numpy(method.batch_targets(features, checks.SEED)), first):
        np.testing.assert_array_equal(again, expected)


def test_every_row_of_a_user_reads_one_draw(signals, train, student, features):
    """Per step, two rows of one user draw apart; per epoch, they read the same items."""
    users = features["user"].numpy()
    twins = np.flatnonzero(users == users[0])
    assert twins.size > 1  # the fixture repeats a user
    per_step = prepared("rrd", signals, train, student)
    per_epoch = prepared("rrd", signals, train, student, draw_every="epoch")
    step_items = per_step.batch_targets(features, checks.SEED)[0].numpy()
    epoch_items = per_epoch.batch_targets(features, checks.SEED)[0].numpy()
    assert not np.array_equal(step_items[twins[0]], step_items[twins[1]])
    np.testing.assert_array_equal(epoch_items[twins[0]], epoch_items[twins[1]])


def test_draws_span_blocks_of_users(signals, train, student, monkeypatch):
    """Users past the first block get block 1's seed (a small block forces two here)."""
    monkeypatch.setattr("kdtfrs.tasks.base.DRAW_BLOCK", 40)
    method = prepared("mse", signals, train, student, epoch=2, draw_every="epoch")
    users = tf.range(40, train.num_users)
    expected = method.targets({"user": users},
                              tf.constant([method.draw_seed, 2 * 2**20 + 1], tf.int64))
    items, labels = method.batch_targets({"user": users}, checks.SEED)
    np.testing.assert_array_equal(items.numpy(), expected[0].numpy())
    np.testing.assert_array_equal(labels.numpy(), expected[1].numpy())


@pytest.mark.parametrize("method_id", DRAWING_METHODS)
def test_the_option_round_trips_and_is_left_out_by_default(method_id):
    method = tasks.get(method_id, **checks.SMALL_RANKING[method_id], draw_every="epoch")
    assert checks.assert_config_round_trip(method).get_config()["draw_every"] == "epoch"
    assert "draw_every" not in tasks.get(method_id).get_config()


def test_bad_values_and_tasks_without_it_are_refused():
    with pytest.raises(ValueError, match="draw_every='batch'"):
        tasks.get("rrd", draw_every="batch")
    for method_id in ("kd", "blackd", "ir_rrd", "de", "fitnet"):
        with pytest.raises(ValueError, match="unexpected keyword argument .draw_every."):
            tasks.get(method_id, draw_every="epoch")


def test_with_per_unique_user(signals, train, student, features):
    """Both reference options at once: each unique user once, from its epoch draw."""
    method = prepared("rrd", signals, train, student, per_unique_user=True,
                      draw_every="epoch")
    plain = prepared("rrd", signals, train, student, draw_every="epoch")
    users = features["user"].numpy()
    _, first = np.unique(users, return_index=True)
    per_row = method.per_row_loss(features, Embeddings.of(student), checks.SEED).numpy()
    expected = plain.per_row_loss(features, Embeddings.of(student), checks.SEED).numpy()
    np.testing.assert_allclose(per_row[first], expected[first], rtol=1e-6)
    assert per_row.sum() < expected.sum()


def test_two_replicas_read_the_same_draw(two_replica_strategy, signals, train, student,
                                         features):
    """The draw is made once, outside the replicas: each replica's loss is its half's."""
    with two_replica_strategy.scope():
        method = prepared("rrd", signals, train, student, draw_every="epoch")
    losses = embedding_checks.replica_losses(two_replica_strategy, method, features, student)
    for loss, half in zip(losses, embedding_checks.halves(features)):
        np.testing.assert_allclose(
            loss, embedding_checks.single_device_loss(method, half, student) / 2, rtol=1e-5)


def test_distiller_draws_at_every_epoch(split):
    """A Distiller trains with it; its seed sets the draws; the tables follow the epochs."""
    def fitted(seed, epochs):
        teacher = BPRMF(split.num_users, split.num_items, 16, init_stddev=0.5, seed=1)
        student = BPRMF(split.num_users, split.num_items, 4, init_stddev=0.1, seed=2)
        task = tasks.get("rrd", **checks.SMALL_RANKING["rrd"], draw_every="epoch")
        distiller = Distiller(teacher, student, split.train, distillation=[task], seed=seed)
        distiller.compile(optimizer=keras.optimizers.Adam(0.05))
        history = distiller.fit(bpr_triples(split.train, 64), epochs=epochs, verbose=0)
        assert np.all(np.isfinite(history.history["rrd_loss"]))
        return task.drawn_items.numpy()

    last = fitted(seed=0, epochs=2)
    np.testing.assert_array_equal(fitted(seed=0, epochs=2), last)
    assert not np.array_equal(fitted(seed=0, epochs=1), last)
    assert not np.array_equal(fitted(seed=1, epochs=2), last)
