"""Tests of PairExclusion against NumPy set references, eagerly, in tf.function and tf.data."""

import numpy as np
import pytest

from kdtfrs._keras import tf
from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.exclusion import PairExclusion
from kdtfrs.data.matrix import InteractionMatrix

NUM_USERS, NUM_ITEMS = 30, 12


def _random_matrix(seed=0, density=0.4):
    rng = np.random.default_rng(seed)
    mask = rng.random((NUM_USERS, NUM_ITEMS)) < density
    mask[0] = True  # user 0 has every item excluded
    mask[0, 5] = False  # ... but one
    mask[1] = False  # user 1 has none
    users, items = np.nonzero(mask)
    return InteractionMatrix.from_pairs(users, items, NUM_USERS, NUM_ITEMS)


def _pair_set(matrix):
    users, items = matrix.to_pairs()
    return set(zip(users.tolist(), items.tolist()))


def test_contains_matches_a_set_for_every_pair():
    matrix = _random_matrix()
    exclusion = PairExclusion(matrix)
    users, items = np.meshgrid(np.arange(NUM_USERS), np.arange(NUM_ITEMS), indexing="ij")
    found = exclusion.contains(users.astype(np.int32), items).numpy()
    reference = np.array(
        [[(u, i) in _pair_set(matrix) for i in range(NUM_ITEMS)] for u in range(NUM_USERS)]
    )
    np.testing.assert_array_equal(found, reference)
    rows = exclusion.contains(np.arange(NUM_USERS), items)  # users [B] with items [B, N]
    np.testing.assert_array_equal(rows.numpy(), reference)
    np.testing.assert_array_equal(exclusion.num_excluded([0, 1]).numpy(), [NUM_ITEMS - 1, 0])


def test_keys_constructor_and_empty_set():
    keys = np.array([7, 3, 3, 25])
    exclusion = PairExclusion(keys, num_items=10)
    assert len(exclusion) == 3
    np.testing.assert_array_equal(
        exclusion.contains([0, 0, 2, 1], [3, 4, 5, 5]).numpy(), [1, 0, 1, 0]
    )
    empty = PairExclusion(np.array([], dtype=np.int64), num_items=4)
    assert not empty.contains([0, 1], [2, 3]).numpy().any()
    assert empty.sample_uniform_excluding([0, 3], 5, seed=[1, 2]).numpy().max() < 4
    with pytest.raises(DataFormatError, match="num_items"):
        PairExclusion(keys)
    with pytest.raises(DataFormatError, match="differs"):
        PairExclusion(_random_matrix(), num_items=3)


def test_samples_are_never_excluded_and_uniform_over_the_rest():
    matrix = _random_matrix(seed=1)
    exclusion = PairExclusion(matrix)
    users = np.arange(NUM_USERS, dtype=np.int32)
    samples = exclusion.sample_uniform_excluding(users, 3000, seed=tf.constant([3, 4])).numpy()
    assert samples.shape == (NUM_USERS, 3000) and samples.dtype == np.int32
    excluded = _pair_set(matrix)
    for user in range(NUM_USERS):
        free = sorted(set(range(NUM_ITEMS)) - {i for (u, i) in excluded if u == user})
        assert set(samples[user].tolist()) == set(free)  # every free item, nothing else
        counts = np.bincount(samples[user], minlength=NUM_ITEMS)[free]
        expected = 3000 / len(free)
        assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
    assert np.all(samples[0] == 5)


def test_sampling_is_stateless():
    exclusion = PairExclusion(_random_matrix())
    first = exclusion.sample_uniform_excluding([2, 3, 2], 50, seed=[1, 2]).numpy()
    again = exclusion.sample_uniform_excluding([2, 3, 2], 50, seed=[1, 2]).numpy()
    other = exclusion.sample_uniform_excluding([2, 3, 2], 50, seed=[1, 3]).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_user_with_every_item_excluded_fails_clearly():
    full = InteractionMatrix.from_pairs(np.zeros(4), np.arange(4), 2, 4)
    exclusion = PairExclusion(full)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="every one of the 4 items is excluded"
    ):
        exclusion.sample_uniform_excluding([1, 0], 2, seed=[0, 0])
    dataset = tf.data.Dataset.from_tensors(tf.constant([0])).map(
        lambda users: exclusion.sample_uniform_excluding(users, 2, seed=[0, 0])
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="excluded"):
        next(iter(dataset))


def test_works_inside_tf_function_and_tf_data():
    exclusion = PairExclusion(_random_matrix())

    @tf.function
    def negatives_and_check(users, seed):
        items = exclusion.sample_uniform_excluding(users, 4, seed)
        return items, exclusion.contains(users, items)

    users = tf.constant([1, 2, 3], dtype=tf.int32)
    items, found = negatives_and_check(users, tf.constant([5, 6], tf.int64))
    assert items.shape == (3, 4) and not found.numpy().any()
    dataset = tf.data.Dataset.from_tensor_slices(tf.reshape(tf.range(NUM_USERS), [-1, 5])).map(
        lambda batch: exclusion.sample_uniform_excluding(batch, 2, tf.constant([0, 1]))
    )
    for batch_index, negatives in enumerate(dataset):
        batch_users = np.arange(5 * batch_index, 5 * batch_index + 5)
        assert not exclusion.contains(batch_users, negatives).numpy().any()


@pytest.mark.parametrize("density", [0.0, 0.1, 0.6])
def test_each_draw_is_the_free_item_of_its_uniform_rank(density):
    """The item drawn for uniform u is the floor(u * free)-th free item of its user (NumPy)."""
    matrix = _random_matrix(seed=2, density=density)
    exclusion = PairExclusion(matrix)
    users = np.array([3, 0, 1, 29, 7, 3, NUM_USERS + 4], dtype=np.int32)  # one has no key
    seed = tf.constant([7, 8], tf.int64)
    items = exclusion.sample_uniform_excluding(users, 40, seed).numpy()
    uniform = tf.random.stateless_uniform([len(users), 40], seed, dtype=tf.float64).numpy()
    excluded = _pair_set(matrix)
    for row, user in enumerate(users):
        free = [i for i in range(NUM_ITEMS) if (user, i) not in excluded]
        ranks = np.floor(uniform[row] * len(free)).astype(int)
        np.testing.assert_array_equal(items[row], np.array(free)[ranks])
