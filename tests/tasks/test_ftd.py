"""FTD: the student reproduces every teacher cosine among the batch's users and items."""

import numpy as np
import pytest

from kdtfrs._keras import tf
from kdtfrs.embeddings import Embeddings
from kdtfrs.tasks.topology import (FTD, batch_entities, cosine_matrix, entity_vectors,
                                   spread_over_rows)
from tests.tasks import embedding_task_checks as embedding_checks
from tests.tasks import task_checks as checks


@pytest.fixture(scope="module")
def ftd(signals, train):
    task = FTD(weight=0.2)
    task.prepare(signals, train)
    return task


def numpy_ftd(teacher, student, features):
    """float64: Σ_{a,b ∈ E_B} (cos_T − cos_S)², E_B = unique users then unique items."""
    users = np.unique(features["user"].numpy())
    items = np.unique(np.concatenate([features["pos_item"].numpy(),
                                      features["neg_item"].numpy().ravel()]))
    vectors = []
    for user_table, item_table in (embedding_checks.tables(teacher),
                                   embedding_checks.tables(student)):
        vectors.append(np.concatenate([user_table[users], item_table[items]]))
    return ((embedding_checks.cosines(vectors[0]) - embedding_checks.cosines(vectors[1])) ** 2
            ).sum()


def test_loss_matches_numpy_and_is_spread_over_rows(ftd, student, features):
    expected = numpy_ftd(ftd.teacher, student, features)
    assert expected > 0
    per_row = ftd.per_row_loss(features, Embeddings.of(student), checks.SEED).numpy()
    np.testing.assert_allclose(per_row, np.full(12, expected / 12), rtol=1e-5)
    np.testing.assert_allclose(ftd(features, student), 0.2 * expected / 12, rtol=1e-5)
    checks.assert_weighted_is_weight_times_per_row(ftd, features, Embeddings.of(student))


def test_the_gram_form_has_the_pairwise_forms_value_and_gradients(ftd, student, features):
    """``‖TᵀT‖² − 2‖TᵀS‖² + ‖SᵀS‖²`` against the |E_B| x |E_B| cosine matrices it replaces."""
    users, items = batch_entities(features)
    teacher = entity_vectors(ftd.teacher, users, items)

    def pairwise():
        vectors = entity_vectors(Embeddings.of(student), users, items)
        return tf.reduce_sum(tf.square(cosine_matrix(teacher, teacher)
                                       - cosine_matrix(vectors, vectors)))

    values, gradients = [], []
    for loss in (pairwise, lambda: ftd.batch_loss(features, Embeddings.of(student))):
        with tf.GradientTape() as tape:
            values.append(loss())
        gradients.append(tape.gradient(values[-1], student.trainable_variables))
    np.testing.assert_allclose(values[1], values[0], rtol=1e-5)
    for gram, reference in zip(*gradients):
        reference = tf.convert_to_tensor(reference).numpy()
        assert np.abs(reference).max() > 1e-3
        np.testing.assert_allclose(tf.convert_to_tensor(gram), reference, rtol=1e-4, atol=1e-7)


def test_entities_are_unique_users_and_items_of_the_batch(ftd, student, features):
    users, items = (ids.numpy() for ids in batch_entities(features))
    assert sorted(users) == sorted(set(features["user"].numpy()))
    both = set(features["pos_item"].numpy()) | set(features["neg_item"].numpy().ravel())
    assert sorted(items) == sorted(both)
    # A repeated row adds no entity, hence no relation.
    repeated = {k: tf.concat([v, v[:3]], axis=0) for k, v in features.items()}
    np.testing.assert_allclose(ftd.batch_loss(repeated, Embeddings.of(student)),
                               ftd.batch_loss(features, Embeddings.of(student)), rtol=1e-6)


def test_zero_when_the_student_is_a_rotated_and_scaled_teacher(ftd, signals, features):
    teacher_users, teacher_items = embedding_checks.tables(signals.teacher)
    rotation, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((16, 16)))
    copy = Embeddings.from_tables(tf.constant(3.0 * teacher_users @ rotation, tf.float32),
                                  tf.constant(0.5 * teacher_items @ rotation, tf.float32))
    assert float(ftd.batch_loss(features, copy)) == pytest.approx(0.0, abs=1e-6)


def test_gradients_reach_the_student_only(ftd, student, teacher, features):
    assert not ftd.trainable_variables
    embedding_checks.assert_gradients_reach_student_and_task_only(ftd, features, student,
                                                                  teacher)
    embedding_checks.assert_graph_equals_eager(ftd, features, student)


def test_config_round_trip(ftd):
    assert checks.assert_config_round_trip(ftd).weight == 0.2
    assert FTD().weight == 0.001
    with pytest.raises(ValueError, match="weight"):
        FTD(weight=float("nan"))
    with pytest.raises(RuntimeError, match="prepare"):
        FTD().batch_loss({"user": tf.constant([0])}, None)


def test_spread_over_rows():
    np.testing.assert_allclose(spread_over_rows(tf.constant(6.0), tf.constant(4)), [1.5] * 4)


def test_each_replica_relates_its_own_sub_batch(two_replica_strategy, signals, train, student,
                                                features):
    """Relations do not decompose over replicas: replica r's loss is the one-device loss of
    its half divided by the 2 replicas (pairs across halves are left out)."""
    with two_replica_strategy.scope():
        task = FTD(weight=0.2)
        task.prepare(signals, train)
    losses = embedding_checks.replica_losses(two_replica_strategy, task, features, student)
    for loss, half in zip(losses, embedding_checks.halves(features)):
        np.testing.assert_allclose(
            loss, embedding_checks.single_device_loss(task, half, student) / 2, rtol=1e-5)
    whole = embedding_checks.single_device_loss(task, features, student)
    assert not np.isclose(sum(losses), whole, rtol=1e-3)


def test_distiller_trains_the_student(split):
    embedding_checks.distill(split, FTD(weight=0.01))
