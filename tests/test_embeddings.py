"""kdtfrs.embeddings.Embeddings: lookups and dot-product scores against NumPy."""

import numpy as np

from kdtfrs._keras import keras, tf
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.embeddings import Embeddings
from kdtfrs.models import BPRMF, LightGCN

RNG = np.random.default_rng(1)
USERS = RNG.normal(size=(5, 3)).astype(np.float32)
ITEMS = RNG.normal(size=(7, 3)).astype(np.float32)


def test_tables_score_and_score_all():
    view = Embeddings.from_tables(tf.constant(USERS), tf.constant(ITEMS))
    assert (view.num_users, view.num_items, view.dim) == (5, 7, 3)
    users, items = np.array([4, 0]), np.array([[1, 6, 6], [0, 2, 3]])
    np.testing.assert_allclose(view.score(users, items).numpy(),
                               np.einsum("bd,bnd->bn", USERS[users], ITEMS[items]), rtol=1e-5)
    np.testing.assert_allclose(view.score_all(users).numpy(), (USERS @ ITEMS.T)[users], rtol=1e-5)


def test_transposed_and_restricted_views():
    view = Embeddings.from_tables(tf.constant(USERS), tf.constant(ITEMS))
    np.testing.assert_allclose(view.transposed().score_all([6]).numpy(), (ITEMS @ USERS.T)[[6]],
                               rtol=1e-5)
    np.testing.assert_allclose(view.restricted_to_items([5, 1]).score_all([2]).numpy(),
                               (USERS @ ITEMS[[5, 1]].T)[[2]], rtol=1e-5)


def test_towers_of_a_two_tower_model():
    constant = keras.initializers.Constant
    user_tower = keras.layers.Embedding(5, 3, embeddings_initializer=constant(USERS))
    item_tower = keras.layers.Embedding(7, 3, embeddings_initializer=constant(ITEMS))
    view = Embeddings.from_towers(user_tower, item_tower, 5, 7)
    assert view.dim == 3
    np.testing.assert_allclose(view.score_all([1, 3]).numpy(), (USERS @ ITEMS.T)[[1, 3]], rtol=1e-5)
    np.testing.assert_allclose(view.tables()[1].numpy(), ITEMS, rtol=1e-6)


def test_frozen_takes_constants_and_leaves_the_model_as_it_was():
    train = InteractionMatrix.from_pairs(np.arange(5), np.array([1, 2, 3, 4, 5]), 5, 7)
    model = LightGCN(5, 7, 3, train, num_layers=2, seed=0)
    frozen = Embeddings.frozen(model)
    assert model.trainable and not model.frozen
    expected = [table.numpy() for table in model.embeddings()]
    model.user_embedding.assign_add(tf.ones_like(model.user_embedding))
    np.testing.assert_allclose(frozen.tables()[0].numpy(), expected[0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(frozen.score_all([0, 1]))
    assert all(g is None for g in tape.gradient(loss, model.trainable_variables))


def test_of_a_backbone_lets_gradients_reach_its_tables():
    model = BPRMF(5, 7, 3, seed=0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(Embeddings.of(model, training=True).score([0], [[1, 2]]))
    assert all(g is not None for g in tape.gradient(loss, model.trainable_variables))
