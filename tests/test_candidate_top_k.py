"""candidate_top_k against tf.math.top_k and a NumPy sort: ties, signed zeros, -inf, the
fallback, rows split over threads; and top_k_items on its long-list path."""

import numpy as np
import pytest

from kdtfrs import candidate_top_k
from kdtfrs._keras import tf
from kdtfrs.ranking import top_k_items
from tests.integer_models import excluded, integer_model_and_exclusion

N = 3000


def reference(scores, k):
    """Stable sort of -score: ties go to the lower column."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), order


def ranked(scores, k, workers=None):
    columns = candidate_top_k.sample_columns(scores.shape[1])
    values, indices = candidate_top_k.candidate_top_k(scores, k, columns, workers)
    assert values.dtype == np.float32 and indices.dtype == np.int32
    return values, indices


@pytest.mark.parametrize("workers", [1, 4])
@pytest.mark.parametrize("k", [200, 300])
def test_matches_a_full_sort_with_ties_and_excluded_entries(k, workers):
    rng = np.random.default_rng(k)
    scores = np.round(rng.normal(size=(6, N)) * 4).astype(np.float32)  # many ties
    scores[1, rng.choice(N, N // 2, replace=False)] = -np.inf  # half the items excluded
    values, indices = ranked(scores, k, workers)
    expected_values, expected_indices = reference(scores, k)
    np.testing.assert_array_equal(values, expected_values)
    np.testing.assert_array_equal(indices, expected_indices)
    top = tf.math.top_k(scores, k)
    np.testing.assert_array_equal(indices, top.indices.numpy())
    np.testing.assert_array_equal(values, top.values.numpy())


def test_extreme_scores_come_back_unchanged_and_signed_zeros_tie():
    """The score codes are the floats' bits: extremes survive, -0.0 and 0.0 go by column."""
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(3, N)).astype(np.float32) * 1e-3
    extremes = np.array([np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1e-45, np.inf,
                         -np.finfo(np.float32).max, -1e-45, 0.0, -0.0], np.float32)
    scores[:, :extremes.size] = extremes
    scores[2, 10:400:2] = -0.0
    scores[2, 11:400:2] = 0.0
    values, indices = ranked(scores, 250)
    expected_values, expected_indices = reference(scores, 250)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_array_equal(values, expected_values)


def test_rows_are_split_where_their_keys_would_not_fit(monkeypatch):
    """Keys hold (row, score, column): with room for 1 row bit, 7 rows go in 4 blocks."""
    column_bits = (N - 1).bit_length()
    monkeypatch.setattr(candidate_top_k, "KEY_BITS", candidate_top_k.SCORE_BITS + column_bits + 1)
    scores = np.random.default_rng(5).normal(size=(7, N)).astype(np.float32)
    values, indices = ranked(scores, 200, workers=1)
    np.testing.assert_array_equal(indices, reference(scores, 200)[1])
    np.testing.assert_array_equal(values, reference(scores, 200)[0])


def test_no_rows_give_empty_lists():
    values, indices = ranked(np.zeros((0, N), np.float32), 200)
    assert values.shape == indices.shape == (0, 200)


def test_a_row_with_fewer_allowed_entries_than_k_ends_with_minus_infinity():
    scores = np.random.default_rng(1).normal(size=(3, N)).astype(np.float32)
    scores[2, 150:] = -np.inf  # 150 allowed entries, k 200
    values, indices = ranked(scores, 200)
    np.testing.assert_array_equal(indices, reference(scores, 200)[1])
    assert np.isfinite(values[2, :150]).all() and (values[2, 150:] == -np.inf).all()


def test_a_threshold_too_high_falls_back_to_the_full_top_k():
    """Sampled columns holding a row's best scores put its threshold above its k-th score:
    too few candidates, so its rows are ranked over every entry, still exactly."""
    k = 200
    columns = candidate_top_k.sample_columns(N)
    scores = np.random.default_rng(2).normal(size=(2, N)).astype(np.float32)
    scores[0, columns] += 100.0  # every sampled entry beats every other one
    threshold = np.sort(scores[0, columns])[::-1][candidate_top_k.sample_rank(k) - 1]
    assert (scores[0] >= threshold).sum() < k
    values, indices = ranked(scores, k)
    np.testing.assert_array_equal(indices, reference(scores, k)[1])
    np.testing.assert_array_equal(values, reference(scores, k)[0])


def test_when_it_is_used_and_a_k_the_sample_cannot_serve():
    assert not candidate_top_k.worthwhile(20, 100_000)  # short lists: tf.math.top_k
    assert candidate_top_k.worthwhile(3000, 25_181)  # CD's refresh on CiteULike-t
    assert not candidate_top_k.worthwhile(3000, 5_000)  # the candidates would be most items
    columns = candidate_top_k.sample_columns(N)
    assert columns.size == N // candidate_top_k.STRIDE and np.all(np.diff(columns) > 0)
    np.testing.assert_array_equal(columns, candidate_top_k.sample_columns(N))  # fixed
    with pytest.raises(ValueError, match="sampled columns"):
        candidate_top_k.candidate_top_k(np.zeros((1, N), np.float32), N - 1, columns)


@pytest.mark.parametrize("jit_compile", [True, False])
def test_top_k_items_takes_the_long_list_path_exactly(jit_compile):
    num_users, num_items, k = 9, 4000, 300
    assert candidate_top_k.worthwhile(k, num_items)
    model, mask = integer_model_and_exclusion(num_users, num_items, seed=3)
    train, dense = excluded(model, mask)
    items, scores = top_k_items(model, None, k, exclude=train, batch_size=4,
                                jit_compile=jit_compile)
    expected_scores, expected_items = reference(dense, k)
    np.testing.assert_array_equal(items, expected_items)
    np.testing.assert_array_equal(scores, expected_scores)


def test_its_three_steps_in_turn_give_its_lists():
    """threshold -> candidate_keys -> sort -> decoded_top, as benchmarks/long_top_k.py times
    them one by one, is candidate_top_k."""
    k = 200
    scores = np.random.default_rng(5).normal(size=(6, N)).astype(np.float32)
    columns = candidate_top_k.sample_columns(N)
    bits = (N - 1).bit_length()
    thresholds = candidate_top_k.threshold(scores, candidate_top_k.sample_rank(k), columns)
    keys, starts = candidate_top_k.candidate_keys(scores, thresholds, k, bits)
    assert len(keys) < scores.size and np.all(np.diff(starts) >= k)
    values, indices = candidate_top_k.decoded_top(np.sort(keys), starts, k, bits)
    expected = candidate_top_k.candidate_top_k(scores, k, columns, workers=1)
    np.testing.assert_array_equal(indices, expected[1])
    np.testing.assert_array_equal(values, expected[0])
