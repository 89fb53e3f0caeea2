"""gathered_scores: the gather-and-dot scores, with the item table's gradient as one product."""

import numpy as np
import pytest

from kdtfrs._keras import tf
from kdtfrs.embeddings import Embeddings
from kdtfrs.gathered_scores import gathered_scores, in_row_chunks
from kdtfrs.models import LazyAdam


@pytest.fixture()
def case():
    rng = np.random.default_rng(0)
    users = tf.constant([3, 0, 3, 5], tf.int32)  # a repeated user
    items = tf.constant(rng.integers(0, 7, (4, 6)), tf.int32)  # repeats within and across rows
    user_table = tf.Variable(rng.standard_normal((6, 3)), dtype=tf.float32)
    item_table = tf.Variable(rng.standard_normal((9, 3)), dtype=tf.float32)  # 7, 8 never drawn
    weights = tf.constant(rng.standard_normal((4, 6)), tf.float32)
    return users, items, user_table, item_table, weights


def value_and_gradients(score, case, compile_=False):
    users, items, user_table, item_table, weights = case

    def run():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(weights * score(user_table, item_table, users, items))
        return loss, tape.gradient(loss, [user_table, item_table])

    return tf.function(run)() if compile_ else run()


def plain(user_table, item_table, users, items):
    return tf.linalg.matvec(tf.gather(item_table, items), tf.gather(user_table, users))


@pytest.mark.parametrize("compile_", [False, True])
def test_same_scores_and_gradients_as_the_gather(case, compile_):
    loss, (user_gradient, item_gradient) = value_and_gradients(gathered_scores, case, compile_)
    reference_loss, reference = value_and_gradients(plain, case)
    np.testing.assert_allclose(loss, reference_loss, rtol=1e-6)
    for got, expected in zip((user_gradient, item_gradient), reference):
        assert isinstance(got, tf.IndexedSlices)
        np.testing.assert_allclose(tf.convert_to_tensor(got), tf.convert_to_tensor(expected),
                                   rtol=1e-5, atol=1e-6)
    # the item rows: each drawn item once, in increasing order; 7 and 8 untouched
    np.testing.assert_array_equal(item_gradient.indices, np.unique(case[1].numpy()))


def test_a_lazy_optimizer_leaves_undrawn_items_alone(case):
    _, (user_gradient, item_gradient) = value_and_gradients(gathered_scores, case)
    user_table, item_table = case[2], case[3]
    before = item_table.numpy()
    LazyAdam(0.1).apply_gradients([(user_gradient, user_table), (item_gradient, item_table)])
    after = item_table.numpy()
    drawn = np.unique(case[1].numpy())
    assert not np.allclose(after[drawn], before[drawn])
    np.testing.assert_array_equal(np.delete(after, drawn, axis=0),
                                  np.delete(before, drawn, axis=0))


def test_embeddings_score_with_and_without_the_product_gradient(case):
    users, items, user_table, item_table, _ = case
    for product_gradient in (True, False):
        view = Embeddings.from_tables(user_table, item_table, product_gradient)
        np.testing.assert_allclose(view.score(users, items),
                                   plain(user_table, item_table, users, items), rtol=1e-6)
        np.testing.assert_allclose(view.transposed().score(items[:, 0], users[:, None]),
                                   plain(item_table, user_table, items[:, 0], users[:, None]),
                                   rtol=1e-6)


@pytest.mark.parametrize("shape", [(0, 6), (2, 0)])  # an empty replica batch; no items drawn
def test_empty_batches_score_nothing_and_move_nothing(case, shape):
    _, _, user_table, item_table, _ = case
    users = tf.zeros(shape[:1], tf.int32)
    items = tf.zeros(shape, tf.int32)
    with tf.GradientTape() as tape:
        scores = gathered_scores(user_table, item_table, users, items)
        total = tf.reduce_sum(scores)
    assert scores.shape == shape
    for gradient in tape.gradient(total, [user_table, item_table]):
        assert not np.any(tf.convert_to_tensor(gradient).numpy())


@pytest.mark.parametrize("compile_", [False, True])
def test_large_blocks_are_scored_in_row_chunks_with_the_same_values(case, compile_,
                                                                    monkeypatch):
    # every block counts as large, and a chunk holds 3 of the 4 rows: two chunks, the last
    # padded with copies of row 0
    import kdtfrs.gathered_scores as module
    monkeypatch.setattr(module, "CHUNKED_ABOVE", 0)
    monkeypatch.setattr(module, "CHUNK_ELEMENTS", 3 * 6 * 3)
    loss, (user_gradient, item_gradient) = value_and_gradients(gathered_scores, case, compile_)
    reference_loss, reference = value_and_gradients(plain, case)
    np.testing.assert_allclose(loss, reference_loss, rtol=1e-6)
    for got, expected in zip((user_gradient, item_gradient), reference):
        np.testing.assert_allclose(tf.convert_to_tensor(got), tf.convert_to_tensor(expected),
                                   rtol=1e-5, atol=1e-6)


def test_row_chunks_of_an_empty_batch_give_an_empty_result():
    scores = in_row_chunks(lambda i, u: tf.linalg.matvec(tf.gather(tf.ones([5, 2]), i), u),
                           [3], 6, tf.zeros([0, 3], tf.int32), tf.zeros([0, 2]))
    assert scores.shape == (0, 3)


def test_a_static_block_size_compiles_without_grappler_errors(case, capfd):
    # a tf.cond on a size Grappler folds, its dropped branch the chunks' loop, made its
    # dependency optimizer log "topological sort failed" at every trace
    value_and_gradients(gathered_scores, case, compile_=True)
    assert "topological sort failed" not in capfd.readouterr().err


@pytest.mark.parametrize("chunked_above", [0, 10**9])  # large at run time, and small
def test_a_batch_of_unknown_size_chooses_chunks_at_run_time(case, chunked_above, monkeypatch):
    import kdtfrs.gathered_scores as module
    monkeypatch.setattr(module, "CHUNKED_ABOVE", chunked_above)
    monkeypatch.setattr(module, "CHUNK_ELEMENTS", 3 * 6 * 3)
    users, items, user_table, item_table, weights = case

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32),
                                  tf.TensorSpec([None, 6], tf.int32)])
    def run(users, items):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(weights * gathered_scores(user_table, item_table, users, items))
        user_gradient, item_gradient = tape.gradient(loss, [user_table, item_table])
        return loss, tf.convert_to_tensor(user_gradient), tf.convert_to_tensor(item_gradient)

    loss, *gradients = run(users, items)
    reference_loss, reference = value_and_gradients(plain, case)
    np.testing.assert_allclose(loss, reference_loss, rtol=1e-6)
    for got, expected in zip(gradients, reference):
        np.testing.assert_allclose(got, tf.convert_to_tensor(expected), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("compile_", [False, True])
def test_tensor_tables_give_the_same_scores_and_gradients(case, compile_):
    users, items, user_table, item_table, weights = case
    tensors = (tf.constant(user_table.numpy()), tf.constant(item_table.numpy()))

    def run(score):
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            loss = tf.reduce_sum(weights * score(*tensors, users, items))
        return loss, tape.gradient(loss, tensors)

    loss, gradients = (tf.function(run) if compile_ else run)(gathered_scores)
    reference_loss, reference = run(plain)
    np.testing.assert_allclose(loss, reference_loss, rtol=1e-6)
    assert isinstance(gradients[1], tf.IndexedSlices)
    np.testing.assert_array_equal(gradients[1].indices, np.unique(items.numpy()))
    for got, expected in zip(gradients, reference):
        np.testing.assert_allclose(tf.convert_to_tensor(got), tf.convert_to_tensor(expected),
                                   rtol=1e-5, atol=1e-6)
