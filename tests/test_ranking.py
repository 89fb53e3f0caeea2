"""top_k_items against a NumPy full sort, with exclusions, ties and several blocks; list_scores."""

import numpy as np
import pytest

from kdtfrs import ranking
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.models import BPRMF
from kdtfrs.ranking import csr_row_entries, list_scores, top_k_items

NUM_USERS, NUM_ITEMS = 13, 17


def integer_model(seed=0, high=3):
    """A BPR-MF with small integer embeddings: exact float scores with many ties."""
    rng = np.random.default_rng(seed)
    model = BPRMF(NUM_USERS, NUM_ITEMS, 3)
    model.user_embedding.assign(rng.integers(-high, high + 1, (NUM_USERS, 3)).astype(np.float32))
    model.item_embedding.assign(rng.integers(-high, high + 1, (NUM_ITEMS, 3)).astype(np.float32))
    return model


def random_matrix(density, seed):
    mask = np.random.default_rng(seed).random((NUM_USERS, NUM_ITEMS)) < density
    return InteractionMatrix.from_pairs(*np.nonzero(mask), NUM_USERS, NUM_ITEMS)


def reference_top_k(model, users, k, excluded):
    """Full stable sort of -score (ties: lower item first), excluded items at -inf."""
    scores = model.user_embedding.numpy() @ model.item_embedding.numpy().T
    for matrix in excluded:
        users_of, items_of = matrix.to_pairs()
        scores[users_of, items_of] = -np.inf
    scores = scores[users]
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


@pytest.mark.parametrize("jit_compile", [True, False])
@pytest.mark.parametrize("num_excluded", [0, 1, 2])
def test_matches_numpy_sort(jit_compile, num_excluded):
    model = integer_model()
    excluded = [random_matrix(0.3, seed) for seed in range(num_excluded)]
    users = np.array([3, 0, 12, 3, 7, 5, 1, 9, 2, 11, 4])  # a repeat; 3 blocks of 4
    items, scores = top_k_items(model, users, 6, exclude=excluded, batch_size=4,
                                jit_compile=jit_compile)
    expected_items, expected_scores = reference_top_k(model, users, 6, excluded)
    assert items.dtype == np.int32 and scores.dtype == np.float32
    np.testing.assert_array_equal(scores, expected_scores)
    np.testing.assert_array_equal(items, expected_items)


def test_default_users_and_single_matrix_exclusion():
    model = integer_model(seed=1)
    train = random_matrix(0.2, seed=5)
    items, _ = top_k_items(model, None, 3, exclude=train)
    expected, _ = reference_top_k(model, np.arange(NUM_USERS), 3, [train])
    np.testing.assert_array_equal(items, expected)


def test_user_with_too_few_allowed_items_gets_minus_infinity_last():
    model = integer_model(seed=2)
    all_but_two = np.delete(np.arange(NUM_ITEMS), [4, 9])
    train = InteractionMatrix.from_pairs(np.zeros(all_but_two.size, int), all_but_two,
                                         NUM_USERS, NUM_ITEMS)
    items, scores = top_k_items(model, [0], 4, exclude=train)
    assert sorted(items[0, :2]) == [4, 9]
    assert np.all(np.isfinite(scores[0, :2])) and np.all(scores[0, 2:] == -np.inf)


def test_no_users_gives_empty_arrays():
    items, scores = top_k_items(integer_model(), np.array([], np.int64), 2)
    assert items.shape == (0, 2) and scores.shape == (0, 2)


def test_gather_rows_lists_the_entries_of_the_given_rows():
    matrix = random_matrix(0.3, seed=8)
    users = np.array([5, 0, 5, 12])
    positions, items = csr_row_entries(matrix, users)
    expected = [(p, i) for p, u in enumerate(users) for i in matrix.row(u)]
    assert list(zip(positions.tolist(), items.tolist())) == expected


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"k": 0}, ValueError, "k must be"),
        ({"k": NUM_ITEMS + 1}, ValueError, "k must be"),
        ({"users": [0, NUM_USERS]}, ValueError, "users must lie"),
        ({"users": [[0]]}, ValueError, "1-D"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"exclude": [np.zeros((2, 2))]}, TypeError, "exclude\\[0\\]"),
        ({"exclude": InteractionMatrix.from_pairs([0], [0], 2, NUM_ITEMS)}, ValueError, "shape"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, message):
    arguments = {"users": [0, 1], "k": 2, **kwargs}
    with pytest.raises(error, match=message):
        top_k_items(integer_model(), **arguments)


@pytest.mark.parametrize("batch_size", [4, 64])
def test_list_scores_score_each_users_row(batch_size):
    model = integer_model(seed=3)
    table = np.random.default_rng(4).integers(0, NUM_ITEMS, (NUM_USERS, 5)).astype(np.int32)
    scores = model.user_embedding.numpy() @ model.item_embedding.numpy().T
    expected = np.take_along_axis(scores, table, axis=1)
    np.testing.assert_allclose(list_scores(model, table, batch_size), expected)


def test_list_scores_need_one_row_per_user():
    with pytest.raises(ValueError, match=r"\[num_users=13, L\] table, got shape \(12, 5\)"):
        list_scores(integer_model(), np.zeros((NUM_USERS - 1, 5), np.int32))


def test_models_of_one_shape_under_a_strategy_rank_with_their_own_tables(two_replica_strategy):
    # The block ranker is shared by tables of one shape; mirrored variables passed to it as
    # arguments once made every later model rank with the first model's tables.
    with two_replica_strategy.scope():
        models = [BPRMF(NUM_USERS, NUM_ITEMS, 3, seed=seed) for seed in (1, 2)]
    for model in models:
        items, _ = top_k_items(model, None, 5)
        np.testing.assert_array_equal(items, reference_top_k(model, np.arange(NUM_USERS), 5,
                                                             [])[0])


def test_lists_of_several_lengths_and_models_share_one_traced_scorer():
    # An evaluation's top 50, a teacher's top 500 and CD's top 3,000 once each traced the
    # score function again, until TensorFlow warned of excessive retracing.
    scorer = ranking._BLOCK_SCORERS[True]
    traces = scorer.experimental_get_tracing_count()
    cases = [(BPRMF(NUM_USERS, 5000, 3, seed=4), 5, 8),
             (BPRMF(NUM_USERS, 5000, 3, seed=4), 250, 8),
             (BPRMF(NUM_USERS, 4000, 6, seed=5), 3000, 5),
             (BPRMF(NUM_USERS + 2, 300, 2), 7, 4)]
    for model, k, batch_size in cases:
        items, _ = top_k_items(model, None, k, batch_size=batch_size)
        assert items.shape == (model.num_users, k)
    assert scorer.experimental_get_tracing_count() - traces <= 1  # new table shapes, one trace
