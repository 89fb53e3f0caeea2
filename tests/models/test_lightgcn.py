"""LightGCN: adjacency and propagation against dense NumPy, freeze, training, config."""

import json

import numpy as np
import pytest

from kdtfrs._keras import keras, tf
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.models import LightGCN, normalized_adjacency

NUM_USERS, NUM_ITEMS = 5, 6


@pytest.fixture
def train():
    """A tiny graph with an isolated user (4) and an isolated item (5)."""
    users = [0, 0, 1, 2, 2, 2, 3]
    items = [0, 1, 1, 0, 2, 4, 3]
    return InteractionMatrix.from_pairs(users, items, NUM_USERS, NUM_ITEMS)


def dense_normalized_adjacency(train):
    r = np.zeros((train.num_users, train.num_items))
    users, items = train.to_pairs()
    r[users, items] = 1.0
    a = np.block([[np.zeros((NUM_USERS, NUM_USERS)), r], [r.T, np.zeros((NUM_ITEMS, NUM_ITEMS))]])
    degree = a.sum(axis=1)
    inv_sqrt = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1)), 0.0)
    return a * inv_sqrt[:, None] * inv_sqrt[None, :]


def test_adjacency_matches_dense_normalisation(train):
    adjacency = normalized_adjacency(train)
    assert adjacency.dense_shape.numpy().tolist() == [11, 11]
    assert adjacency.values.shape[0] == 2 * train.nnz
    reordered = tf.sparse.reorder(adjacency)
    np.testing.assert_array_equal(reordered.indices.numpy(), adjacency.indices.numpy())
    np.testing.assert_allclose(
        tf.sparse.to_dense(adjacency).numpy(), dense_normalized_adjacency(train), rtol=1e-6
    )


@pytest.mark.parametrize("num_layers", [0, 1, 3])
def test_propagation_is_the_layer_mean(train, num_layers):
    model = LightGCN(NUM_USERS, NUM_ITEMS, 3, train, num_layers=num_layers, seed=0)
    ego = np.concatenate([model.user_embedding.numpy(), model.item_embedding.numpy()])
    a = dense_normalized_adjacency(train)
    layers = [ego]
    for _ in range(num_layers):
        layers.append(a @ layers[-1])
    expected = np.mean(layers, axis=0)
    user_emb, item_emb = model.embeddings()
    np.testing.assert_allclose(user_emb.numpy(), expected[:NUM_USERS], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(item_emb.numpy(), expected[NUM_USERS:], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        model.score_all([0, 4]).numpy(),
        expected[[0, 4]] @ expected[NUM_USERS:].T,
        rtol=1e-5,
        atol=1e-7,
    )


def test_freeze_propagates_once(train, monkeypatch):
    model = LightGCN(NUM_USERS, NUM_ITEMS, 3, train, seed=1)
    expected = model.score_all([0, 1, 2]).numpy()
    model.freeze()
    calls = []
    monkeypatch.setattr(model, "propagate", lambda *args, **kwargs: calls.append(1))
    np.testing.assert_allclose(model.score_all([0, 1, 2]).numpy(), expected, rtol=1e-6)
    model.score([0], [[1, 2]])
    assert calls == []
    assert model.trainable_weights == [] and not model.trainable


def test_gradients_are_dense_and_a_few_steps_reduce_the_loss(train):
    model = LightGCN(NUM_USERS, NUM_ITEMS, 4, train, l2=1e-4, seed=2)
    users, items = train.to_pairs()
    negatives = np.array([[5], [3], [3], [5], [1], [5], [0]])
    batch = {"user": users.astype(np.int32), "pos_item": items.astype(np.int32),
             "neg_item": negatives.astype(np.int32)}
    with tf.GradientTape() as tape:
        loss = model.compute_loss({k: tf.constant(v) for k, v in batch.items()}, training=True)
    assert all(isinstance(g, tf.Tensor) for g in tape.gradient(loss, model.trainable_variables))
    model.compile(optimizer=keras.optimizers.Adam(0.05, jit_compile=False))
    history = model.fit(tf.data.Dataset.from_tensors(batch).repeat(20), verbose=0).history
    first = model.compute_loss(batch)
    assert first.numpy() < loss.numpy() and history["bpr_loss"][0] < 0.6931


def test_get_config_round_trip_carries_the_graph(train):
    model = LightGCN(NUM_USERS, NUM_ITEMS, 3, train, num_layers=2, l2=1e-3, seed=3)
    config = model.get_config()
    assert config["num_layers"] == 2 and config["train_matrix"]["indices"] == train.indices.tolist()
    rebuilt = LightGCN.from_config(json.loads(json.dumps(config)))
    assert rebuilt.get_config() == config
    np.testing.assert_allclose(rebuilt.score_all([1]).numpy(), model.score_all([1]).numpy())
    old_config = {key: value for key, value in config.items() if key != "train_matrix"}
    with pytest.raises(ValueError, match="train_matrix"):
        LightGCN.from_config(old_config)
    assert LightGCN.from_config({**old_config, "train_matrix": train}).num_layers == 2


def test_graph_of_the_wrong_shape_is_refused(train):
    with pytest.raises(ValueError, match="num_users=4"):
        LightGCN(4, NUM_ITEMS, 3, train)
    with pytest.raises(TypeError, match="InteractionMatrix"):
        LightGCN(NUM_USERS, NUM_ITEMS, 3, np.zeros((NUM_USERS, NUM_ITEMS)))
    with pytest.raises(ValueError, match="num_layers"):
        LightGCN(NUM_USERS, NUM_ITEMS, 3, train, num_layers=-1)


def test_default_initialisation_is_normal_with_std_0_1():
    train = InteractionMatrix.from_pairs([0, 1], [0, 1], 300, 200)
    model = LightGCN(300, 200, 16, train, seed=0)
    assert abs(model.user_embedding.numpy().std() - 0.1) < 0.01
    assert abs(model.item_embedding.numpy().std() - 0.1) < 0.01
