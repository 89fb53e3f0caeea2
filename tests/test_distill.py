"""The Distiller: training through fit, frozen teacher, logging, refresh, tf.distribute."""

import time

import numpy as np
import pytest

from kdtfrs import Distiller, losses, tasks, signal_dataset
from kdtfrs._keras import keras, tf
from kdtfrs.data import bpr_triples, make_synthetic, split_random
from kdtfrs.distill import RefreshCallback
from kdtfrs.models import BPRMF


@pytest.fixture(scope="module")
def split():
    return split_random(make_synthetic(num_users=80, num_items=90, num_clusters=4,
                                       mean_interactions_per_user=8, seed=0), seed=0)


def models(split, student_seed=2):
    teacher = BPRMF(split.num_users, split.num_items, 16, init_stddev=0.5, seed=1)
    student = BPRMF(split.num_users, split.num_items, 4, init_stddev=0.1, seed=student_seed)
    return teacher, student


def small_rrd(**kwargs):
    return tasks.RRD(num_interesting=5, num_uninteresting=5, max_rank=20, **kwargs)


def test_fit_trains_student_only_and_logs_every_term(split):
    teacher, student = models(split)
    teacher_before = [w.numpy().copy() for w in teacher.weights]
    student_before = [w.numpy().copy() for w in student.weights]
    distiller = Distiller(teacher, student, split.train,
                          distillation=[small_rrd(weight=0.5), tasks.KD(num_items=5)])
    distiller.compile(optimizer=keras.optimizers.Adam(0.05))
    history = distiller.fit(bpr_triples(split.train, 64), epochs=2, verbose=0)

    for before, after in zip(teacher_before, teacher.weights):
        np.testing.assert_array_equal(before, after.numpy())
    assert any(not np.allclose(b, a.numpy()) for b, a in zip(student_before, student.weights))
    for key in ("loss", "base_loss", "rrd_loss", "kd_loss", "refresh_seconds"):
        assert key in history.history, key
    assert all(np.isfinite(history.history["rrd_loss"]))
    assert {v.ref() for v in distiller.trainable_variables} == {
        v.ref() for v in student.trainable_variables}


def test_total_loss_is_base_plus_weighted_terms(split):
    teacher, student = models(split)
    method = small_rrd(weight=0.25)
    distiller = Distiller(teacher, student, split.train, distillation=[method], seed=3)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    batch = next(iter(bpr_triples(split.train, 32)))
    total = distiller.compute_loss(batch)
    seed = distiller._sampling_seed(0)
    expected = student.compute_loss(batch) + tf.reduce_mean(
        0.25 * method.per_row_loss(batch, student, seed))
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=1e-5)


class _CountingKD(tasks.KD):
    """KD that records the epoch of every refresh and the student it was given."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.refreshed = []

    def refresh(self, student, epoch):
        super().refresh(student, epoch)
        self.refreshed.append((epoch, student.tables()[0].numpy().copy()))


def test_refresh_runs_once_per_epoch_on_the_current_student(split):
    teacher, student = models(split)
    method = _CountingKD(num_items=5, guide="student")
    distiller = Distiller(teacher, student, split.train, distillation=[method])
    distiller.compile(optimizer=keras.optimizers.Adam(0.01))
    weights_before_epoch = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            weights_before_epoch.append(student.user_embedding.numpy().copy())

    distiller.fit(bpr_triples(split.train, 64), epochs=3, verbose=0, callbacks=[Snapshot()])
    assert [epoch for epoch, _ in method.refreshed] == [0, 1, 2]
    for (_, refreshed_users), users in zip(method.refreshed, weights_before_epoch):
        np.testing.assert_array_equal(refreshed_users, users)
    assert not np.allclose(method.refreshed[0][1], method.refreshed[2][1])


def test_teacher_is_left_as_the_caller_passed_it(split):
    teacher, student = models(split)
    assert teacher.trainable and not teacher.frozen
    distiller = Distiller(teacher, student, split.train, distillation=[small_rrd()])
    assert distiller.teacher is teacher
    assert teacher.trainable and not teacher.frozen
    assert not any(v.ref() in {w.ref() for w in distiller.variables} for v in teacher.variables)
    teacher.compile(optimizer=keras.optimizers.Adam(0.05))  # still trains on its own
    before = teacher.user_embedding.numpy().copy()
    teacher.fit(bpr_triples(split.train, 64), epochs=1, verbose=0)
    assert not np.allclose(before, teacher.user_embedding.numpy())


class _CountingPropagation(BPRMF):
    calls = 0

    def propagate(self, user_table, item_table, training=False):
        type(self).calls += 1
        return super().propagate(user_table, item_table, training)


def test_student_embeddings_are_computed_once_per_step(split):
    teacher, _ = models(split)
    student = _CountingPropagation(split.num_users, split.num_items, 4, seed=2)
    distiller = Distiller(teacher, student, split.train,
                          distillation=[small_rrd(), tasks.KD(num_items=5, guide="teacher")])
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    batch = next(iter(bpr_triples(split.train, 32)))
    _CountingPropagation.calls = 0
    distiller.compute_loss(batch, training=True)
    assert _CountingPropagation.calls == 1


def test_scratch_distiller_equals_plain_student_training(split):
    teacher, student = models(split)
    _, reference = models(split)
    distiller = Distiller(teacher, student, split.train, distillation=[])
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    reference.compile(optimizer=keras.optimizers.SGD(0.1))
    # Two pipelines with one seed: a pipeline draws anew each time it is iterated.
    distiller.fit(bpr_triples(split.train, 64, seed=5), epochs=1, verbose=0)
    reference.fit(bpr_triples(split.train, 64, seed=5), epochs=1, verbose=0)
    for a, b in zip(student.trainable_weights, reference.trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_bad_arguments_are_explained(split):
    teacher, student = models(split)
    with pytest.raises(TypeError, match="DistillationTask"):
        Distiller(teacher, student, split.train, distillation=["rrd"])
    with pytest.raises(ValueError, match="unique"):
        Distiller(teacher, student, split.train, distillation=[small_rrd(), small_rrd()])
    other = BPRMF(split.num_users + 1, split.num_items, 4)
    with pytest.raises(ValueError, match="same"):
        Distiller(teacher, other, split.train)


def test_trains_under_two_replica_mirrored_strategy(split, two_replica_strategy):
    with two_replica_strategy.scope():
        teacher, student = models(split)
        distiller = Distiller(teacher, student, split.train,
                              distillation=[small_rrd(), tasks.RCEKD(
                                  num_top=4, num_closure=4, max_rank=12)])
        distiller.compile(optimizer=keras.optimizers.Adam(0.01))
    history = distiller.fit(bpr_triples(split.train, 64), epochs=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    assert "rce_kd_loss" in history.history


@pytest.mark.parametrize("make_method, make_loss", [
    (small_rrd, losses.RRDLoss),
    (lambda: tasks.UnKD(num_groups=2, num_pairs=4, max_rank=20), losses.UnKDLoss),
    (lambda: tasks.RD(num_items=5, num_probe_items=10, dynamic_start_epoch=0),
     lambda: losses.RDLoss(num_items=90)),  # the probes' dynamic weights, in the plain path
])
def test_plain_keras_path_with_signal_dataset(split, make_method, make_loss):
    teacher, student = models(split)
    dataset = signal_dataset(make_method(), teacher, split.train, batch_size=64)
    inputs, labels = next(iter(dataset))
    assert inputs["item"].shape == labels.shape
    student.compile(optimizer=keras.optimizers.Adam(0.05), loss=make_loss())
    before = student(inputs)
    history = student.fit(dataset, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert not np.allclose(before, student(inputs))


def test_signal_dataset_draws_from_the_state_refreshed_at_epoch_begin(split):
    teacher, student = models(split)
    method = tasks.KD(num_items=5)
    dataset = signal_dataset(method, teacher, split.train, batch_size=16).repeat()
    iterator = iter(dataset)  # one iterator across epochs, as fit(steps_per_epoch=...) keeps
    next(iterator)
    time.sleep(0.5)  # room for a prefetch to run ahead
    method.refresh(student, 1)  # on_epoch_begin
    inputs, _ = next(iterator)
    np.testing.assert_array_equal(inputs["item"],
                                  tf.gather(method.guide_items, inputs["user"]))


def test_plain_keras_path_keeps_compiled_metrics(split):
    teacher, student = models(split)
    dataset = signal_dataset(small_rrd(), teacher, split.train, batch_size=64)
    student.compile(optimizer=keras.optimizers.Adam(0.05), loss=losses.RRDLoss(),
                    metrics=[keras.metrics.MeanSquaredError(name="mse")])
    history = student.fit(dataset, epochs=1, verbose=0)
    assert {"loss", "mse"} <= set(history.history)


def test_refresh_callback_logs_seconds(split):
    callback = RefreshCallback([], student=None)
    logs = {}
    callback.on_epoch_begin(0)
    callback.on_epoch_end(0, logs)
    assert logs["refresh_seconds"] >= 0
