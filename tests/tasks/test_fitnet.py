"""FitNet: the MLP-projected student regressed onto the teacher (batch or sampled entities)."""

import numpy as np
import pytest

from kdtfrs import samplers
from kdtfrs._keras import tf
from kdtfrs.embeddings import Embeddings
from kdtfrs.samplers import draws_without_replacement
from kdtfrs.tasks.fitnet import FitNet, HintProjector
from tests.tasks import embedding_task_checks as embedding_checks
from tests.tasks import feature_checks
from tests.tasks import task_checks as checks


def prepared(signals, train, student, **kwargs):
    task = FitNet(**{"weight": 0.3, "hidden_ratio": 0.5, **kwargs})
    task.prepare(signals, train, student)
    feature_checks.randomise(task.user_projector, 1, scale=0.4)
    feature_checks.randomise(task.item_projector, 2, scale=0.4)
    return task


def numpy_hint(projector, vectors, seed=None):
    """float64 [N, d_T]: the projector's MLP; with ``seed``, its dropouts (the masks are those
    ``stateless_dropout`` draws for ``split_seed(seed, layers)``)."""
    outputs = feature_checks.as64(vectors)
    seeds = samplers.split_seed(seed, len(projector.kernels)) if seed is not None else None
    for index, (kernel, bias) in enumerate(zip(projector.kernels, projector.biases)):
        if index:
            outputs = np.maximum(outputs, 0.0)
        if seeds is not None and projector.dropout:
            mask = tf.nn.experimental.stateless_dropout(
                tf.ones(outputs.shape), projector.dropout, seeds[index]).numpy()
            outputs = outputs * mask
        outputs = outputs @ feature_checks.as64(kernel) + feature_checks.as64(bias)
    return outputs


def numpy_fitnet(task, features, student, seed=checks.SEED, training=False):
    """float64 [B]: FitNet per row. Seed layout: ``split_seed(seed, 3)`` = (users' dropout,
    items' dropout, sampled entities)."""
    teacher_users, teacher_items = feature_checks.tables(task.teacher)
    student_users, student_items = feature_checks.tables(student)
    user_seed, item_seed, entity_seed = samplers.split_seed(seed, 3)

    def errors(teacher, student_vectors, projector, dropout_seed):
        projected = numpy_hint(projector, student_vectors, dropout_seed if training else None)
        if task.cosine:
            cosine = (teacher * projected).sum(-1) / (
                np.linalg.norm(teacher, axis=-1) * np.linalg.norm(projected, axis=-1))
            return 1.0 - cosine
        return ((teacher - projected) ** 2).sum(-1)

    batch = features["user"].shape[0]
    if task.entities == "sampled":
        users, items = (ids.numpy() for ids in task.sampled_entities(features, entity_seed))
        return (errors(teacher_users[users], student_users[users], task.user_projector,
                       user_seed)
                + errors(teacher_items[items], student_items[items], task.item_projector,
                         item_seed))
    users, user_rows = feature_checks.unique_rows(features["user"].numpy())
    items, item_rows = feature_checks.unique_rows(np.concatenate(
        [features["pos_item"].numpy()[:, None], features["neg_item"].numpy()], axis=1))
    return (feature_checks.on_rows(errors(teacher_users[users], student_users[users],
                                          task.user_projector, user_seed), user_rows, batch)
            + feature_checks.on_rows(errors(teacher_items[items], student_items[items],
                                            task.item_projector, item_seed), item_rows, batch))


@pytest.mark.parametrize("kwargs", [
    {}, {"cosine": True}, {"linear": True}, {"entities": "sampled"},
    {"entities": "sampled", "cosine": True, "linear": True},
])
def test_loss_matches_numpy(signals, train, student, features, kwargs):
    task = prepared(signals, train, student, **kwargs)
    wider = feature_checks.with_negatives(features, train, 3)
    embeddings = Embeddings.of(student)
    for batch in (features, wider):
        np.testing.assert_allclose(task.per_row_loss(batch, embeddings, checks.SEED),
                                   numpy_fitnet(task, batch, student), rtol=2e-4, atol=1e-5)
    checks.assert_weighted_is_weight_times_per_row(task, features, embeddings)
    np.testing.assert_allclose(float(task(features, embeddings, checks.SEED)),
                               0.3 * numpy_fitnet(task, features, student).mean(), rtol=2e-4)


@pytest.mark.parametrize("kwargs", [{}, {"linear": True, "entities": "sampled"}])
def test_dropout_acts_in_training_only(signals, train, student, features, kwargs):
    task = prepared(signals, train, student, dropout=0.4, **kwargs)
    embeddings = Embeddings.of(student)
    trained = task.per_row_loss(features, embeddings, checks.SEED, training=True).numpy()
    np.testing.assert_allclose(trained, numpy_fitnet(task, features, student, training=True),
                               rtol=2e-4, atol=1e-5)
    assert not np.allclose(trained, numpy_fitnet(task, features, student))
    np.testing.assert_allclose(float(task(features, embeddings, checks.SEED, training=True)),
                               0.3 * trained.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(task(features, embeddings, checks.SEED)),
                               0.3 * numpy_fitnet(task, features, student).mean(), rtol=2e-4)
    graph = tf.function(lambda f, s: task(f, embeddings, s, training=True))(features,
                                                                          checks.SEED)
    np.testing.assert_allclose(float(graph), 0.3 * trained.mean(), rtol=1e-5)


def test_sampled_entities_are_distinct_seeded_draws(signals, train, student, features):
    task = prepared(signals, train, student, entities="sampled")
    users, items = (ids.numpy() for ids in task.sampled_entities(features, checks.SEED))
    assert users.shape == items.shape == (12,)
    assert len(set(users)) == 12 and len(set(items)) == 12
    assert 0 <= users.min() and users.max() < train.num_users
    assert 0 <= items.min() and items.max() < train.num_items
    np.testing.assert_array_equal(task.sampled_entities(features, checks.SEED)[0], users)
    assert (task.sampled_entities(features, checks.OTHER_SEED)[0].numpy() != users).any()
    draws = draws_without_replacement(tf.constant(23), 10, checks.SEED).numpy()
    assert sorted(draws[:10]) == list(range(10))
    np.testing.assert_array_equal(draws[10:20], draws[:10])


@pytest.mark.parametrize("kwargs", [{}, {"entities": "sampled", "cosine": True}])
def test_gradients_reach_student_and_projectors_not_teacher(signals, train, student, teacher,
                                                            features, kwargs):
    task = prepared(signals, train, student, **kwargs)
    assert len(task.trainable_variables) == 8  # 2 projectors x 2 Dense layers
    embedding_checks.assert_gradients_reach_student_and_task_only(task, features, student,
                                                                  teacher)
    embedding_checks.assert_graph_equals_eager(task, features, student)


def test_projector_shapes_config_and_argument_errors(signals, train, student):
    task = FitNet()
    task.prepare(signals, train, student)
    assert [tuple(v.shape) for v in task.user_projector.trainable_variables] == [
        (4, 80), (80,), (80, 16), (16,)]  # hidden = 5 x d_T
    linear = FitNet(linear=True)
    linear.prepare(signals, train, student)
    assert [tuple(v.shape) for v in linear.item_projector.trainable_variables] == [(4, 16), (16,)]
    projector = task.user_projector
    task.prepare(signals, train, student)
    assert task.user_projector is projector
    task = FitNet(weight=0.2, entities="sampled", dropout=0.1, hidden_ratio=2.0, linear=True,
                  cosine=True, name="f")
    rebuilt = checks.assert_config_round_trip(task)
    assert rebuilt.name == "f" and rebuilt.cosine
    assert (FitNet().weight, FitNet().dropout, FitNet().hidden_ratio) == (0.05, 0.2, 5.0)
    for kwargs, name in (({"entities": "all"}, "entities='all'"), ({"linear": 1}, "linear=1"),
                         ({"cosine": "yes"}, "cosine"), ({"dropout": 1.0}, "dropout"),
                         ({"dropout": -0.1}, "dropout"), ({"hidden_ratio": 0}, "hidden_ratio")):
        with pytest.raises(ValueError, match=name):
            FitNet(**kwargs)
    with pytest.raises(ValueError, match="student"):
        FitNet().prepare(signals, train)
    with pytest.raises(ValueError, match="dropout"):
        HintProjector(4, dropout=1.5)


def test_two_replicas(two_replica_strategy, signals, train, student, features):
    """Halves sharing no entity: the replicas add up to the one-device loss of the full batch;
    sampled entities: each replica's loss is its half's, over the global batch."""
    with two_replica_strategy.scope():
        task = prepared(signals, train, student)
        sampled = prepared(signals, train, student, entities="sampled", name="sampled")
    disjoint = feature_checks.disjoint_features(train)
    losses = embedding_checks.replica_losses(two_replica_strategy, task, disjoint, student)
    np.testing.assert_allclose(sum(losses), embedding_checks.single_device_loss(
        task, disjoint, student), rtol=1e-5)
    losses = embedding_checks.replica_losses(two_replica_strategy, sampled, features, student)
    for loss, half in zip(losses, embedding_checks.halves(features)):
        np.testing.assert_allclose(
            loss, embedding_checks.single_device_loss(sampled, half, student) / 2, rtol=1e-5)


def test_distiller_trains_projectors(split):
    embedding_checks.distill(split, FitNet(weight=0.05, hidden_ratio=0.5), epochs=1)
