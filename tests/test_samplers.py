"""Samplers against NumPy references: rank-aware, without replacement, tournament, UnKD's
pairs, BD's pools, seeds."""

import itertools

import numpy as np
import pytest

from kdtfrs import samplers
from kdtfrs._keras import tf

ROWS = 20000  # one batch of many rows: every row is an independent draw


def _rank_probabilities(length, temperature):
    logits = -(np.arange(length) + 1.0) / temperature
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


def _assert_frequencies(draws, probabilities, sigmas=5.0):
    """Empirical frequencies within ``sigmas`` standard errors of ``probabilities``."""
    counts = np.bincount(draws.reshape(-1), minlength=probabilities.size)
    assert counts.size == probabilities.size, "a draw fell outside the list"
    frequencies = counts / draws.size
    standard_error = np.sqrt(probabilities * (1 - probabilities) / draws.size)
    bound = sigmas * standard_error + 1e-4
    np.testing.assert_array_less(np.abs(frequencies - probabilities), bound)


def test_rank_discount_logits():
    np.testing.assert_allclose(samplers.rank_discount_logits(4, 2.0).numpy(),
                               [-0.5, -1.0, -1.5, -2.0])


def test_one_rank_aware_position_follows_the_rank_discount():
    length, temperature = 12, 3.0
    draws = samplers.rank_aware_positions(ROWS, length, 1, temperature, seed=[1, 2]).numpy()
    assert draws.shape == (ROWS, 1) and draws.dtype == np.int32
    _assert_frequencies(draws, _rank_probabilities(length, temperature))


def test_rank_aware_positions_are_distinct_sorted_and_in_range():
    draws = samplers.rank_aware_positions(500, 30, 10, 5.0, seed=[3, 4]).numpy()
    assert draws.shape == (500, 10)
    assert draws.min() >= 0 and draws.max() < 30
    assert np.all(np.diff(draws, axis=1) > 0)  # sorted ascending, hence distinct


def test_without_replacement_inclusion_matches_successive_sampling():
    """P(r in a sample of 2) = p_r + sum_{j != r} p_j p_r / (1 - p_j) (draw j, then r)."""
    logits = np.log([0.5, 0.25, 0.15, 0.1])
    p = np.exp(logits)
    expected = p + np.array(
        [sum(p[j] * p[r] / (1 - p[j]) for j in range(4) if j != r) for r in range(4)]
    )
    draws = samplers.sample_without_replacement(
        np.tile(logits, (ROWS, 1)), 2, seed=[5, 6]).numpy()
    assert np.all(draws[:, 0] != draws[:, 1])
    included = np.stack([(draws == r).any(axis=1) for r in range(4)], axis=1).mean(axis=0)
    standard_error = np.sqrt(expected * (1 - expected) / ROWS)
    np.testing.assert_array_less(np.abs(included - expected), 5 * standard_error)
    first = np.bincount(draws[:, 0], minlength=4) / ROWS  # the first pick is a softmax draw
    np.testing.assert_array_less(np.abs(first - p), 5 * np.sqrt(p * (1 - p) / ROWS))


def test_without_replacement_never_draws_minus_infinity_columns():
    logits = np.tile([0.0, -np.inf, 1.0, -np.inf, 0.5, -2.0], (300, 1)).astype(np.float32)
    draws = samplers.sample_without_replacement(logits, 4, seed=[1, 1]).numpy()
    assert set(np.unique(draws)) <= {0, 2, 4, 5}
    assert all(len(set(row)) == 4 for row in draws.tolist())


def test_tournament_distribution():
    """The better of two i.i.d. draws: P(X=r) = p(r)^2 + 2 p(r) P(R>r), p(r) ~ e^{-(r+1)/(MT)}."""
    length, temperature = 8, 0.5
    p = _rank_probabilities(length, length * temperature)
    tail = p[::-1].cumsum()[::-1] - p  # P(R > r)
    expected = p ** 2 + 2 * p * tail
    np.testing.assert_allclose(expected.sum(), 1.0)
    draws = samplers.tournament_positions(ROWS, length, 1, temperature, seed=[2, 9]).numpy()
    assert draws.shape == (ROWS, 1)
    _assert_frequencies(draws, expected)


def test_tournament_picks_shape_and_range():
    draws = samplers.tournament_positions(7, 50, 4, 20.0, seed=[0, 1]).numpy()
    assert draws.shape == (7, 4) and draws.min() >= 0 and draws.max() < 50


def test_tournament_takes_a_batch_size_tensor_and_an_empty_batch():
    """In a step the batch size is a tensor, and a replica's sub-batch may be empty."""
    draw = tf.function(lambda rows: samplers.tournament_positions(
        tf.shape(rows)[0], 3000, 2, 20.0, seed=[5, 5]))
    assert draw(tf.zeros([0])).shape == (0, 2)
    draws = draw(tf.zeros([4096])).numpy()
    assert draws.dtype == np.int32 and draws.min() >= 0 and draws.max() < 3000


def test_rank_aware_positions_in_drawn_order_are_the_same_set():
    listed = samplers.rank_aware_positions(64, 30, 6, 5.0, seed=[3, 4]).numpy()
    drawn = samplers.rank_aware_positions(64, 30, 6, 5.0, seed=[3, 4], list_order=False).numpy()
    np.testing.assert_array_equal(np.sort(drawn, axis=1), listed)
    assert (drawn != listed).any()  # the drawn order is not always the list order


def test_first_drawn_position_follows_the_rank_discount():
    length, temperature = 12, 3.0
    drawn = samplers.rank_aware_positions(ROWS, length, 3, temperature, seed=[5, 2],
                                          list_order=False).numpy()
    _assert_frequencies(drawn[:, :1], _rank_probabilities(length, temperature))


def test_lookup_positions():
    table = np.arange(20).reshape(4, 5)
    np.testing.assert_array_equal(
        samplers.lookup_positions(table, [2, 0, 2], [[0, 4], [1, 1], [3, 2]]),
        [[10, 14], [1, 1], [13, 12]])


def test_rank_aware_from_list_returns_items_relevance_and_positions():
    ranked = tf.constant(np.arange(3 * 10).reshape(3, 10) + 100, tf.int32)
    users = tf.constant([2, 0], tf.int32)
    items, relevance, drawn = samplers.rank_aware_from_list(ranked, users, 4, 2.0, [1, 7])
    positions = samplers.rank_aware_positions(2, 10, 4, 2.0, [1, 7]).numpy()
    np.testing.assert_array_equal(drawn.numpy(), positions)
    np.testing.assert_array_equal(items.numpy(), ranked.numpy()[[2, 0]][[[0], [1]], positions])
    np.testing.assert_array_equal(relevance.numpy(), 10 - positions)


def test_rank_aware_pairs_follow_the_discount_within_each_list_length():
    """A row of length L draws each end i.i.d. from p(r) ∝ e^{-(r+1)/T}, r < L; the better end
    of a pair is the smaller position: P(min = r) = p(r)^2 + 2 p(r) P(R > r)."""
    max_rank, temperature, length = 10, 4.0, 6
    lengths = tf.fill([ROWS, 1], length)
    better, worse, valid = (x.numpy() for x in samplers.rank_aware_pairs(
        lengths, max_rank, 1, temperature, seed=[4, 4]))
    assert better.shape == worse.shape == valid.shape == (ROWS, 1)
    assert np.all(better <= worse) and worse.max() < length
    np.testing.assert_array_equal(valid, better != worse)
    p = _rank_probabilities(length, temperature)
    tail = p[::-1].cumsum()[::-1] - p
    _assert_frequencies(better, np.concatenate([p ** 2 + 2 * p * tail, np.zeros(4)]))


def test_rank_aware_pairs_of_rows_shorter_than_two_are_padding():
    lengths = tf.constant([[1], [0], [5]])
    _, _, valid = samplers.rank_aware_pairs(lengths, 5, 8, 2.0, seed=[1, 1])
    assert not valid.numpy()[:2].any()


def test_uniform_items_cover_the_catalogue_evenly():
    items = samplers.uniform_items(ROWS, 2, 7, seed=[6, 1]).numpy()
    assert items.shape == (ROWS, 2) and items.dtype == np.int32
    _assert_frequencies(items, np.full(7, 1 / 7))


SAMPLERS = {
    "rank_aware": lambda seed: samplers.rank_aware_positions(16, 40, 5, 10.0, seed),
    "tournament": lambda seed: samplers.tournament_positions(16, 40, 5, 10.0, seed),
    "without_replacement": lambda seed: samplers.sample_without_replacement(
        tf.zeros([16, 40]), 5, seed),
    "gumbel": lambda seed: samplers.gumbel_noise([16, 5], seed),
    "rank_aware_pairs": lambda seed: samplers.rank_aware_pairs(
        tf.fill([16, 1], 30), 40, 5, 10.0, seed)[0],
    "uniform_items": lambda seed: samplers.uniform_items(16, 5, 40, seed),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_same_seed_same_draw_other_seed_other_draw(name):
    draw = SAMPLERS[name]
    first = draw(tf.constant([4, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(first, draw(tf.constant([4, 2], tf.int64)).numpy())
    np.testing.assert_array_equal(first, tf.function(draw)(tf.constant([4, 2], tf.int64)).numpy())
    assert (first != draw(tf.constant([4, 3], tf.int64)).numpy()).any()


def test_split_seed_gives_distinct_reproducible_seeds():
    seeds = samplers.split_seed([5, 6], 4).numpy()
    assert seeds.shape == (4, 2) and seeds.dtype == np.int64
    np.testing.assert_array_equal(seeds, samplers.split_seed(tf.constant([5, 6]), 4).numpy())
    assert len({tuple(seed) for seed in seeds.tolist()}) == 4
    draws = [samplers.rank_aware_positions(8, 40, 5, 10.0, seed).numpy() for seed in seeds]
    assert all((a != b).any() for a, b in itertools.combinations(draws, 2))


def test_gumbel_noise_is_standard_gumbel():
    noise = samplers.gumbel_noise([ROWS], seed=[8, 8]).numpy()
    assert np.all(np.isfinite(noise))
    np.testing.assert_allclose(noise.mean(), np.euler_gamma, atol=0.05)
    np.testing.assert_allclose(noise.var(), np.pi ** 2 / 6, rtol=0.05)
