"""Checks shared by the method tests, with NumPy references written apart from the library."""

import numpy as np

from kdtfrs._keras import tf

SEED = tf.constant([7, 11], tf.int64)
OTHER_SEED = tf.constant([7, 12], tf.int64)

#: the twelve ranking methods with item sets small enough for a 60-item catalogue
SMALL_RANKING = {
    "kd": dict(num_items=10), "blackd": dict(num_items=10), "mse": dict(num_items=10),
    "bce": dict(num_items=10),
    "rd": dict(num_items=10, num_probe_items=20, dynamic_start_epoch=1),
    "cd": dict(num_items=3, sample_num=15),
    "rrd": dict(num_interesting=5, num_uninteresting=10, max_rank=20),
    "ir_rrd": dict(num_interesting=5, num_uninteresting=10, max_rank=20, item_interesting=4,
                   item_uninteresting=8),
    "sld": dict(num_interesting=5, max_rank=20), "dcd": dict(num_items=5, max_rank=20),
    "unkd": dict(num_groups=2, num_pairs=4, max_rank=20),
    "rce_kd": dict(num_top=4, num_closure=4, max_rank=12),
}


# ---- NumPy references -----------------------------------------------------------------------


def dense(matrix):
    """bool [U, I] of an InteractionMatrix."""
    out = np.zeros((matrix.num_users, matrix.num_items), bool)
    users, items = matrix.to_pairs()
    out[users, items] = True
    return out


def model_scores(model):
    """float64 [U, I] dot-product scores of a Recommender, in NumPy."""
    user_emb, item_emb = (np.asarray(table, np.float64) for table in model.embeddings())
    return user_emb @ item_emb.T


def assert_is_top_k(lists, scores, excluded, k, atol=1e-5):
    """``lists`` [n, k] holds, per row, k non-excluded columns best first by ``scores``.

    Compared by score (ties may come in any order): the scores along each list equal the k
    largest allowed scores of its row.
    """
    assert lists.shape == (scores.shape[0], k)
    rows = np.arange(scores.shape[0])[:, None]
    assert not excluded[rows, lists].any(), "a list holds an excluded column"
    assert all(len(set(row)) == k for row in lists.tolist()), "a list repeats a column"
    allowed = np.where(excluded, -np.inf, scores)
    best = -np.sort(-allowed, axis=1)[:, :k]
    np.testing.assert_allclose(scores[rows, lists], best, atol=atol)


def position_in(lists, users, items):
    """int [B, N]: position of ``items[b, n]`` in ``lists[users[b]]``, -1 if absent."""
    rows = lists[users]
    equal = rows[:, None, :] == items[:, :, None]
    return np.where(equal.any(-1), equal.argmax(-1), -1)


# ---- contract checks ------------------------------------------------------------------------


def numpy_targets(method, features, seed=SEED):
    items, labels = method.targets(features, seed)
    return items.numpy(), labels.numpy()


def assert_targets_deterministic(method, features, sampled=True):
    """Same seed -> same targets (eagerly and in a tf.function); another seed differs."""
    items, labels = numpy_targets(method, features)
    again_items, again_labels = numpy_targets(method, features)
    np.testing.assert_array_equal(items, again_items)
    np.testing.assert_array_equal(labels, again_labels)
    graph_items, graph_labels = tf.function(method.targets)(features, SEED)
    np.testing.assert_array_equal(graph_items.numpy(), items)
    np.testing.assert_allclose(graph_labels.numpy(), labels, rtol=1e-6, equal_nan=True)
    other_items, _ = numpy_targets(method, features, OTHER_SEED)
    assert (other_items != items).any() == sampled


def assert_loss_trains_student_only(method, features, student, teacher):
    """per_row_loss is finite [B]; its gradient reaches the student, never the teacher.

    A ranking task owns no trainable variable (a Keras model that holds it, such as the
    Distiller, would train them with the student).
    """
    assert not method.trainable_variables
    variables = student.trainable_variables + teacher.variables
    with tf.GradientTape() as tape:
        tape.watch(teacher.variables)
        per_row = method.per_row_loss(features, student, SEED)
    assert per_row.shape == (features["user"].shape[0],)
    assert np.all(np.isfinite(per_row.numpy()))
    gradients = tape.gradient(per_row, variables)
    student_gradients = gradients[: len(student.trainable_variables)]
    assert all(gradient is None for gradient in gradients[len(student_gradients):])
    assert any(gradient is not None for gradient in student_gradients)
    for gradient in student_gradients:
        if gradient is not None:
            values = tf.convert_to_tensor(gradient).numpy()
            assert np.all(np.isfinite(values))
    assert any(gradient is not None and np.abs(tf.convert_to_tensor(gradient).numpy()).sum() > 0
               for gradient in student_gradients)
    return per_row.numpy()


def assert_weighted_is_weight_times_per_row(method, features, student):
    np.testing.assert_allclose(
        method.weighted_loss(features, student, SEED).numpy(),
        method.weight * method.per_row_loss(features, student, SEED).numpy(),
        rtol=1e-6,
    )


def assert_config_round_trip(method):
    config = method.get_config()
    rebuilt = type(method)(**config)
    assert rebuilt.get_config() == config
    return rebuilt
