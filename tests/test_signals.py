"""TeacherSignals, transpose and restrict_columns against NumPy references."""

import numpy as np
import pytest

from kdtfrs._keras import tf
from kdtfrs.data import InteractionMatrix
from kdtfrs.models import BPRMF
from kdtfrs.signals import (TeacherSignals, allowed_length, restrict_columns,
                            transpose)
from tests.tasks.task_checks import assert_is_top_k, dense, model_scores

NUM_USERS, NUM_ITEMS = 30, 40


@pytest.fixture(scope="module")
def train():
    rng = np.random.default_rng(0)
    mask = rng.random((NUM_USERS, NUM_ITEMS)) < 0.2
    users, items = np.nonzero(mask)
    return InteractionMatrix.from_pairs(users, items, NUM_USERS, NUM_ITEMS)


@pytest.fixture(scope="module")
def teacher():
    return BPRMF(NUM_USERS, NUM_ITEMS, embedding_dim=8, init_stddev=0.5, seed=4).freeze()


@pytest.fixture
def signals(teacher, train):
    return TeacherSignals(teacher, train, batch_size=7)  # several blocks


def test_top_items_excludes_training_items(signals, teacher, train):
    lists = signals.top_items(10)
    assert lists.dtype == np.int32
    assert_is_top_k(lists, model_scores(teacher), dense(train), 10)


def test_top_items_with_training_items(signals, teacher, train):
    lists = signals.top_items(10, exclude_train=False)
    assert_is_top_k(lists, model_scores(teacher), np.zeros((NUM_USERS, NUM_ITEMS), bool), 10)
    assert dense(train)[np.arange(NUM_USERS)[:, None], lists].any()


def test_top_users_ranks_users_for_each_item(signals, teacher, train):
    lists = signals.top_users(6)
    assert lists.shape == (NUM_ITEMS, 6)
    assert_is_top_k(lists, model_scores(teacher).T, dense(train).T, 6)
    unmasked = signals.top_users(6, exclude_train=False)
    assert_is_top_k(unmasked, model_scores(teacher).T, np.zeros((NUM_ITEMS, NUM_USERS), bool), 6)


def test_top_items_within_returns_catalogue_ids_of_the_subset(signals, teacher, train):
    columns = np.array([3, 17, 5, 39, 21, 8, 30, 12, 0, 26, 33, 14])
    lists = signals.top_items_within(columns, 4)
    assert lists.shape == (NUM_USERS, 4) and lists.dtype == np.int32
    assert np.isin(lists, columns).all()
    outside = np.ones(NUM_ITEMS, bool)
    outside[columns] = False
    assert_is_top_k(lists, model_scores(teacher), dense(train) | outside[None, :], 4)
    assert signals.top_items_within(columns, 100).shape == (NUM_USERS, columns.size)


def test_smaller_k_slices_the_memoised_list(signals):
    full = signals.top_items(12)
    seconds = signals.seconds
    assert seconds > 0
    np.testing.assert_array_equal(signals.top_items(5), full[:, :5])
    np.testing.assert_array_equal(signals.top_items(12), full)
    assert signals.seconds == seconds  # nothing recomputed
    assert signals.top_items(5, exclude_train=False).shape == (NUM_USERS, 5)  # its own entry
    assert signals.seconds > seconds
    longer = signals.top_items(20)
    np.testing.assert_array_equal(longer[:, :12], full)  # no near ties in this teacher


def test_k_is_clipped_to_the_catalogue(signals):
    assert signals.top_items(10_000, exclude_train=False).shape == (NUM_USERS, NUM_ITEMS)
    assert signals.top_users(10_000, exclude_train=False).shape == (NUM_ITEMS, NUM_USERS)


def test_transpose_and_restrict_columns(train):
    np.testing.assert_array_equal(dense(transpose(train)), dense(train).T)
    columns = np.array([7, 2, 30])
    restricted = restrict_columns(train, columns)
    assert (restricted.num_users, restricted.num_items) == (NUM_USERS, 3)
    np.testing.assert_array_equal(dense(restricted), dense(train)[:, columns])


def test_lists_never_hold_training_items_when_k_exceeds_a_users_room(teacher, train):
    """k above (items - the longest training row) is cut, never padded with training items."""
    signals = TeacherSignals(teacher, train)
    longest_user = int(train.row_lengths().max())
    lists = signals.top_items(NUM_ITEMS)
    assert lists.shape == (NUM_USERS, NUM_ITEMS - longest_user)
    assert_is_top_k(lists, model_scores(teacher), dense(train), lists.shape[1])
    longest_item = int(train.item_popularity().max())
    users = signals.top_users(NUM_USERS)
    assert users.shape == (NUM_ITEMS, NUM_USERS - longest_item)
    assert_is_top_k(users, model_scores(teacher).T, dense(train).T, users.shape[1])
    assert signals.top_items(NUM_ITEMS, exclude_train=False).shape == (NUM_USERS, NUM_ITEMS)


def test_allowed_length_is_cut_by_the_fullest_row():
    matrix = InteractionMatrix.from_pairs([0, 0, 1], [0, 1, 2], 3, 4)
    assert allowed_length(10, 4, matrix) == 2
    assert allowed_length(1, 4, matrix) == 1
    assert allowed_length(10, 4) == 4
    full = InteractionMatrix.from_pairs([1, 1, 1, 1], [0, 1, 2, 3], 3, 4)
    with pytest.raises(ValueError, match="holds all 4 columns"):
        allowed_length(2, 4, full)


def test_a_non_finite_teacher_is_refused(train):
    teacher = BPRMF(NUM_USERS, NUM_ITEMS, embedding_dim=8, seed=4)
    teacher.item_embedding.assign(tf.tensor_scatter_nd_update(
        teacher.item_embedding, [[3, 0]], [float("nan")]))
    with pytest.raises(ValueError, match=r"teacher's item embeddings are not finite: 1 of "
                                         rf"{NUM_ITEMS} items .*first: item 3"):
        TeacherSignals(teacher, train)
