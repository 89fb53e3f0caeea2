"""BidirectionalDistiller: both learn, one step's loss, schedule, resume, replicas, CLI."""

import json

import numpy as np
import pytest

from kdtfrs import Distiller, samplers, tasks
from kdtfrs._keras import keras
from kdtfrs.bidirectional import BidirectionalDistiller
from kdtfrs.data import bpr_triples, make_synthetic, split_random
from kdtfrs.fitting import FitConfig, fit_model
from kdtfrs.models import BPRMF
from kdtfrs.run_guards import RunInterrupted
from kdtfrs.tasks import step_seed
from tests.run_helpers import FAST, run
from tests.test_resumable import Interrupt


@pytest.fixture(scope="module")
def split():
    return split_random(make_synthetic(num_users=60, num_items=70, num_clusters=3,
                                       mean_interactions_per_user=8, seed=0), seed=0)


def models(split):
    teacher = BPRMF(split.num_users, split.num_items, 16, init_stddev=0.5, seed=1)
    student = BPRMF(split.num_users, split.num_items, 4, init_stddev=0.1, seed=2)
    return teacher, student


def weights(model):
    return [w.numpy().copy() for w in model.trainable_weights]


def changed(before, model):
    return any(not np.allclose(b, w.numpy()) for b, w in zip(before, model.trainable_weights))


def bce(targets, logits, temperature):
    """float64 per-row Σ BCE(logits, σ(targets / τ)), by its definition."""
    labels = 1.0 / (1.0 + np.exp(-targets / temperature))
    log_p, log_not_p = -np.logaddexp(0.0, -logits), -np.logaddexp(0.0, logits)
    return -(labels * log_p + (1.0 - labels) * log_not_p).sum(axis=-1)


def test_both_models_learn_where_the_frozen_teacher_distiller_trains_the_student_only(split):
    teacher, student = models(split)
    bd = BidirectionalDistiller(teacher, student, split.train, pool_size=16)
    teacher_before, student_before = weights(teacher), weights(student)
    bd.compile(optimizer=keras.optimizers.Adam(0.02))
    history = bd.fit(bpr_triples(split.train, 64), epochs=2, verbose=0)
    assert changed(teacher_before, teacher) and changed(student_before, student)
    for key in ("loss", "teacher_base_loss", "student_base_loss", "teacher_bd_loss",
                "student_bd_loss", "refresh_seconds"):
        assert np.all(np.isfinite(history.history[key])), key
    assert bd.teacher_optimizer is not bd.optimizer
    assert bd.teacher_optimizer.get_config() == bd.optimizer.get_config()

    teacher, student = models(split)
    teacher_before, student_before = weights(teacher), weights(student)
    distiller = Distiller(teacher, student, split.train, [tasks.BCE(num_items=4)])
    distiller.compile(optimizer=keras.optimizers.Adam(0.02))
    distiller.fit(bpr_triples(split.train, 64), epochs=2, verbose=0)
    assert changed(student_before, student) and not changed(teacher_before, teacher)


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_one_step_is_each_models_base_loss_plus_its_weighted_bce(split, run_eagerly):
    teacher, student = models(split)
    bd = BidirectionalDistiller(teacher, student, split.train, teacher_weight=0.3,
                                student_weight=0.7, teacher_temperature=2.0,
                                student_temperature=3.0, num_items=3, pool_size=8, seed=5)
    bd.compile(optimizer=keras.optimizers.SGD(0.0), run_eagerly=run_eagerly)
    bd.refresh(0)
    batch = next(iter(bpr_triples(split.train, 32)))
    users = batch["user"]
    teacher_items = samplers.draw_from_pools(bd.teacher_pool, users, 3, step_seed(0, 5, 0)).numpy()
    student_items = samplers.draw_from_pools(bd.student_pool, users, 3, step_seed(0, 5, 1)).numpy()
    t_scores, s_scores = (np.asarray(m.score_all(users), np.float64) for m in (teacher, student))
    rows = np.arange(32)[:, None]
    teacher_term = 0.3 * bce(s_scores[rows, teacher_items], t_scores[rows, teacher_items],
                             3.0).mean()
    student_term = 0.7 * bce(t_scores[rows, student_items], s_scores[rows, student_items],
                             2.0).mean()
    logs = bd.train_on_batch(batch, return_dict=True)
    np.testing.assert_allclose(logs["teacher_bd_loss"], teacher_term, rtol=1e-5)
    np.testing.assert_allclose(logs["student_bd_loss"], student_term, rtol=1e-5)
    np.testing.assert_allclose(logs["teacher_base_loss"], teacher.compute_loss(batch), rtol=1e-5)
    np.testing.assert_allclose(
        logs["loss"], logs["teacher_base_loss"] + logs["student_base_loss"] + teacher_term
        + student_term, rtol=1e-5)


def test_warmup_trains_each_model_alone_and_refreshes_every_n_epochs(split):
    teacher, student = models(split)
    bd = BidirectionalDistiller(teacher, student, split.train, warmup_epochs=2,
                                refresh_every=3, pool_size=8)
    assert [epoch for epoch in range(9) if bd.refresh_due(epoch)] == [2, 5, 8]
    alone = BidirectionalDistiller(teacher, student, split.train, teacher_weight=0.0,
                                   student_weight=0.0)
    assert not any(alone.refresh_due(epoch) for epoch in range(9))  # nothing to draw for
    bd.compile(optimizer=keras.optimizers.Adam(0.02))
    triples = bpr_triples(split.train, 64)
    warmup = bd.fit(triples, epochs=2, verbose=0).history
    assert warmup["teacher_bd_loss"] == warmup["student_bd_loss"] == [0.0, 0.0]
    assert not bd.student_pool.numpy().any()  # not drawn yet
    after = bd.fit(triples, epochs=4, initial_epoch=2, verbose=0).history
    assert all(value > 0 for value in after["teacher_bd_loss"] + after["student_bd_loss"])
    assert bd.student_pool.numpy().any()


def test_config_round_trip_and_checked_arguments(split):
    teacher, student = models(split)
    bd = BidirectionalDistiller(teacher, student, split.train, teacher_weight=0.2,
                                rank_direction="notebook", warmup_epochs=3, seed=4)
    config = bd.get_config()
    assert BidirectionalDistiller(teacher, student, split.train, **config).get_config() == config
    with pytest.raises(ValueError, match="rank_direction"):
        BidirectionalDistiller(teacher, student, split.train, rank_direction="up")
    with pytest.raises(ValueError, match="pool_size"):
        BidirectionalDistiller(teacher, student, split.train, pool_size=0)
    with pytest.raises(ValueError, match="frozen"):
        BidirectionalDistiller(models(split)[0].freeze(), student, split.train)
    with pytest.raises(ValueError, match="same"):
        BidirectionalDistiller(BPRMF(split.num_users + 1, split.num_items, 4), student,
                               split.train)


FIT = FitConfig(epochs=4, batch_size=64, learning_rate=0.02, patience=10)


def fit_bd(split, checkpoint_dir=None, callbacks=()):
    teacher, student = models(split)
    bd = BidirectionalDistiller(teacher, student, split.train, refresh_every=2, pool_size=8,
                                warmup_epochs=1)
    history = fit_model(bd, student, split, FIT, checkpoint_dir, verbose=0, callbacks=callbacks)
    return bd, history


def test_an_interrupted_run_resumes_both_models_from_the_same_epoch(split, tmp_path):
    reference, reference_history = fit_bd(split)
    with pytest.raises(RunInterrupted) as interrupted:
        fit_bd(split, tmp_path, callbacks=[Interrupt(epoch=1, batch=1)])
    assert interrupted.value.epochs_done == 1
    resumed, history = fit_bd(split, tmp_path)
    for model in ("teacher", "student"):
        for got, expected in zip(getattr(resumed, model).get_weights(),
                                 getattr(reference, model).get_weights()):
            np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(resumed.student_pool.numpy(), reference.student_pool.numpy())
    assert history.history["loss"] == reference_history.history["loss"]


def test_trains_under_two_replica_mirrored_strategy(split, two_replica_strategy):
    with two_replica_strategy.scope():
        teacher, student = models(split)
        bd = BidirectionalDistiller(teacher, student, split.train, pool_size=8)
        bd.compile(optimizer=keras.optimizers.Adam(0.02))
    teacher_before = weights(teacher)
    history = bd.fit(bpr_triples(split.train, 64), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert all(value > 0 for value in history.history["teacher_bd_loss"])
    assert changed(teacher_before, teacher)


@pytest.mark.slow
def test_distill_bd_writes_both_models(tmp_path):
    assert run("train", "--dataset", "synthetic", "--epochs", 2, "--output",
               tmp_path / "teacher", *FAST) == 0
    assert run("distill", "--teacher", tmp_path / "teacher", "--method", "bd", "--epochs", 2,
               "--param", "pool_size=8", "--param", "rank_direction=notebook",
               "--output", tmp_path / "bd", *FAST) == 0
    student = json.loads((tmp_path / "bd" / "model.json").read_text())["extra"]
    teacher = json.loads((tmp_path / "bd" / "teacher" / "model.json").read_text())["extra"]
    assert student["method"] == "bd" and student["method_config"]["rank_direction"] == "notebook"
    assert teacher["role"] == "the teacher trained with the student"
    assert run("evaluate", "--model-dir", tmp_path / "bd" / "teacher") == 0
    assert run("distill", "--teachers", tmp_path / "teacher", "--method", "bd",
               "--output", tmp_path / "bd2", *FAST) == 2
    assert run("distill", "--teacher", tmp_path / "teacher", "--method", "bd",
               "--param", "tmperature=2", "--output", tmp_path / "bd3", *FAST) == 2
