"""VkD: the orthogonally projected student regressed onto the centred teacher."""

import numpy as np
import pytest

from kdtfrs._keras import tf
from kdtfrs.embeddings import Embeddings
from kdtfrs.tasks.vkd import VkD
from tests.tasks import embedding_task_checks as embedding_checks
from tests.tasks import task_checks as checks


def prepared(signals, train, student, randomise=True, **kwargs):
    task = VkD(**{"weight": 0.3, **kwargs})
    task.prepare(signals, train, student)
    if randomise:  # W far from its base, so that a wrong projector shows
        rng = np.random.default_rng(4)
        for projector in (task.user_projector, task.item_projector):
            projector.generator.assign(0.2 * rng.standard_normal(projector.generator.shape))
    return task


def numpy_vkd(task, features, student, seed=checks.SEED):
    """float64 [B]: per-row VkD losses from the tables and the projectors' kernels."""
    teacher_users, teacher_items = embedding_checks.tables(task.teacher)
    student_users, student_items = embedding_checks.tables(student)
    user_kernel = task.user_projector.kernel.numpy().astype(np.float64)
    item_kernel = task.item_projector.kernel.numpy().astype(np.float64)

    def errors(teacher, student_vectors, kernel):
        if task.center:
            teacher = teacher - teacher.mean(axis=0)
        projected = student_vectors @ kernel
        if task.normalize:
            teacher = teacher / np.linalg.norm(teacher, axis=-1, keepdims=True)
            projected = projected / np.linalg.norm(projected, axis=-1, keepdims=True)
        return ((teacher - projected) ** 2).sum(-1)

    if task.entities == "random":
        users, items = (ids.numpy() for ids in task.random_entities(features, seed))
        return (errors(teacher_users[users], student_users[users], user_kernel)
                + errors(teacher_items[items], student_items[items], item_kernel))
    users = features["user"].numpy()
    items = np.concatenate([features["pos_item"].numpy()[:, None],
                            features["neg_item"].numpy()], axis=1)
    item_errors = errors(teacher_items[items.ravel()], student_items[items.ravel()],
                         item_kernel).reshape(items.shape)
    return (errors(teacher_users[users], student_users[users], user_kernel)
            + 0.5 * (item_errors[:, 0] + item_errors[:, 1:].mean(1)))


@pytest.mark.parametrize("kwargs", [
    {}, {"center": False}, {"normalize": True}, {"entities": "batch"},
    {"entities": "batch", "center": False, "normalize": True},
])
def test_loss_matches_numpy(signals, train, student, features, kwargs):
    task = prepared(signals, train, student, **kwargs)
    per_row = task.per_row_loss(features, Embeddings.of(student), checks.SEED).numpy()
    np.testing.assert_allclose(per_row, numpy_vkd(task, features, student), rtol=2e-5)
    checks.assert_weighted_is_weight_times_per_row(task, features, Embeddings.of(student))


def test_batch_mode_with_several_negatives(signals, train, student, features):
    task = prepared(signals, train, student, entities="batch")
    rng = np.random.default_rng(8)
    wider = {**features, "neg_item": tf.constant(rng.integers(0, train.num_items, (12, 3)),
                                                 tf.int32)}
    np.testing.assert_allclose(task.per_row_loss(wider, Embeddings.of(student), checks.SEED),
                               numpy_vkd(task, wider, student), rtol=2e-5)


def test_random_entities_are_distinct_seeded_draws(signals, train, student, features):
    task = prepared(signals, train, student)
    users, items = (ids.numpy() for ids in task.random_entities(features, checks.SEED))
    assert users.shape == items.shape == (12,)
    assert len(set(users)) == 12 and len(set(items)) == 12
    assert users.min() >= 0 and users.max() < train.num_users
    assert items.min() >= 0 and items.max() < train.num_items
    again, _ = task.random_entities(features, checks.SEED)
    np.testing.assert_array_equal(again.numpy(), users)
    other, _ = task.random_entities(features, checks.OTHER_SEED)
    assert (other.numpy() != users).any()


def test_gradients_reach_student_and_projectors_not_teacher(signals, train, student, teacher,
                                                            features):
    task = prepared(signals, train, student)
    assert len(task.trainable_variables) == 2  # the two generators; the bases are fixed
    embedding_checks.assert_gradients_reach_student_and_task_only(task, features, student,
                                                                  teacher)
    embedding_checks.assert_graph_equals_eager(task, features, student)


def test_config_round_trip_and_argument_errors(signals, train, student):
    task = VkD(weight=0.2, entities="batch", center=False, normalize=True, name="v")
    rebuilt = checks.assert_config_round_trip(task)
    assert rebuilt.get_config()["entities"] == "batch" and rebuilt.name == "v"
    with pytest.raises(ValueError, match="entities.*received entities='all'"):
        VkD(entities="all")
    with pytest.raises(ValueError, match="center.*received center=1"):
        VkD(center=1)
    with pytest.raises(ValueError, match="weight"):
        VkD(weight=-1.0)
    with pytest.raises(ValueError, match="student"):
        VkD().prepare(signals, train)
    with pytest.raises(RuntimeError, match="prepare"):
        VkD().random_entities({"user": tf.constant([0])}, checks.SEED)


def test_prepare_builds_projectors_of_the_student_width(signals, train, student):
    task = VkD()
    task.prepare(signals, train, student)
    assert task.user_projector.kernel.shape == (4, 16)
    projector = task.user_projector
    task.prepare(signals, train, student)  # again: same widths, same variables
    assert task.user_projector is projector


def test_two_replicas_center_over_the_global_batch(two_replica_strategy, signals, train,
                                                   student, features):
    """Batch entities: the replicas' summed losses equal the one-device loss exactly (the
    teacher mean is all-reduced over the replicas)."""
    with two_replica_strategy.scope():
        task = prepared(signals, train, student, entities="batch")
    losses = embedding_checks.replica_losses(two_replica_strategy, task, features, student)
    np.testing.assert_allclose(sum(losses),
                               embedding_checks.single_device_loss(task, features, student),
                               rtol=1e-5)
    local = embedding_checks.single_device_loss(
        task, embedding_checks.halves(features)[0], student) / 2
    assert not np.isclose(losses[0], local, rtol=1e-4)  # centred over both halves, not one


def test_two_replicas_draw_their_own_random_entities(two_replica_strategy, signals, train,
                                                     student, features):
    """Random entities: each replica draws B/2 users and items from its seed; its loss is the
    one-device loss of its half (same seed), divided by the 2 replicas."""
    with two_replica_strategy.scope():
        task = prepared(signals, train, student, center=False)
    losses = embedding_checks.replica_losses(two_replica_strategy, task, features, student)
    for loss, half in zip(losses, embedding_checks.halves(features)):
        np.testing.assert_allclose(
            loss, embedding_checks.single_device_loss(task, half, student) / 2, rtol=1e-5)


def test_distiller_trains_projectors_and_keeps_them_orthogonal(split):
    task = VkD(weight=0.05)
    embedding_checks.distill(split, task)
    for projector in (task.user_projector, task.item_projector):
        kernel = projector.kernel.numpy()
        np.testing.assert_allclose(kernel @ kernel.T, np.eye(4), atol=1e-5)
