"""Samplers against NumPy references: rank-aware, without replacement, tournament, seeds."""

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


SAMPLERS = {
    "rank_aware": lambda seed: samplers.rank_aware_positions(16, 40, 5, 10.0, seed),
    "tournament": lambda seed: samplers.tournament_positions(16, 40, 5, 10.0, seed),
    "without_replacement": lambda seed: samplers.sample_without_replacement(
        tf.zeros([16, 40]), 5, seed),
    "gumbel": lambda seed: samplers.gumbel_noise([16, 5], seed),
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
