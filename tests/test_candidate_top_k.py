"""candidate_top_k against tf.math.top_k and a NumPy sort: ties, signed zeros, -inf, a
threshold that never passes a row's k-th score, rows split over threads; and top_k_items on
its long-list path."""

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
    values, indices = candidate_top_k.candidate_top_k(scores, k, workers)
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


def hard_rows(k, rng):
    """Rows built against the group maxima: the best scores all in one group, in a few groups,
    at the ends of the row, all equal, mostly -inf, and sorted either way."""
    size = candidate_top_k.group_size(k, N)
    groups = N // size
    rows = rng.normal(size=(8, N)).astype(np.float32)
    rows[0, np.arange(size) * groups + 5] += 100.0  # one group holds the row's best
    rows[1, (np.arange(size)[:, None] * groups + np.arange(3)).ravel()] += 100.0
    rows[2, groups * size:] += 100.0  # the columns past the last full group
    rows[3] = 1.0
    rows[4, rng.choice(N, N - k // 2, replace=False)] = -np.inf  # fewer than k allowed
    rows[5] = np.sort(rows[5])
    rows[6] = np.sort(rows[6])[::-1]
    rows[7, : N // 2] = -np.inf
    return rows


@pytest.mark.parametrize("k", [200, 300, 1000, 2999])
def test_the_threshold_never_passes_a_row_s_k_th_score(k):
    """At least k entries of every row are candidates, with no fallback (module docstring),
    on rows built to defeat the group maxima; and their lists are exact."""
    scores = hard_rows(k, np.random.default_rng(k))
    kth_best = -np.sort(-scores, axis=1)[:, k - 1]
    thresholds = candidate_top_k.threshold(scores, k)
    assert np.all(thresholds <= kth_best)
    assert np.all((scores >= thresholds[:, None]).sum(axis=1) >= k)
    values, indices = ranked(scores, k)
    np.testing.assert_array_equal(indices, reference(scores, k)[1])
    np.testing.assert_array_equal(values, reference(scores, k)[0])


def test_a_nan_score_is_a_candidate_and_the_other_rows_stay_exact():
    scores = np.random.default_rng(6).normal(size=(3, N)).astype(np.float32)
    scores[1, 17] = np.nan
    values, indices = ranked(scores, 200)
    assert 17 in indices[1]
    rows = [0, 2]
    np.testing.assert_array_equal(indices[rows], reference(scores[rows], 200)[1])
    np.testing.assert_array_equal(values[rows], reference(scores[rows], 200)[0])


def test_when_it_is_used_and_a_k_it_cannot_serve():
    assert not candidate_top_k.worthwhile(20, 100_000)  # short lists: tf.math.top_k
    assert candidate_top_k.worthwhile(3000, 25_181)  # CD's refresh on CiteULike-t
    assert not candidate_top_k.worthwhile(3000, 5_000)  # the candidates would be most items
    assert candidate_top_k.group_size(3000, 40_981) == 6  # 6,830 groups >= 2 x k
    assert candidate_top_k.group_size(3000, 5_000) == 1  # each entry its own group
    for k in (0, N + 1):
        with pytest.raises(ValueError, match="not between 1 and the row length"):
            candidate_top_k.candidate_top_k(np.zeros((1, N), np.float32), k)


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
    bits = (N - 1).bit_length()
    thresholds = candidate_top_k.threshold(scores, k)
    keys, starts = candidate_top_k.candidate_keys(scores, thresholds, bits)
    assert len(keys) < scores.size and np.all(np.diff(starts) >= k)
    values, indices = candidate_top_k.decoded_top(np.sort(keys), starts, k, bits)
    expected = candidate_top_k.candidate_top_k(scores, k, workers=1)
    np.testing.assert_array_equal(indices, expected[1])
    np.testing.assert_array_equal(values, expected[0])
