"""Checks shared by the tasks that read embeddings and may own variables (VkD, FTD, HTD)."""

import numpy as np

from kdtfrs import Distiller
from kdtfrs._keras import keras, tf
from kdtfrs.data import bpr_triples
from kdtfrs.embeddings import Embeddings
from kdtfrs.models import BPRMF
from tests.tasks.task_checks import SEED


def tables(model_or_embeddings):
    """(users, items) float64 NumPy tables of a model or an ``Embeddings``."""
    return tuple(np.asarray(t, np.float64) for t in Embeddings.of(model_or_embeddings).tables())


def cosines(vectors):
    """float64 [N, N] cosine matrix, in NumPy."""
    unit = vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)
    return unit @ unit.T


def assert_gradients_reach_student_and_task_only(task, features, student, teacher):
    """The weighted loss reaches the student and every trainable task variable, never the
    teacher model (nor the frozen teacher signals); the teacher's weights stay as they were."""
    teacher_before = [w.numpy().copy() for w in teacher.weights]
    owned = task.trainable_variables
    variables = student.trainable_variables + owned + teacher.variables
    with tf.GradientTape() as tape:
        tape.watch(teacher.variables)
        loss = tf.reduce_mean(task.weighted_loss(features, Embeddings.of(student, True), SEED))
    gradients = tape.gradient(loss, variables)
    count = len(student.trainable_variables)
    student_gradients, owned_gradients = gradients[:count], gradients[count:count + len(owned)]
    assert all(g is None for g in gradients[count + len(owned):])
    for group in (student_gradients, owned_gradients):
        for gradient in group:
            assert gradient is not None
            values = tf.convert_to_tensor(gradient).numpy()
            assert np.all(np.isfinite(values)) and np.abs(values).sum() > 0
    for before, after in zip(teacher_before, teacher.weights):
        np.testing.assert_array_equal(before, after.numpy())
    return float(loss)


def assert_graph_equals_eager(task, features, student, rtol=1e-5):
    embeddings = Embeddings.of(student)
    eager = task.weighted_loss(features, embeddings, SEED).numpy()
    graph = tf.function(lambda f, s: task.weighted_loss(f, embeddings, s))(features, SEED)
    np.testing.assert_allclose(graph.numpy(), eager, rtol=rtol, atol=1e-7)


def halves(features):
    half = int(features["user"].shape[0]) // 2
    return ({k: v[:half] for k, v in features.items()},
            {k: v[half:] for k, v in features.items()})


def replica_losses(strategy, task, features, student, seed=SEED):
    """The task's loss on each of two replicas, replica r holding half r of ``features``.

    ``task`` must have been built (and prepared) in ``strategy.scope()``.
    """
    parts = halves(features)
    values = strategy.experimental_distribute_values_from_function(
        lambda context: parts[context.replica_id_in_sync_group])
    embeddings = Embeddings.of(student)

    @tf.function
    def run(batch):
        return strategy.run(lambda b: task(b, embeddings, seed=seed), args=(batch,))

    return [float(loss) for loss in strategy.experimental_local_results(run(values))]


def single_device_loss(task, features, student, seed=SEED):
    """``task(features)`` on one device: the weighted loss averaged over the rows."""
    return float(tf.reduce_mean(task.weighted_loss(features, Embeddings.of(student), seed)))


def distill(split, task, epochs=2, batch_size=64):
    """Fits a Distiller(teacher, student, split.train, [task]) for ``epochs``; returns
    (distiller, history, teacher weights before, task variables before)."""
    teacher = BPRMF(split.num_users, split.num_items, 16, init_stddev=0.5, seed=1)
    student = BPRMF(split.num_users, split.num_items, 4, init_stddev=0.1, seed=2)
    teacher_before = [w.numpy().copy() for w in teacher.weights]
    distiller = Distiller(teacher, student, split.train, distillation=[task])
    task_before = [v.numpy().copy() for v in task.trainable_variables]
    student_before = [v.numpy().copy() for v in student.trainable_variables]
    distiller.compile(optimizer=keras.optimizers.Adam(0.05))
    history = distiller.fit(bpr_triples(split.train, batch_size), epochs=epochs, verbose=0)
    for before, after in zip(teacher_before, teacher.weights):
        np.testing.assert_array_equal(before, after.numpy())
    trained = {v.ref() for v in distiller.trainable_variables}
    assert all(v.ref() in trained for v in task.trainable_variables)
    assert {v.ref() for v in student.trainable_variables} <= trained
    for before, variable in zip(task_before, task.trainable_variables):
        assert not np.allclose(before, variable.numpy()), variable.name
    assert any(not np.allclose(b, v.numpy())
               for b, v in zip(student_before, student.trainable_variables))
    assert np.all(np.isfinite(history.history[f"{task.name}_loss"]))
    return distiller, history
