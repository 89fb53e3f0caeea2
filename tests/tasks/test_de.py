"""DE: the projected student regressed onto the teacher over the batch's unique entities; and
the DE-RRD preset."""

import numpy as np
import pytest

from kdtfrs._keras import tf
from kdtfrs.embeddings import Embeddings
from kdtfrs.tasks.de import DE
from kdtfrs.tasks.presets import PRESETS, de_rrd
from kdtfrs.tasks.rrd import RRD
from tests.tasks import embedding_task_checks as embedding_checks
from tests.tasks import feature_checks
from tests.tasks import task_checks as checks


def prepared(signals, train, student, **kwargs):
    task = DE(**{"weight": 0.3, "num_experts": 3, **kwargs})
    task.prepare(signals, train, student)
    feature_checks.randomise(task.user_projector, 1, scale=0.3)
    feature_checks.randomise(task.item_projector, 2, scale=0.3)
    return task


@pytest.mark.parametrize("num_experts, negatives", [(1, None), (3, None), (3, 4)])
def test_loss_matches_numpy(signals, train, student, features, num_experts, negatives):
    task = prepared(signals, train, student, num_experts=num_experts)
    if negatives:
        features = feature_checks.with_negatives(features, train, negatives)
    embeddings = Embeddings.of(student)
    per_row = task.per_row_loss(features, embeddings, checks.SEED).numpy()
    expected = feature_checks.numpy_de(task, features, student, checks.SEED)
    np.testing.assert_allclose(per_row, expected, rtol=2e-4, atol=1e-5)
    checks.assert_weighted_is_weight_times_per_row(task, features, embeddings)
    np.testing.assert_allclose(float(task(features, embeddings, checks.SEED)),
                               0.3 * expected.mean(), rtol=2e-4)


def test_each_unique_entity_counts_once(signals, train, student, features):
    """Duplicating the batch's rows leaves the row sum (L_DE) unchanged: the copies add 0."""
    task = prepared(signals, train, student, num_experts=1)
    embeddings = Embeddings.of(student)
    doubled = {key: tf.concat([value, value], axis=0) for key, value in features.items()}
    per_row = task.per_row_loss(doubled, embeddings, checks.SEED).numpy()
    np.testing.assert_array_equal(per_row[12:], 0.0)
    np.testing.assert_allclose(per_row.sum(),
                               task.per_row_loss(features, embeddings, checks.SEED).numpy().sum(),
                               rtol=1e-6)


def test_gradients_reach_student_and_experts_not_teacher(signals, train, student, teacher,
                                                         features):
    task = prepared(signals, train, student)
    assert len(task.trainable_variables) == 12  # 2 projectors x (4 expert + 2 gate weights)
    embedding_checks.assert_gradients_reach_student_and_task_only(task, features, student,
                                                                  teacher)
    embedding_checks.assert_graph_equals_eager(task, features, student)


def test_refresh_anneals_the_gate_temperature(signals, train, student):
    task = prepared(signals, train, student, max_epochs=10)
    assert float(task.user_projector.temperature.numpy()) == 1.0
    task.refresh(None, 5)
    for projector in (task.user_projector, task.item_projector):
        np.testing.assert_allclose(projector.temperature.numpy(), 1e-5, rtol=1e-5)
    assert int(task.epoch.numpy()) == 5
    task.refresh(None, 20)
    np.testing.assert_allclose(task.item_projector.temperature.numpy(), 1e-10, rtol=1e-5)
    projector = task.user_projector
    task.prepare(signals, train, student)  # again: same projectors, temperature of epoch 20
    assert task.user_projector is projector
    np.testing.assert_allclose(projector.temperature.numpy(), 1e-10, rtol=1e-5)


def test_config_round_trip_and_argument_errors(signals, train):
    task = DE(weight=0.2, num_experts=4, max_epochs=50, end_temperature=1e-4, name="d")
    rebuilt = checks.assert_config_round_trip(task)
    assert rebuilt.name == "d" and rebuilt.num_experts == 4
    for kwargs, name in (({"num_experts": 0}, "num_experts"), ({"max_epochs": 1.5}, "max_epochs"),
                         ({"end_temperature": 0.0}, "end_temperature"),
                         ({"end_temperature": 2.0}, "end_temperature"),
                         ({"weight": -1.0}, "weight")):
        with pytest.raises(ValueError, match=name):
            DE(**kwargs)
    with pytest.raises(ValueError, match="student"):
        DE().prepare(signals, train)
    with pytest.raises(RuntimeError, match="prepare"):
        DE().project("users", tf.constant([0]), None, checks.SEED)


def test_two_replicas_sum_to_the_one_device_loss(two_replica_strategy, signals, train,
                                                 student, features):
    """Halves that share no entity: the replicas' losses add up to the full batch's (E = 1,
    no noise). Any batch: each replica's loss is its half's, over the global batch."""
    with two_replica_strategy.scope():
        single = prepared(signals, train, student, num_experts=1)
        task = prepared(signals, train, student)
    disjoint = feature_checks.disjoint_features(train)
    losses = embedding_checks.replica_losses(two_replica_strategy, single, disjoint, student)
    np.testing.assert_allclose(sum(losses), embedding_checks.single_device_loss(
        single, disjoint, student), rtol=1e-5)
    losses = embedding_checks.replica_losses(two_replica_strategy, task, features, student)
    for loss, half in zip(losses, embedding_checks.halves(features)):
        np.testing.assert_allclose(
            loss, embedding_checks.single_device_loss(task, half, student) / 2, rtol=1e-5)


def test_distiller_trains_experts_and_anneals(split):
    task = DE(weight=0.05, num_experts=2, max_epochs=2)
    embedding_checks.distill(split, task, epochs=2)
    np.testing.assert_allclose(task.user_projector.temperature.numpy(),
                               annealed(1, 2), rtol=1e-5)


def test_bfloat16_experts(two_replica_strategy, signals, train, student, features, split):
    """expert_dtype="bfloat16": the loss within bfloat16's precision (8 significant bits) of
    the float64 reference; named in the config only then (older configs compare equal); each
    replica's loss its half's; a Distiller trains it."""
    task = prepared(signals, train, student, expert_dtype="bfloat16")
    assert task.user_projector.expert_dtype == task.item_projector.expert_dtype == "bfloat16"
    per_row = task.per_row_loss(features, Embeddings.of(student), checks.SEED).numpy()
    expected = feature_checks.numpy_de(task, features, student, checks.SEED)
    np.testing.assert_allclose(per_row, expected, atol=2e-2 * np.abs(expected).max())
    embedding_checks.assert_graph_equals_eager(task, features, student)
    assert checks.assert_config_round_trip(task).expert_dtype == "bfloat16"
    assert "expert_dtype" not in DE().get_config()
    with pytest.raises(ValueError, match="expert_dtype='float64'"):
        DE(expert_dtype="float64")
    with two_replica_strategy.scope():
        replicated = prepared(signals, train, student, expert_dtype="bfloat16")
    losses = embedding_checks.replica_losses(two_replica_strategy, replicated, features, student)
    for loss, half in zip(losses, embedding_checks.halves(features)):
        np.testing.assert_allclose(
            loss, embedding_checks.single_device_loss(replicated, half, student) / 2,
            rtol=1e-5)
    embedding_checks.distill(split, DE(weight=0.05, num_experts=2, expert_dtype="bfloat16"))


def annealed(epoch, max_epochs):
    return max(1e-10, 1e-10 ** (epoch / max_epochs))


def test_de_rrd_preset_routes_hyperparameters():
    assert PRESETS == {"de_rrd": de_rrd}
    de, rrd = de_rrd()
    assert isinstance(de, DE) and isinstance(rrd, RRD)
    assert (de.weight, de.num_experts, rrd.weight) == (0.01, 30, 0.001)
    assert (rrd.num_interesting, rrd.num_uninteresting, rrd.max_rank) == (40, 40, 500)
    de, rrd = de_rrd(de_weight=0.1, rrd_weight=0.2, num_experts=5, rrd_num_interesting=20,
                     exclude_train=False, de_max_epochs=7, temperature=3.0)
    assert (de.weight, de.num_experts, de.max_epochs, de.exclude_train) == (0.1, 5, 7, False)
    assert (rrd.weight, rrd.num_interesting, rrd.temperature, rrd.exclude_train) == (
        0.2, 20, 3.0, False)
    assert de_rrd(expert_dtype="bfloat16")[0].expert_dtype == "bfloat16"
    with pytest.raises(TypeError, match="unexpected hyperparameter 'num_expert'"):
        de_rrd(num_expert=5)
