"""The list math under the ranking losses: cumulative sums in blocks, and teacher order that
leaves rows already in it as they are."""

import numpy as np
import pytest

from kdtfrs._keras import tf
from kdtfrs.losses._utils import (
    row_cumsum,
    sorted_by_teacher,
    take_along_rows,
    teacher_order,
    teacher_positions,
)


@pytest.mark.parametrize("width", [1, 15, 16, 17, 300])
@pytest.mark.parametrize("reverse", [False, True])
def test_row_cumsum_matches_numpy_and_tensorflows_gradient(width, reverse):
    rng = np.random.default_rng(width)
    values = tf.constant(rng.standard_normal((5, width)), tf.float32)
    weights = tf.constant(rng.standard_normal((5, width)), tf.float32)

    def sums_and_gradient(cumsum):
        with tf.GradientTape() as tape:
            tape.watch(values)
            sums = cumsum(values)
            total = tf.reduce_sum(weights * sums)
        return sums, tape.gradient(total, values)

    def in_blocks(x):
        return row_cumsum(x, reverse=reverse)

    def scanned(x):
        return tf.math.cumsum(x, axis=-1, reverse=reverse)

    sums, gradient = tf.function(sums_and_gradient, reduce_retracing=True)(in_blocks)
    _, expected_gradient = sums_and_gradient(scanned)
    flipped = values.numpy()[:, ::-1] if reverse else values.numpy()
    expected = np.cumsum(flipped, axis=1)
    np.testing.assert_allclose(sums, expected[:, ::-1] if reverse else expected,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-5, atol=1e-5)


def relevance_rows(in_order):
    """Labels with ties and padding (-1), in teacher order or shuffled, and scores."""
    labels = np.array([[5.0, 3.0, 3.0, 0.0, 0.0, -1.0],
                       [4.0, 2.0, 1.0, 1.0, 0.0, 0.0],
                       [2.0, 0.0, 0.0, 0.0, -1.0, -1.0]], np.float32)
    if not in_order:
        labels = labels[:, [3, 0, 5, 2, 1, 4]]
    scores = np.random.default_rng(3).standard_normal(labels.shape).astype(np.float32)
    return tf.constant(labels), tf.constant(labels >= 0), tf.constant(scores)


@pytest.mark.parametrize("in_order", [True, False])
@pytest.mark.parametrize("compile_", [False, True])
def test_sorted_by_teacher_matches_the_sort_and_its_gradient(in_order, compile_):
    labels, mask, scores = relevance_rows(in_order)
    weights = tf.constant(np.arange(18, dtype=np.float32).reshape(3, 6))

    def sorted_and_gradient(sort):
        with tf.GradientTape() as tape:
            tape.watch(scores)
            sorted_labels, sorted_mask, sorted_scores = sort()
            total = tf.reduce_sum(weights * sorted_scores)
        return sorted_labels, sorted_mask, sorted_scores, tape.gradient(total, scores)

    def by_the_sort():
        order = teacher_order(labels, mask)
        return tuple(take_along_rows(tensor, order) for tensor in (labels, mask, scores))

    def by_sorted_by_teacher():
        return sorted_by_teacher(labels, mask, scores)

    run = tf.function(sorted_and_gradient) if compile_ else sorted_and_gradient
    result = run(by_sorted_by_teacher)
    for value, expected in zip(result, sorted_and_gradient(by_the_sort)):
        np.testing.assert_array_equal(value, expected)


@pytest.mark.parametrize("in_order", [True, False])
def test_teacher_positions_invert_teacher_order(in_order):
    labels, mask, _ = relevance_rows(in_order)
    positions = tf.function(teacher_positions)(labels, mask)
    order = teacher_order(labels, mask).numpy()
    np.testing.assert_array_equal(np.take_along_axis(positions.numpy(), order, axis=1),
                                  np.broadcast_to(np.arange(6), (3, 6)))
