"""Recommender (through BPRMF): scores, BPR/softmax losses, L2, metrics, freeze, distribution."""

import numpy as np
import pytest

from kdtfrs._keras import keras, tf
from kdtfrs.models import BPRMF, Recommender

NUM_USERS, NUM_ITEMS, DIM = 7, 11, 4


def triples(batch_size=6, num_negatives=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "user": tf.constant(rng.integers(0, NUM_USERS, batch_size), tf.int32),
        "pos_item": tf.constant(rng.integers(0, NUM_ITEMS, batch_size), tf.int32),
        "neg_item": tf.constant(rng.integers(0, NUM_ITEMS, (batch_size, num_negatives)), tf.int32),
    }


def numpy_per_example(model, batch, loss):
    user_emb, item_emb = (t.numpy() for t in model.embeddings())
    u = user_emb[batch["user"].numpy()]
    pos = np.sum(u * item_emb[batch["pos_item"].numpy()], axis=-1)
    neg = np.einsum("bd,bnd->bn", u, item_emb[batch["neg_item"].numpy()])
    if loss == "bpr":
        return np.mean(-np.log(1.0 / (1.0 + np.exp(-(pos[:, None] - neg)))), axis=1)
    logits = np.concatenate([pos[:, None], neg], axis=1)
    return np.log(np.exp(logits).sum(axis=1)) - pos


def numpy_l2(model, batch):
    user_emb, item_emb = model.user_embedding.numpy(), model.item_embedding.numpy()
    return (
        np.sum(user_emb[batch["user"].numpy()] ** 2, -1)
        + np.sum(item_emb[batch["pos_item"].numpy()] ** 2, -1)
        + np.mean(np.sum(item_emb[batch["neg_item"].numpy()] ** 2, -1), -1)
    )


@pytest.mark.parametrize("loss", ["bpr", "softmax"])
@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_compute_loss_matches_numpy(loss, l2):
    model = BPRMF(NUM_USERS, NUM_ITEMS, DIM, loss=loss, l2=l2, init_stddev=0.5, seed=1)
    batch = triples()
    expected = numpy_per_example(model, batch, loss) + l2 * numpy_l2(model, batch)
    np.testing.assert_allclose(model.compute_loss(batch).numpy(), expected.mean(), rtol=1e-5)


@pytest.mark.parametrize("loss", ["bpr", "softmax"])
def test_table_decay_matches_numpy_and_reaches_every_row(loss):
    model = BPRMF(NUM_USERS, NUM_ITEMS, DIM, loss=loss, l2=0.05, l2_form="tables",
                  init_stddev=0.5, seed=1)
    batch = triples()
    squared = np.sum(model.user_embedding.numpy() ** 2) + np.sum(model.item_embedding.numpy() ** 2)
    expected = numpy_per_example(model, batch, loss).mean() + 0.05 * squared
    with tf.GradientTape() as tape:
        value = tf.function(model.compute_loss)(batch, training=True)
    np.testing.assert_allclose(value.numpy(), expected, rtol=1e-5)
    assert model.get_config()["l2_form"] == "tables"
    # Every row decays, in the batch or not: 2 l2 e on a row no example uses.
    unused = sorted(set(range(NUM_ITEMS)) - set(batch["pos_item"].numpy())
                    - set(batch["neg_item"].numpy().ravel()))
    gradient = tf.convert_to_tensor(tape.gradient(value, model.item_embedding)).numpy()
    np.testing.assert_allclose(gradient[unused], 0.1 * model.item_embedding.numpy()[unused],
                               rtol=1e-5)


def test_compute_loss_in_graph_mode_and_single_negative_vector():
    model = BPRMF(NUM_USERS, NUM_ITEMS, DIM, init_stddev=0.5, seed=1)
    batch = triples(num_negatives=1)
    flat = {**batch, "neg_item": batch["neg_item"][:, 0]}
    eager = model.compute_loss(batch).numpy()
    np.testing.assert_allclose(tf.function(model.compute_loss)(flat).numpy(), eager, rtol=1e-6)


def test_loss_metric_is_the_mean_over_all_examples_seen():
    model = BPRMF(NUM_USERS, NUM_ITEMS, DIM, l2=0.1, init_stddev=0.5, seed=1)
    first, second = triples(batch_size=4, seed=1), triples(batch_size=8, seed=2)
    model.compute_loss(first)
    model.compute_loss(second)
    seen = np.concatenate(
        [numpy_per_example(model, first, "bpr"), numpy_per_example(model, second, "bpr")]
    )
    assert [m.name for m in model.metrics] == ["bpr_loss"]
    np.testing.assert_allclose(model.loss_tracker.result().numpy(), seen.mean(), rtol=1e-5)


def test_score_and_score_all_match_numpy():
    model = BPRMF(NUM_USERS, NUM_ITEMS, DIM, init_stddev=0.5, seed=2)
    user_emb, item_emb = model.user_embedding.numpy(), model.item_embedding.numpy()
    users, items = np.array([0, 3, 3]), np.array([[1, 2], [10, 0], [5, 5]])
    expected = np.einsum("bd,bnd->bn", user_emb[users], item_emb[items])
    np.testing.assert_allclose(model.score(users, items).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(
        model.score_all(users).numpy(), user_emb[users] @ item_emb.T, rtol=1e-5
    )
    np.testing.assert_allclose(model(tf.constant(users)).numpy(), user_emb[users] @ item_emb.T,
                               rtol=1e-5)


def test_freeze_caches_constant_embeddings_and_leaves_nothing_trainable():
    model = BPRMF(NUM_USERS, NUM_ITEMS, DIM, init_stddev=0.5, seed=3)
    before = model.score_all([0, 1]).numpy()
    assert model.freeze() is model and model.frozen
    assert model.trainable_weights == []
    model.user_embedding.assign(tf.zeros_like(model.user_embedding))
    for table in model.embeddings():
        assert not isinstance(table, tf.Variable)
    np.testing.assert_array_equal(model.score_all([0, 1]).numpy(), before)


def test_sparse_gradients_for_matrix_factorisation():
    model = BPRMF(NUM_USERS, NUM_ITEMS, DIM, l2=0.1, seed=0)
    with tf.GradientTape() as tape:
        loss = model.compute_loss(triples(), training=True)
    for gradient in tape.gradient(loss, model.trainable_variables):
        assert isinstance(gradient, tf.IndexedSlices)


@pytest.mark.parametrize("l2_form", ["rows", "tables"])
def test_two_replicas_equal_one_replica_on_the_global_batch(two_replica_strategy, l2_form):
    batch = triples(batch_size=8, num_negatives=2, seed=5)
    single = BPRMF(NUM_USERS, NUM_ITEMS, DIM, l2=0.01, init_stddev=0.5, seed=4,
                   l2_form=l2_form)
    single.compile(optimizer=keras.optimizers.SGD(0.5, jit_compile=False))
    with two_replica_strategy.scope():
        mirrored = BPRMF(NUM_USERS, NUM_ITEMS, DIM, l2=0.01, init_stddev=0.5, seed=4,
                         l2_form=l2_form)
        mirrored.compile(optimizer=keras.optimizers.SGD(0.5, jit_compile=False))
    mirrored.set_weights(single.get_weights())

    dataset = tf.data.Dataset.from_tensors(batch)
    distributed = next(iter(two_replica_strategy.experimental_distribute_dataset(dataset)))
    per_replica = two_replica_strategy.run(mirrored.compute_loss, args=(distributed,))
    total = two_replica_strategy.reduce("SUM", per_replica, axis=None)
    np.testing.assert_allclose(total.numpy(), single.compute_loss(batch).numpy(), rtol=1e-5)
    np.testing.assert_allclose(
        mirrored.loss_tracker.result().numpy(), single.loss_tracker.result().numpy(), rtol=1e-5
    )

    # One train step as Model.fit runs it, per replica (eagerly: tracing takes seconds).
    single.train_step(batch)
    two_replica_strategy.run(mirrored.train_step, args=(distributed,))
    for after_single, after_mirrored in zip(single.get_weights(), mirrored.get_weights()):
        np.testing.assert_allclose(after_mirrored, after_single, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_users": 0}, "num_users"),
        ({"embedding_dim": 2.5}, "embedding_dim"),
        ({"loss": "hinge"}, "loss"),
        ({"l2": -1.0}, "l2"),
        ({"l2_form": "batch"}, "l2_form must be one of"),
        ({"init_stddev": 0.0}, "init_stddev"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"num_users": 3, "num_items": 4, "embedding_dim": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        BPRMF(**arguments)


def test_compute_loss_names_the_expected_keys():
    model = BPRMF(NUM_USERS, NUM_ITEMS, DIM)
    with pytest.raises(ValueError, match="neg_item"):
        model.compute_loss({"user": tf.constant([0]), "pos_item": tf.constant([1])})


def test_recommender_is_the_base_of_the_backbones():
    assert issubclass(BPRMF, Recommender)
