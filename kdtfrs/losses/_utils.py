"""Masked list math shared by the kdtfrs losses.

Every loss receives a boolean ``mask`` (True = a real entry, False = padding) next to its
``labels`` and ``logits``; the relevance losses also read labels < 0 as padding
(:func:`relevance_entries`). The functions here are the one place that turns that mask into math:

- padded entries are replaced by safe finite values *before* any arithmetic
  (:func:`sanitize`), so neither the value nor the gradient ever sees a NaN or an infinity;
- normalisers are max-shifted (no ``exp`` overflow) and sum only over real entries, so a
  padded entry changes nothing, and a list with no real entry yields finite zeros.
"""

import numpy as np

from kdtfrs._keras import tf

# A padded entry inside a cumulative log-sum-exp is placed this many nats below the smallest
# real entry of its list: its weight e^-100 relative to any real term (< 4e-44) is far below
# the float32 and float64 rounding error, so it changes no result, and it keeps gradients finite.
_NEGLIGIBLE_LOG_WEIGHT = 100.0
# Rows spanning at most this many nats keep every e^{x - max} a normal float32 (> 1e-38).
_MAX_SHIFTED_SPREAD = 80.0
# Columns per block of :func:`row_cumsum`: each entry costs this many multiply-adds there.
_SCAN_BLOCK = 16


def relevance_entries(labels, mask):
    """``mask & (labels >= 0)``: for relevance labels, y_true < 0 marks padding (the
    TF-Ranking rule), next to the explicit ``mask``."""
    return tf.cast(mask, tf.bool) & (labels >= 0)


def sanitize(values, mask):
    """``values`` with every padded entry replaced by 0 (done first, so gradients stay finite)."""
    return tf.where(mask, values, tf.zeros_like(values))


def masked_sum(values, mask, axis=-1):
    """Σ over the real entries of ``values`` along ``axis``."""
    return tf.reduce_sum(sanitize(values, mask), axis=axis)


def masked_logsumexp(values, mask, axis=-1, keepdims=False):
    """log Σ_{real j} e^{x_j} along ``axis``; 0 for a list without real entries.

    Shifted by the (constant) maximum of the real entries, so ``exp`` never overflows.
    """
    has_entries = tf.reduce_any(mask, axis=axis, keepdims=True)
    lowest = tf.fill(tf.shape(values), values.dtype.min)
    shift = tf.reduce_max(tf.where(mask, values, lowest), axis=axis, keepdims=True)
    shift = tf.stop_gradient(tf.where(has_entries, shift, tf.zeros_like(shift)))
    terms = tf.where(mask, tf.exp(sanitize(values - shift, mask)), tf.zeros_like(values))
    total = tf.reduce_sum(terms, axis=axis, keepdims=True)
    result = tf.math.log(tf.where(total > 0, total, tf.ones_like(total))) + shift
    return result if keepdims else tf.squeeze(result, axis=axis)


def masked_log_softmax(values, mask, axis=-1):
    """log softmax over the real entries of ``values``; 0 at padded entries."""
    normalised = values - masked_logsumexp(values, mask, axis=axis, keepdims=True)
    return sanitize(normalised, mask)


def masked_softmax(values, mask, axis=-1):
    """softmax over the real entries of ``values``; 0 at padded entries."""
    return sanitize(tf.exp(masked_log_softmax(values, mask, axis=axis)), mask)


def soft_cross_entropy(teacher_logits, student_logits, mask):
    """-Σ_i softmax(teacher)_i · log softmax(student)_i over the real entries of each row.

    Args:
      teacher_logits: [B, N] logits of the target distribution (already divided by any
        temperature).
      student_logits: [B, N] logits of the predicted distribution.
      mask: [B, N] bool, the entries that take part; a row without entries gives 0.

    Returns:
      float [B] cross-entropies.
    """
    teacher_probabilities = masked_softmax(teacher_logits, mask)
    student_log_probabilities = masked_log_softmax(student_logits, mask)
    return masked_sum(-teacher_probabilities * student_log_probabilities, mask)


def row_cumsum(values, reverse=False):
    """``tf.math.cumsum(values, axis=-1, reverse=reverse)`` for a [B, N] tensor, in blocks.

    TensorFlow's CPU kernel scans a row one entry after the other. Here each row is cut into
    blocks of ``_SCAN_BLOCK`` columns (the last one padded with zeros, which add nothing in
    either direction), the sums within a block are one matmul with a triangular matrix of
    ones, and each block then adds the total of the blocks before it (after it, ``reverse``),
    a cumsum of N / ``_SCAN_BLOCK`` entries. Same sums, in another order of addition
    (`benchmarks/kernel_floor.py`: ``cumsum`` against ``cumsum in blocks``).
    """
    values = tf.convert_to_tensor(values)
    rows, width = tf.shape(values)[0], tf.shape(values)[1]
    blocks = (width + _SCAN_BLOCK - 1) // _SCAN_BLOCK
    padded = tf.pad(values, [[0, 0], [0, blocks * _SCAN_BLOCK - width]])
    # [c, d] = 1 where column c counts towards the sum at column d of its block.
    counted = np.tril if reverse else np.triu
    triangle = tf.constant(counted(np.ones((_SCAN_BLOCK, _SCAN_BLOCK))), values.dtype)
    within = tf.reshape(tf.matmul(tf.reshape(padded, [-1, _SCAN_BLOCK]), triangle),
                        [rows, blocks, _SCAN_BLOCK])
    totals = within[:, :, 0] if reverse else within[:, :, -1]
    others = tf.math.cumsum(totals, axis=-1, exclusive=True, reverse=reverse)
    sums = tf.reshape(within + others[:, :, None], [rows, blocks * _SCAN_BLOCK])
    return sums[:, :width]


def reverse_cumulative_logsumexp(values, mask):
    """log Σ_{real l >= k} e^{x_l} for every position k of the last axis.

    Computed as ``log(cumsum(e^{x - max}, reverse)) + max`` per row (max of the row's real
    entries, padded entries adding exactly 0), with the gradient
    ``dL/dx_l = e^{x_l - max} Σ_{k <= l} g_k e^{max - r_k}``: one ``exp`` and one ``log`` per
    entry, a fifth of the cost of ``tf.math.cumulative_logsumexp`` with its gradient. Both are
    exact while every real term stays a normal float32 (``e^{x - max}`` >= e^-80), i.e. while
    no row spans more than ``_MAX_SHIFTED_SPREAD`` nats; a batch with a wider row takes
    ``tf.math.cumulative_logsumexp`` and its log-space gradient (padded entries then sit
    ``_NEGLIGIBLE_LOG_WEIGHT`` nats below the row's smallest real entry: they add nothing at
    float precision). The result at padded positions is meaningless: callers mask it.
    """
    mask = tf.cast(mask, tf.bool)
    has_entries = tf.reduce_any(mask, axis=-1, keepdims=True)
    highest = tf.fill(tf.shape(values), values.dtype.max)
    lowest = tf.fill(tf.shape(values), values.dtype.min)
    smallest = tf.reduce_min(tf.where(mask, values, highest), axis=-1, keepdims=True)
    largest = tf.reduce_max(tf.where(mask, values, lowest), axis=-1, keepdims=True)
    smallest = tf.stop_gradient(tf.where(has_entries, smallest, tf.zeros_like(smallest)))
    largest = tf.stop_gradient(tf.where(has_entries, largest, tf.zeros_like(largest)))
    narrow = tf.reduce_all(largest - smallest <= _MAX_SHIFTED_SPREAD)
    filled = tf.where(mask, values, tf.broadcast_to(smallest - _NEGLIGIBLE_LOG_WEIGHT,
                                                    tf.shape(values)))
    return _suffix_logsumexp(filled, mask, largest, narrow)


def _suffix_logsumexp(filled, mask, largest, narrow):
    """The computation of :func:`reverse_cumulative_logsumexp` on ``filled`` values.

    A custom gradient, so that the choice between the two ways (``tf.cond``) is not itself
    differentiated: TensorFlow's gradient of ``cond`` keeps optional intermediates that its
    graph type inference warns about at every trace.
    """

    @tf.custom_gradient
    def suffix_logsumexp(values):
        def shifted_sums():
            terms = tf.where(mask, tf.exp(values - largest), tf.zeros_like(values))
            sums = row_cumsum(terms, reverse=True)
            return tf.math.log(tf.where(sums > 0, sums, tf.ones_like(sums))) + largest

        def scan():
            return tf.math.cumulative_logsumexp(values, axis=-1, reverse=True)

        result = tf.cond(narrow, shifted_sums, scan)

        def gradient(upstream):
            def shifted():
                weights = tf.where(mask, tf.exp(largest - result), tf.zeros_like(result))
                prefix = row_cumsum(upstream * weights)
                return tf.where(mask, tf.exp(values - largest), tf.zeros_like(values)) * prefix

            def log_space():  # as TensorFlow's gradient of CumulativeLogsumexp
                def part(signed):
                    logs = tf.where(signed > 0, tf.math.log(tf.where(signed > 0, signed, 1.0)),
                                    tf.fill(tf.shape(signed), -float("inf")))
                    return tf.exp(tf.math.cumulative_logsumexp(logs - result, axis=-1) + values)

                return part(upstream) - part(-upstream)

            return tf.cond(narrow, shifted, log_space)

        return result, gradient

    return suffix_logsumexp(filled)


def sorted_by_teacher(labels, mask, *tensors):
    """``(labels, mask, *tensors)`` with each row's columns in :func:`teacher_order`.

    When every row already is in that order (a sampler that lists items as the teacher ranks
    them, as RRD's, DCD's and RD's do), the stable sort would give the identity: the tensors
    are returned as they are, without the sort or the gathers (and their scatters in the
    gradient) of B x N entries each.
    """
    mask = tf.cast(mask, tf.bool)
    order, in_order = _order_unless_sorted(labels, mask)
    mask = tf.cond(in_order, lambda: mask, lambda: take_along_rows(mask, order))
    return (_in_order(labels, order, in_order), mask,
            *(_in_order(tensor, order, in_order) for tensor in tensors))


def teacher_positions(labels, mask):
    """int32 [B, N]: each entry's 0-based place in its row's :func:`teacher_order` (the
    identity, computed without a sort, when every row already is in that order)."""
    order, in_order = _order_unless_sorted(labels, tf.cast(mask, tf.bool))
    return tf.cond(in_order,
                   lambda: tf.broadcast_to(tf.range(tf.shape(order)[-1]), tf.shape(order)),
                   lambda: tf.argsort(order, axis=-1))


def teacher_order(labels, mask):
    """Indices [B, N] that sort each row by teacher relevance, highest first.

    Padded entries go last. Ties keep their list order (a stable sort), so the result is
    deterministic.
    """
    return tf.argsort(_teacher_keys(labels, mask), axis=-1, direction="DESCENDING", stable=True)


def _teacher_keys(labels, mask):
    """The labels, with -inf at padded entries: what teacher order sorts by."""
    lowest = tf.fill(tf.shape(labels), tf.constant(-float("inf"), labels.dtype))
    return tf.where(mask, labels, lowest)


def _order_unless_sorted(labels, mask):
    """(:func:`teacher_order`, or zeros where not needed; whether every row is in it)."""
    keys = _teacher_keys(labels, mask)
    in_order = tf.reduce_all(keys[:, :-1] >= keys[:, 1:])
    order = tf.cond(in_order,
                    lambda: tf.zeros(tf.shape(keys), tf.int32),  # not read
                    lambda: teacher_order(labels, mask))
    return order, in_order


def _in_order(values, order, in_order):
    """``values`` if ``in_order``, else ``take_along_rows(values, order)`` for a permutation
    ``order`` of each row.

    A custom gradient, so that the choice (``tf.cond``) is not itself differentiated (see
    :func:`_suffix_logsumexp`): the gradient is the upstream one put back in place, the rows
    scattered by ``order`` where they were gathered by it.
    """

    @tf.custom_gradient
    def reordered(values):
        def gradient(upstream):
            def put_back():
                rows = tf.broadcast_to(tf.range(tf.shape(order)[0])[:, None], tf.shape(order))
                places = tf.stack([rows, order], axis=-1)
                return tf.scatter_nd(places, upstream, tf.shape(upstream))

            return tf.cond(in_order, lambda: upstream, put_back)

        return tf.cond(in_order, lambda: values, lambda: take_along_rows(values, order)), gradient

    return reordered(values)


def take_along_rows(values, order):
    """``values[b, order[b, n]]`` for every row b: reorders each row of a [B, N] tensor."""
    return tf.gather(values, order, batch_dims=1)
