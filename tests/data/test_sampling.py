"""Tests of bpr_triples: coverage per epoch, valid negatives, seeded yet new every epoch."""

import numpy as np
import pytest

from kdtfrs._keras import tf
from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.data.sampling import bpr_triples
from kdtfrs.data.synthetic import make_synthetic


def _train():
    data = make_synthetic(
        num_users=40, num_items=30, num_clusters=4, mean_interactions_per_user=6, seed=2
    )
    return InteractionMatrix.from_pairs(data.users, data.items, data.num_users, data.num_items)


def _epoch(dataset):
    batches = list(dataset.as_numpy_iterator())
    return {key: np.concatenate([batch[key] for batch in batches]) for key in batches[0]}, batches


def test_every_pair_once_per_epoch_and_negatives_never_positives():
    train = _train()
    positives = set(zip(*(array.tolist() for array in train.to_pairs())))
    epoch, batches = _epoch(bpr_triples(train, batch_size=32, num_negatives=3, seed=5))
    assert [len(batch["user"]) for batch in batches[:-1]] == [32] * (len(batches) - 1)
    assert epoch["neg_item"].shape == (train.nnz, 3)
    assert all(epoch[key].dtype == np.int32 for key in epoch)
    assert sorted(zip(epoch["user"].tolist(), epoch["pos_item"].tolist())) == sorted(positives)
    negatives = zip(np.repeat(epoch["user"], 3).tolist(), epoch["neg_item"].reshape(-1).tolist())
    assert not positives & set(negatives)


def test_new_randomness_each_epoch_and_same_for_the_same_seed():
    train = _train()
    dataset = bpr_triples(train, batch_size=50, seed=1)
    first, _ = _epoch(dataset)
    second, _ = _epoch(dataset)
    assert not np.array_equal(first["neg_item"], second["neg_item"])
    assert not np.array_equal(first["user"], second["user"])  # reshuffled
    twin = bpr_triples(train, batch_size=50, seed=1)
    for expected in (first, second):
        epoch, _ = _epoch(twin)
        for key in expected:
            np.testing.assert_array_equal(epoch[key], expected[key])
    other, _ = _epoch(bpr_triples(train, batch_size=50, seed=2))
    assert not np.array_equal(other["neg_item"], first["neg_item"])


def test_no_shuffle_and_drop_remainder():
    train = _train()
    dataset = bpr_triples(train, batch_size=16, shuffle=False, drop_remainder=True)
    assert dataset.element_spec["user"].shape == (16,)
    assert dataset.cardinality().numpy() == train.nnz // 16
    epoch, _ = _epoch(dataset)
    users, items = train.to_pairs()
    np.testing.assert_array_equal(epoch["user"], users[: epoch["user"].size])
    np.testing.assert_array_equal(epoch["pos_item"], items[: epoch["user"].size])


def test_bad_arguments():
    with pytest.raises(DataFormatError, match="batch_size"):
        bpr_triples(_train(), batch_size=0)
    with pytest.raises(DataFormatError, match="too few"):
        bpr_triples(InteractionMatrix.from_pairs([], [], 2, 2), batch_size=4)
    assert isinstance(bpr_triples(_train(), 8), tf.data.Dataset)


def test_autotuning_off_by_default_and_the_same_batches_either_way():
    # Autotuning's thread made Keras wait at every epoch's end (bpr_triples' docstring).
    train = _train()
    default = bpr_triples(train, batch_size=16, seed=3)
    assert default.options().autotune.enabled is False
    tuned = bpr_triples(train, batch_size=16, seed=3, autotune=True)
    assert tuned.options().autotune.enabled is True
    for _ in range(2):  # two epochs: each iteration draws a new epoch seed
        epoch, _ = _epoch(default)
        expected, _ = _epoch(tuned)
        for key in expected:
            np.testing.assert_array_equal(epoch[key], expected[key])
