"""Exact top-k of long rows without ranking every entry: a sampled threshold, then candidates.

``tf.math.top_k`` costs grow with k: a per-epoch refresh of a student's top-3,000 items (CD)
or a teacher's top-500 (RRD, DCD) spends most of its time there, not in scoring. For k in
the hundreds or more this module ranks a block of rows [b, n] in three steps:

1. Threshold. A fixed random sample of m = ceil(n / ``STRIDE``) columns; per row, t = the
   j-th best sampled score with j = ceil(k / STRIDE + ``MARGIN`` * sqrt(k / STRIDE)). The
   number of sampled columns among a row's top k is hypergeometric with mean k / STRIDE, so
   j lies ``MARGIN`` standard deviations above it and t is below the row's k-th best score
   (at least k entries are >= t) except with negligible probability.
2. Candidates. The entries >= t of each row, packed in column order (-inf padding): about
   j * STRIDE of them, 1.1-3x k, instead of n.
3. ``tf.math.top_k`` of the candidates, mapped back to columns.

Exact, ties included: when at least k entries of a row are >= t, every entry of its top k is
a candidate, and candidates keep column order, so equal scores still go to the lower column
as in ``tf.math.top_k``. If any row of the block has fewer than k candidates (t was too
high), the whole block is ranked by ``tf.math.top_k`` instead. A row whose sampled scores
are mostly -inf (excluded items) gets t = -inf and every entry as candidate: exact, slower.
benchmarks/long_top_k.py times the three ways to rank a block and sets ``MIN_K``.
"""

from __future__ import annotations

import math

import numpy as np

from kdtfrs._keras import tf

STRIDE = 8
MARGIN = 7.0
MIN_K = 200  # below it tf.math.top_k is as fast (benchmarks/long_top_k.py)


def worthwhile(k: int, num_columns: int) -> bool:
    """Whether ranking by candidates pays for rows of ``num_columns`` entries."""
    return k >= MIN_K and sample_rank(k) * STRIDE <= num_columns // 2


def sample_rank(k: int) -> int:
    """j: the threshold's rank among the sampled scores of a row (module docstring)."""
    expected = k / STRIDE
    return math.ceil(expected + MARGIN * math.sqrt(expected))


def sample_columns(num_columns: int, seed: int = 0) -> np.ndarray:
    """int32 [ceil(num_columns / STRIDE)]: the fixed random sample of columns, sorted."""
    count = -(-num_columns // STRIDE)
    chosen = np.random.default_rng(seed).choice(num_columns, count, replace=False)
    return np.sort(chosen).astype(np.int32)


def candidate_top_k(scores, k: int, columns):
    """(values, indices) [b, k] of each row's k best entries, as ``tf.math.top_k(scores, k)``.

    Args:
      scores: float [b, n].
      k: entries to keep; ``sample_rank(k)`` must not exceed ``len(columns)``.
      columns: ``sample_columns(n)`` (a constant, so traces are shared).
    """
    rank = sample_rank(k)
    if rank > int(columns.shape[0]):
        raise ValueError(f"k={k} needs {rank} sampled columns, the sample has "
                         f"{int(columns.shape[0])}: use tf.math.top_k for this k.")
    threshold = tf.math.top_k(tf.gather(scores, columns, axis=1), rank).values[:, -1:]
    keep = scores >= threshold
    counts = tf.reduce_sum(tf.cast(keep, tf.int64), axis=1)

    def by_candidates():
        where = tf.where(keep)  # row-major: each row's candidates in column order
        kept = tf.RaggedTensor.from_row_lengths(tf.cast(where[:, 1], tf.int32), counts)
        kept_columns = kept.to_tensor(0)
        filled = tf.sequence_mask(counts, tf.shape(kept_columns)[1])
        values = tf.where(filled, tf.gather(scores, kept_columns, batch_dims=1), float("-inf"))
        top = tf.math.top_k(values, k)
        return top.values, tf.gather(kept_columns, top.indices, batch_dims=1)

    def by_top_k():
        top = tf.math.top_k(scores, k)
        return top.values, top.indices

    enough = tf.reduce_all(counts >= k)
    return tf.cond(enough, by_candidates, by_top_k)
