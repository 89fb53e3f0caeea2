"""BD's rank-discrepancy-aware sampling against NumPy references written from the paper."""

import numpy as np
import pytest

from kdtfrs._keras import tf
from kdtfrs.data import InteractionMatrix
from kdtfrs.embeddings import Embeddings
from kdtfrs.rank_discrepancy import discrepancy_log_weights, rank_discrepancy_pools, ranks_of
from kdtfrs.samplers import draw_from_pools, draw_rows

NUM_USERS, NUM_ITEMS, DIM = 4, 12, 3


def embeddings(seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return Embeddings.from_tables(
        tf.constant(rng.normal(scale=scale, size=(NUM_USERS, DIM)), tf.float32),
        tf.constant(rng.normal(scale=scale, size=(NUM_ITEMS, DIM)), tf.float32))


@pytest.fixture(scope="module")
def train():
    users = [0, 0, 1, 2, 2, 2, 3]
    items = [1, 5, 0, 2, 3, 11, 7]
    return InteractionMatrix.from_pairs(users, items, NUM_USERS, NUM_ITEMS)


def reference_probabilities(teacher, student, train, teacher_scale, student_scale, paper=True):
    """(teacher's, student's) float64 [U, I] sampling probabilities, from the definitions:
    r_M(u, j) = #{non-training k : s_M(u, k) > s_M(u, j)}; the teacher draws with
    exp(ε_T (r_T − r_S)), the student with tanh(max(ε_S (r_S − r_T), 0)) (paper direction;
    the signs swap for the notebook's); training items never."""
    scores = [np.asarray(m.tables()[0], np.float64) @ np.asarray(m.tables()[1], np.float64).T
              for m in (teacher, student)]
    allowed = np.ones((NUM_USERS, NUM_ITEMS), bool)
    users, items = train.to_pairs()
    allowed[users, items] = False
    ranks = []
    for score in scores:
        rank = np.zeros((NUM_USERS, NUM_ITEMS))
        for u in range(NUM_USERS):
            for j in range(NUM_ITEMS):
                rank[u, j] = sum(score[u, k] > score[u, j]
                                 for k in range(NUM_ITEMS) if allowed[u, k])
        ranks.append(rank)
    r_t, r_s = ranks
    sign = 1.0 if paper else -1.0
    teacher_w = np.exp(teacher_scale * sign * (r_t - r_s)) * allowed
    student_w = np.tanh(np.maximum(student_scale * sign * (r_s - r_t), 0.0)) * allowed
    return tuple(w / w.sum(axis=1, keepdims=True) for w in (teacher_w, student_w))


def frequencies(pool):
    counts = np.stack([np.bincount(row, minlength=NUM_ITEMS) for row in pool])
    return counts / pool.shape[1]


def test_ranks_are_descending_positions():
    scores = np.array([[0.3, -1.0, 2.0, 0.5], [1.0, 4.0, -np.inf, 0.0]])
    np.testing.assert_array_equal(ranks_of(scores), [[2, 3, 0, 1], [1, 0, 3, 2]])


def test_equal_scores_rank_by_column_as_a_stable_sort_of_the_scores():
    rng = np.random.default_rng(0)
    scores = rng.integers(-3, 4, size=(6, 50)).astype(np.float32)  # many ties
    scores[0, :5] = [0.0, -0.0, -np.inf, np.inf, -0.0]
    scores[1, ::7] = -np.inf
    expected = np.empty(scores.shape, np.int32)
    order = np.argsort(-(scores + np.float32(0)), axis=1, kind="stable")
    np.put_along_axis(expected, order, np.arange(50, dtype=np.int32)[None], axis=1)
    np.testing.assert_array_equal(ranks_of(scores), expected)


def test_rows_are_drawn_with_their_probabilities():
    with np.errstate(divide="ignore"):
        log_weights = np.log(np.array([[0.0, 1.0, 3.0, 0.0, 4.0], [2.0, 0.0, 0.0, 0.0, 2.0],
                                       [0.0, 0.0, 0.0, 0.0, 1.0]]))
    draws = draw_rows(log_weights, 40000, np.random.default_rng(0))
    assert draws.dtype == np.int32 and draws.shape == (3, 40000)
    frequencies = np.stack([np.bincount(row, minlength=5) for row in draws]) / 40000
    expected = np.exp(log_weights) / np.exp(log_weights).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(frequencies, expected, atol=0.01)
    np.testing.assert_array_equal(frequencies[expected == 0], 0.0)


@pytest.mark.parametrize("direction, sign", [("paper", 1.0), ("notebook", -1.0)])
def test_log_weights_follow_the_formulas(direction, sign):
    learner, guide = np.array([5.0, 1.0, 3.0, 0.0]), np.array([1.0, 5.0, 3.0, 2.0])
    gap = sign * (learner - guide)
    np.testing.assert_allclose(
        discrepancy_log_weights(learner, guide, "exp", 0.1, direction), 0.1 * gap, rtol=1e-6)
    with np.errstate(divide="ignore"):
        expected = np.log(np.tanh(np.maximum(0.2 * gap, 0.0)))
    np.testing.assert_allclose(
        discrepancy_log_weights(learner, guide, "tanh", 0.2, direction), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="direction"):
        discrepancy_log_weights(learner, guide, "exp", 0.1, "upside-down")


@pytest.mark.parametrize("direction", ["paper", "notebook"])
def test_pools_follow_the_reference_distributions(train, direction):
    teacher, student = embeddings(1), embeddings(2)
    teacher_p, student_p = reference_probabilities(teacher, student, train, 0.3, 0.4,
                                                   paper=direction == "paper")
    pools = rank_discrepancy_pools(teacher, student, train, 20000, 0.3, 0.4, direction,
                                   seed=(3, 4), block_entries=2 * NUM_ITEMS)
    for pool, expected in zip(pools, (teacher_p, student_p)):
        assert pool.shape == (NUM_USERS, 20000) and pool.dtype == np.int32
        observed = frequencies(pool)
        np.testing.assert_allclose(observed, expected, atol=0.015)
        np.testing.assert_array_equal(observed[expected == 0], 0.0)  # training items too


def test_pools_repeat_per_seed_and_not_across_seeds(train):
    teacher, student = embeddings(1), embeddings(2)
    first = rank_discrepancy_pools(teacher, student, train, 50, 0.3, 0.4, seed=(1, 2))
    again = rank_discrepancy_pools(teacher, student, train, 50, 0.3, 0.4, seed=(1, 2))
    other = rank_discrepancy_pools(teacher, student, train, 50, 0.3, 0.4, seed=(1, 3))
    for a, b, c in zip(first, again, other):
        np.testing.assert_array_equal(a, b)
        assert (a != c).any()


def test_pools_do_not_depend_on_the_threads(train):
    teacher, student = embeddings(1), embeddings(2)
    alone, split = (rank_discrepancy_pools(teacher, student, train, 50, 0.3, 0.4, seed=(1, 2),
                                           block_entries=NUM_ITEMS, workers=workers)
                    for workers in (1, 3))
    for a, b in zip(alone, split):
        np.testing.assert_array_equal(a, b)


def test_a_student_that_agrees_with_the_teacher_draws_uniformly(train):
    same = embeddings(1)
    _, student_pool = rank_discrepancy_pools(same, same, train, 20000, 0.3, 0.4, seed=(0, 0))
    allowed = np.ones((NUM_USERS, NUM_ITEMS), bool)
    users, items = train.to_pairs()
    allowed[users, items] = False
    expected = allowed / allowed.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(frequencies(student_pool), expected, atol=0.015)


def test_rows_draw_uniformly_from_their_user_pool():
    pool = tf.constant([[3, 3, 7, 9], [1, 2, 5, 6]], tf.int32)
    users = tf.constant([1, 0, 1], tf.int32)
    seed = tf.constant([5, 6], tf.int64)
    items = draw_from_pools(pool, users, 4000, seed).numpy()
    assert items.shape == (3, 4000)
    assert set(items[1]) == {3, 7, 9} and set(items[0]) == {1, 2, 5, 6}
    np.testing.assert_allclose(np.mean(items[1] == 3), 0.5, atol=0.03)
    graph = tf.function(draw_from_pools, reduce_retracing=True)(pool, users, 4000, seed)
    np.testing.assert_array_equal(graph.numpy(), items)
