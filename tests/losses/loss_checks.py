"""Shared checks and inputs for the loss tests: NumPy math, random padded inputs, and the
contract every kdtfrs loss must meet (values, gradients, padding, config, graph, distribution).

The NumPy helpers here are written independently of kdtfrs (float64, plain loops allowed).
"""

import numpy as np

from kdtfrs._keras import keras, tf

NAN = float("nan")


# ---- NumPy math for the references -------------------------------------------------------


def log_softmax(values):
    """log softmax of a 1-D float64 array."""
    shifted = values - values.max()
    return shifted - np.log(np.exp(shifted).sum())


def log_sigmoid(values):
    return -np.logaddexp(0.0, -values)


def teacher_order(labels):
    """Positions of the real (finite) entries of a 1-D relevance row, highest first, ties in
    list order."""
    real = np.flatnonzero(np.isfinite(labels))
    return real[np.argsort(-labels[real], kind="stable")]


def relaxed_ranking(y_true, y_pred, with_uninteresting=True):
    """Per-row RRD (or, without the uninteresting items, SLD) by its definition:
    -Σ_k [s_{i_k} - log(Σ_{l>=k} e^{s_{i_l}} + Σ_{j uninteresting} e^{s_j})]."""
    losses = np.zeros(len(y_true))
    for row, (labels, logits) in enumerate(zip(y_true, y_pred)):
        order = teacher_order(labels)
        interesting = order[labels[order] > 0]
        uninteresting = order[labels[order] <= 0] if with_uninteresting else order[:0]
        for k, item in enumerate(interesting):
            denominator = np.concatenate([logits[interesting[k:]], logits[uninteresting]])
            top = denominator.max()
            losses[row] -= logits[item] - (top + np.log(np.exp(denominator - top).sum()))
    return losses


# ---- inputs --------------------------------------------------------------------------------


def score_inputs(seed, rows=4, items=6, padding=0.25):
    """(y_true, y_pred) float32 [rows, items]: normal teacher/student scores; a ``padding``
    fraction of y_true is padding (NaN), and y_pred holds NaN or a huge value there."""
    rng = np.random.default_rng(seed)
    y_true = rng.normal(scale=2.0, size=(rows, items))
    y_pred = rng.normal(size=(rows, items))
    padded = rng.random((rows, items)) < padding
    padded[:, 0] = False
    y_true[padded] = NAN
    y_pred[padded & (rng.random((rows, items)) < 0.5)] = NAN
    y_pred[padded & np.isfinite(y_pred)] = 1e30
    return y_true.astype(np.float32), y_pred.astype(np.float32)


def relevance_inputs(seed, rows=4, ranked=4, unranked=3, padded=2, tie=True):
    """(y_true, y_pred) float32 [rows, ranked+unranked+padded]: per row, ``ranked`` items with
    relevance > 0 (the first and last equal when ``tie``), ``unranked`` items with relevance 0
    and ``padded`` NaN entries, shuffled; y_pred holds NaN or a huge value at padded entries."""
    rng = np.random.default_rng(seed)
    items = ranked + unranked + padded
    y_true = np.empty((rows, items))
    y_pred = rng.normal(scale=1.5, size=(rows, items))
    for row in range(rows):
        relevance = rng.choice(np.arange(1, 50), size=ranked, replace=False).astype(float)
        if tie:
            relevance[-1] = relevance[0]
        values = np.concatenate([relevance, np.zeros(unranked), np.full(padded, NAN)])
        permutation = rng.permutation(items)
        y_true[row] = values[permutation]
        y_pred[row, permutation >= ranked + unranked] = [NAN, 1e30][row % 2]
    return y_true.astype(np.float32), y_pred.astype(np.float32)


def with_padding(y_true, y_pred, seed, extra=2):
    """Inputs without padding plus ``extra`` padded entries inserted at random positions of
    axis 1 (y_true NaN, y_pred NaN or huge; real entries keep their order) and one
    all-padding row appended."""
    rng = np.random.default_rng(seed)
    rows, items = y_true.shape[:2]
    is_padding = np.zeros(items + extra, bool)
    is_padding[rng.choice(items + extra, size=extra, replace=False)] = True
    true_shape = (rows + 1, items + extra) + y_true.shape[2:]
    pred_shape = (rows + 1, items + extra) + y_pred.shape[2:]
    padded_true = np.full(true_shape, NAN)
    padded_pred = np.where(rng.random(pred_shape) < 0.5, NAN, -1e30)
    padded_true[:rows, ~is_padding] = y_true
    padded_pred[:rows, ~is_padding] = y_pred
    padded_pred[rows] = rng.normal(size=pred_shape[1:])
    return padded_true.astype(np.float32), padded_pred.astype(np.float32)


# ---- the contract --------------------------------------------------------------------------


def with_reduction(loss, reduction):
    return type(loss).from_config({**loss.get_config(), "reduction": reduction})


def per_row(loss, y_true, y_pred):
    return with_reduction(loss, keras.losses.Reduction.NONE)(y_true, y_pred).numpy()


def gradient(loss, y_true, y_pred):
    """d Σ_rows loss / d y_pred, from TensorFlow."""
    logits = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(with_reduction(loss, keras.losses.Reduction.NONE)(y_true, logits))
    return tape.gradient(total, logits).numpy()


def numeric_gradient(reference, y_true, y_pred, step=1e-5):
    """Central differences of Σ reference(y_true, y_pred) over the finite entries of y_pred."""
    y_true, y_pred = y_true.astype(np.float64), y_pred.astype(np.float64)
    result = np.zeros_like(y_pred)
    for index in zip(*np.nonzero(np.isfinite(y_pred) & (np.abs(y_pred) < 1e6))):
        plus, minus = y_pred.copy(), y_pred.copy()
        plus[index] += step
        minus[index] -= step
        result[index] = (reference(y_true, plus).sum() - reference(y_true, minus).sum()) / (
            2 * step
        )
    return result


def assert_matches_reference(loss, y_true, y_pred, reference):
    """Per-row values and gradients agree with the NumPy reference; gradients are finite and
    zero at padded entries."""
    expected = reference(y_true.astype(np.float64), y_pred.astype(np.float64))
    np.testing.assert_allclose(per_row(loss, y_true, y_pred), expected, rtol=1e-5, atol=1e-5)
    grads = gradient(loss, y_true, y_pred)
    assert np.all(np.isfinite(grads))
    np.testing.assert_allclose(
        grads, numeric_gradient(reference, y_true, y_pred), rtol=1e-3, atol=1e-5
    )


def assert_padding_changes_nothing(
    loss, y_true, y_pred, padded_true, padded_pred, padded_loss=None
):
    """Per-row values with extra padding (scored by ``padded_loss``, default ``loss``) equal
    those without; the all-padding row gives 0 with a zero gradient; gradients stay finite."""
    rows = y_true.shape[0]
    padded_loss = padded_loss or loss
    padded_losses = per_row(padded_loss, padded_true, padded_pred)
    np.testing.assert_allclose(
        padded_losses[:rows], per_row(loss, y_true, y_pred), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_array_equal(padded_losses[rows:], 0.0)
    grads = gradient(padded_loss, padded_true, padded_pred)
    assert np.all(np.isfinite(grads))
    np.testing.assert_array_equal(grads[rows:], 0.0)


def assert_keras_contract(loss, y_true, y_pred):
    """Serialisation round trip, eager == tf.function (with unknown shapes), scalar AUTO."""
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
    assert type(loss).from_config(loss.get_config()).get_config() == loss.get_config()
    eager = loss(y_true, y_pred).numpy()
    assert eager.shape == ()
    specs = [tf.TensorSpec([None] * y_true.ndim), tf.TensorSpec([None] * y_pred.ndim)]
    graph = tf.function(restored.__call__, input_signature=specs)(y_true, y_pred).numpy()
    np.testing.assert_allclose(graph, eager, rtol=1e-6)


def assert_distributed_mean(strategy, loss, y_true, y_pred):
    """Under ``strategy``, reduction SUM divided by the global batch equals the one-replica
    mean over rows (Keras AUTO) on the same global batch."""
    global_batch = y_true.shape[0]
    summed = with_reduction(loss, keras.losses.Reduction.SUM)
    dataset = tf.data.Dataset.from_tensor_slices((y_true, y_pred)).batch(global_batch)
    batch = next(iter(strategy.experimental_distribute_dataset(dataset)))

    @tf.function
    def distributed_loss(batch):
        per_replica = strategy.run(lambda t, p: summed(t, p) / global_batch, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    np.testing.assert_allclose(
        distributed_loss(batch).numpy(), loss(y_true, y_pred).numpy(), rtol=1e-5, atol=1e-6
    )
