"""grouped_top_k against tf.math.top_k (ties, -inf, -0.0, NaN), and top_k_items through it."""

import numpy as np
import pytest

from kdtfrs import grouped_top_k as grouped
from kdtfrs._keras import tf
from kdtfrs.ranking import top_k_items
from tests.integer_models import excluded, integer_model_and_exclusion


def assert_same_lists(scores, k):
    values, indices = grouped.grouped_top_k(tf.constant(scores), k)
    expected = tf.math.top_k(tf.constant(scores), k)
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
    np.testing.assert_array_equal(values.numpy(), expected.values.numpy())


@pytest.mark.parametrize("k", [1, 5, 12])
def test_lists_equal_tf_top_k_with_ties_everywhere(k):
    rng = np.random.default_rng(k)
    assert_same_lists(rng.normal(size=(9, 32 * 50)).astype(np.float32), k)
    # Few distinct values: ties inside groups, between groups and at the k-th place.
    assert_same_lists(rng.integers(-3, 4, (9, 32 * 50)).astype(np.float32), k)
    constant = np.zeros((3, 32 * 50), np.float32)
    constant[1, ::7] = -0.0
    assert_same_lists(constant, k)


def test_rows_with_fewer_finite_entries_than_k_end_with_minus_infinity():
    scores = np.full((4, 32 * 20), -np.inf, np.float32)
    scores[0, [3, 600, 31, 32]] = [1.0, 2.0, 1.0, 1.0]
    scores[2, 100:110] = np.arange(10, dtype=np.float32)
    assert_same_lists(scores, 8)


def test_a_row_with_nan_is_ranked_whole():
    scores = np.random.default_rng(0).normal(size=(3, 32 * 10)).astype(np.float32)
    scores[1, 40] = np.nan
    _, indices = grouped.grouped_top_k(tf.constant(scores), 3)
    expected = tf.math.top_k(tf.constant(scores), 3)
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())


def test_in_a_compiled_function_the_lists_are_the_same():
    scores = tf.constant(np.random.default_rng(1).integers(0, 5, (6, 32 * 30)), tf.float32)
    compiled = tf.function(lambda s: grouped.grouped_top_k(s, 4))
    np.testing.assert_array_equal(compiled(scores)[1].numpy(),
                                  tf.math.top_k(scores, 4).indices.numpy())


def test_rows_of_other_lengths_are_refused():
    with pytest.raises(ValueError, match="multiple of 32 columns"):
        grouped.grouped_top_k(tf.zeros((2, 33 * 10)), 2)
    with pytest.raises(ValueError, match="at least k x 32 = 320"):
        grouped.grouped_top_k(tf.zeros((2, 32 * 5)), 10)


def test_it_is_used_for_short_lists_of_long_rows():
    assert grouped.worthwhile(20, 25181) and grouped.worthwhile(50, 40981)
    assert not grouped.worthwhile(200, 25181) and not grouped.worthwhile(5, 300)
    assert (grouped.padded_length(25181), grouped.padded_length(64)) == (25184, 64)


@pytest.mark.parametrize("jit_compile", [True, False])
def test_top_k_items_ranks_a_padded_catalogue_as_a_full_sort(jit_compile):
    num_users, num_items, k = 11, 1000, 6  # 1000 = 31 x 32 + 8: padded by 24 columns
    assert grouped.worthwhile(k, num_items)
    model, mask = integer_model_and_exclusion(num_users, num_items, seed=2, high=2)
    mask[4, :num_items - 2] = True  # a user with two allowed items
    train, full = excluded(model, mask)
    users = np.array([4, 0, 10, 4, 7, 3, 1])  # a repeat; blocks of 3
    items, scores = top_k_items(model, users, k, train, batch_size=3, jit_compile=jit_compile)
    expected = np.argsort(-full[users], axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(items, expected)
    np.testing.assert_array_equal(scores, np.take_along_axis(full[users], expected, axis=1))
    assert items.max() < num_items and np.all(scores[0, 2:] == -np.inf)
