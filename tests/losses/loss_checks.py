"""Shared checks and inputs for the loss tests: NumPy math, random padded inputs, and the
contract every kdtfrs loss must meet (values, gradients, padding, config, graph, distribution).

The NumPy helpers here are written independently of kdtfrs (float64, plain loops allowed).
Padding: relevance inputs mark it with y_true < 0; score inputs with a mask (``mask=``). The
input builders return (y_true, y_pred, mask) with mask None where the labels carry the
padding; references take (y_true, y_pred, mask) with the mask as a bool array.
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


def teacher_order(labels, mask=None):
    """Positions of the real entries (label >= 0, mask True) of a 1-D relevance row, highest
    first, ties in list order."""
    real = labels >= 0 if mask is None else (labels >= 0) & mask
    real = np.flatnonzero(real)
    return real[np.argsort(-labels[real], kind="stable")]


def relaxed_ranking(y_true, y_pred, mask, with_uninteresting=True):
    """Per-row RRD (or, without the uninteresting items, SLD) by its definition:
    -Σ_k [s_{i_k} - log(Σ_{l>=k} e^{s_{i_l}} + Σ_{j uninteresting} e^{s_j})]."""
    losses = np.zeros(len(y_true))
    for row, (labels, logits, real) in enumerate(zip(y_true, y_pred, mask)):
        order = teacher_order(labels, real)
        interesting = order[labels[order] > 0]
        uninteresting = order[labels[order] == 0] if with_uninteresting else order[:0]
        for k, item in enumerate(interesting):
            denominator = np.concatenate([logits[interesting[k:]], logits[uninteresting]])
            top = denominator.max()
            losses[row] -= logits[item] - (top + np.log(np.exp(denominator - top).sum()))
    return losses


# ---- inputs --------------------------------------------------------------------------------


def score_inputs(seed, rows=4, items=6, padding=0.25):
    """(y_true, y_pred, mask) [rows, items]: normal teacher/student scores; a ``padding``
    fraction of entries is padding (mask False): y_true holds a large finite score there and
    y_pred NaN or a huge value."""
    rng = np.random.default_rng(seed)
    y_true = rng.normal(scale=2.0, size=(rows, items))
    y_pred = rng.normal(size=(rows, items))
    padded = rng.random((rows, items)) < padding
    padded[:, 0] = False
    y_true[padded] = 1e4
    y_pred[padded & (rng.random((rows, items)) < 0.5)] = NAN
    y_pred[padded & np.isfinite(y_pred)] = 1e30
    return y_true.astype(np.float32), y_pred.astype(np.float32), ~padded


def relevance_inputs(seed, rows=4, ranked=4, unranked=3, padded=2, tie=True):
    """(y_true, y_pred, None) float32 [rows, ranked+unranked+padded]: per row, ``ranked`` items
    with relevance > 0 (the first and last equal when ``tie``), ``unranked`` items with
    relevance 0 and ``padded`` entries with relevance < 0 (-1 or lower), shuffled; y_pred
    holds NaN or a huge value at padded entries."""
    rng = np.random.default_rng(seed)
    items = ranked + unranked + padded
    y_true = np.empty((rows, items))
    y_pred = rng.normal(scale=1.5, size=(rows, items))
    for row in range(rows):
        relevance = rng.choice(np.arange(1, 50), size=ranked, replace=False).astype(float)
        if tie:
            relevance[-1] = relevance[0]
        padding = -1.0 - rng.integers(0, 5, size=padded)
        values = np.concatenate([relevance, np.zeros(unranked), padding])
        permutation = rng.permutation(items)
        y_true[row] = values[permutation]
        y_pred[row, permutation >= ranked + unranked] = [NAN, 1e30][row % 2]
    return y_true.astype(np.float32), y_pred.astype(np.float32), None


def with_padding(y_true, y_pred, seed, extra=2, by_labels=True):
    """Unpadded inputs plus ``extra`` padded entries inserted at random positions of axis 1
    (real entries keep their order) and one all-padding row appended.

    ``by_labels``: padded y_true is negative (the relevance rule), and the mask returned is
    None; otherwise y_true holds random finite values there and the mask (y_pred's shape)
    is False. y_pred holds NaN or a huge value at padded entries.

    Returns:
      (padded y_true, padded y_pred, mask or None).
    """
    rng = np.random.default_rng(seed)
    rows, items = y_true.shape[:2]
    is_padding = np.zeros(items + extra, bool)
    is_padding[rng.choice(items + extra, size=extra, replace=False)] = True
    true_shape = (rows + 1, items + extra) + y_true.shape[2:]
    pred_shape = (rows + 1, items + extra) + y_pred.shape[2:]
    padded_pred = np.where(rng.random(pred_shape) < 0.5, NAN, -1e30)
    padded_pred[rows] = rng.normal(size=pred_shape[1:])
    if by_labels:
        padded_true = -1.0 - rng.integers(0, 5, size=true_shape).astype(float)
    else:
        padded_true = rng.normal(scale=3.0, size=true_shape)
    padded_true[:rows, ~is_padding] = y_true
    padded_pred[:rows, ~is_padding] = y_pred
    mask = np.ones(pred_shape, bool)
    mask[:rows, is_padding] = False
    mask[rows] = False
    return (padded_true.astype(np.float32), padded_pred.astype(np.float32),
            None if by_labels else mask)


# ---- the contract --------------------------------------------------------------------------


def with_reduction(loss, reduction):
    return type(loss).from_config({**loss.get_config(), "reduction": reduction})


def per_row(loss, y_true, y_pred, mask=None):
    return with_reduction(loss, keras.losses.Reduction.NONE)(y_true, y_pred, mask=mask).numpy()


def gradient(loss, y_true, y_pred, mask=None):
    """d Σ_rows loss / d y_pred, from TensorFlow."""
    logits = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        unreduced = with_reduction(loss, keras.losses.Reduction.NONE)
        total = tf.reduce_sum(unreduced(y_true, logits, mask=mask))
    return tape.gradient(total, logits).numpy()


def numeric_gradient(reference, y_true, y_pred, mask=None, step=1e-5):
    """Central differences of Σ reference(y_true, y_pred, mask) over the finite entries of
    y_pred."""
    y_true, y_pred = y_true.astype(np.float64), y_pred.astype(np.float64)
    mask = full_mask(y_pred, mask)
    result = np.zeros_like(y_pred)
    for index in zip(*np.nonzero(np.isfinite(y_pred) & (np.abs(y_pred) < 1e6))):
        plus, minus = y_pred.copy(), y_pred.copy()
        plus[index] += step
        minus[index] -= step
        result[index] = (
            reference(y_true, plus, mask).sum() - reference(y_true, minus, mask).sum()
        ) / (2 * step)
    return result


def full_mask(y_pred, mask):
    """``mask`` as a bool array of y_pred's shape (all True for None)."""
    return np.ones(np.shape(y_pred), bool) if mask is None else np.asarray(mask, bool)


def assert_matches_reference(loss, reference, y_true, y_pred, mask=None):
    """Per-row values and gradients agree with the NumPy reference; gradients are finite and
    zero at padded entries."""
    expected = reference(y_true.astype(np.float64), y_pred.astype(np.float64),
                         full_mask(y_pred, mask))
    np.testing.assert_allclose(
        per_row(loss, y_true, y_pred, mask), expected, rtol=1e-5, atol=1e-5
    )
    grads = gradient(loss, y_true, y_pred, mask)
    assert np.all(np.isfinite(grads))
    np.testing.assert_allclose(
        grads, numeric_gradient(reference, y_true, y_pred, mask), rtol=1e-3, atol=1e-5
    )


def assert_padding_changes_nothing(
    loss, y_true, y_pred, padded_true, padded_pred, padded_mask=None, padded_loss=None
):
    """Per-row values with extra padding (scored by ``padded_loss``, default ``loss``) equal
    those without; the all-padding row gives 0 with a zero gradient; gradients stay finite."""
    rows = y_true.shape[0]
    padded_loss = padded_loss or loss
    padded_losses = per_row(padded_loss, padded_true, padded_pred, padded_mask)
    np.testing.assert_allclose(
        padded_losses[:rows], per_row(loss, y_true, y_pred), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_array_equal(padded_losses[rows:], 0.0)
    grads = gradient(padded_loss, padded_true, padded_pred, padded_mask)
    assert np.all(np.isfinite(grads))
    np.testing.assert_array_equal(grads[rows:], 0.0)


def assert_keras_contract(loss, y_true, y_pred, mask=None):
    """Serialisation round trip, eager == tf.function (with unknown shapes), scalar AUTO."""
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
    assert type(loss).from_config(loss.get_config()).get_config() == loss.get_config()
    mask = full_mask(y_pred, mask)
    eager = loss(y_true, y_pred, mask=mask).numpy()
    assert eager.shape == ()
    specs = [tf.TensorSpec([None] * y_true.ndim), tf.TensorSpec([None] * y_pred.ndim),
             tf.TensorSpec([None] * y_pred.ndim, tf.bool)]

    @tf.function(input_signature=specs)
    def graph(y_true, y_pred, mask):
        return restored(y_true, y_pred, mask=mask)

    np.testing.assert_allclose(graph(y_true, y_pred, mask).numpy(), eager, rtol=1e-6)


def assert_distributed_mean(strategy, loss, y_true, y_pred, mask=None):
    """Under ``strategy``, reduction SUM divided by the global batch equals the one-replica
    mean over rows (Keras AUTO) on the same global batch."""
    global_batch = y_true.shape[0]
    mask = full_mask(y_pred, mask)
    summed = with_reduction(loss, keras.losses.Reduction.SUM)
    dataset = tf.data.Dataset.from_tensor_slices((y_true, y_pred, mask)).batch(global_batch)
    batch = next(iter(strategy.experimental_distribute_dataset(dataset)))

    @tf.function
    def distributed_loss(batch):
        per_replica = strategy.run(
            lambda t, p, m: summed(t, p, mask=m) / global_batch, args=batch
        )
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    np.testing.assert_allclose(
        distributed_loss(batch).numpy(), loss(y_true, y_pred, mask=mask).numpy(),
        rtol=1e-5, atol=1e-6,
    )
