"""Exact top-k of long rows without ranking every entry: a sampled threshold, then candidates.

``tf.math.top_k`` costs grow with k: a per-epoch refresh of a student's top-3,000 items (CD)
or a teacher's top-500 (RRD, DCD) spent most of its time there, not in scoring. For k in the
hundreds or more this module ranks a block of rows [b, n] of scores (NumPy, on the host, as
``kdtfrs.ranking.top_k_items`` returns them) in three steps:

1. Threshold. A fixed random sample of m = ceil(n / ``STRIDE``) columns; per row, t = the
   j-th best sampled score with j = ceil(k / STRIDE + ``MARGIN`` * sqrt(k / STRIDE)). The
   number of sampled columns among a row's top k is hypergeometric with mean k / STRIDE, so
   j lies ``MARGIN`` standard deviations above it and t is below the row's k-th best score
   (at least k entries are >= t) except with negligible probability.
2. Candidates. The entries not below t (about j * STRIDE of them, 1.1-3x k, instead of n),
   each packed into one int64 key: (row, descending score, column) from the high bits to the
   low. The score's 32 bits are mapped so that integer order is score order, best first.
3. One sort of the keys (NumPy's vectorised sort), then each row's first k keys decoded.

Exact, ties included: when at least k entries of a row are >= t, every entry of its top k is
a candidate, and the key orders equal scores by column, so they go to the lower column as in
``tf.math.top_k`` (-0.0 counts as 0.0 and comes back as 0.0). If a row has fewer than k
candidates (t was too high), its rows are ranked over every entry instead, still exactly. A
row whose sampled scores are mostly -inf (excluded items) gets t = -inf and every entry as
candidate: exact, slower. NaN scores are always candidates; where they rank is unspecified,
as in ``tf.math.top_k``. Blocks of rows are split over the machine's cores (NumPy releases
the GIL while it sorts). benchmarks/long_top_k.py times it against ``tf.math.top_k`` and
sets ``MIN_K``.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

STRIDE = 8
MARGIN = 7.0
MIN_K = 200  # below it tf.math.top_k is as fast (benchmarks/long_top_k.py)
SCORE_BITS = 32
KEY_BITS = 63  # int64 keys stay non-negative, so signed order is key order


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


def candidate_top_k(scores, k: int, columns, workers: int | None = None):
    """(values float32 [b, k], indices int32 [b, k]): each row's k best entries, best first.

    The same lists as ``tf.math.top_k(scores, k)`` (module docstring).

    Args:
      scores: float32 array [b, n].
      k: entries to keep; ``sample_rank(k)`` must not exceed ``len(columns)``.
      columns: ``sample_columns(n)``.
      workers: threads to split the rows over (default: the cores this process may use).
    """
    scores = np.asarray(scores, dtype=np.float32)
    rank = sample_rank(k)
    if rank > len(columns):
        raise ValueError(f"k={k} needs {rank} sampled columns, the sample has "
                         f"{len(columns)}: use tf.math.top_k for this k.")
    num_rows, num_columns = scores.shape
    column_bits = max(1, (num_columns - 1).bit_length())
    row_bits = KEY_BITS - SCORE_BITS - column_bits
    if row_bits < 0:
        raise ValueError(f"rows of {num_columns} entries do not fit the int64 keys: use "
                         "tf.math.top_k.")
    if num_rows == 0:
        return np.zeros((0, k), np.float32), np.zeros((0, k), np.int32)
    workers = workers or available_cores()
    chunk = max(1, min(1 << row_bits, -(-num_rows // workers)))
    starts = range(0, num_rows, chunk)

    def rank_rows(start):
        return _ranked_rows(scores[start : start + chunk], k, rank, columns, column_bits)

    if len(starts) == 1:
        parts = [rank_rows(0)]
    else:
        with ThreadPoolExecutor(min(workers, len(starts))) as pool:
            parts = list(pool.map(rank_rows, starts))
    return (np.concatenate([values for values, _ in parts]),
            np.concatenate([indices for _, indices in parts]))


def available_cores() -> int:
    """The cores this process may run on (all of the machine's where that is not known)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _ranked_rows(block, k, rank, columns, column_bits):
    """candidate_top_k of a block whose (row, score, column) keys fit in 63 bits."""
    keys, starts = candidate_keys(block, threshold(block, rank, columns), k, column_bits)
    keys.sort()
    return decoded_top(keys, starts, k, column_bits)


def threshold(block, rank, columns):
    """float32 [b]: each row's ``rank``-th best score among its ``columns`` (step 1)."""
    position = len(columns) - rank  # of the threshold in each row's sampled scores, sorted
    return np.partition(block[:, columns], position, axis=1)[:, position]


def candidate_keys(block, thresholds, k, column_bits):
    """(keys int64, starts int64 [b]): the packed keys of every entry not below its row's
    threshold, row by row, and where each row's keys start (step 2). Every entry of a block
    where some row has fewer than k of them."""
    num_rows, num_columns = block.shape
    positions = np.flatnonzero(~(block < thresholds[:, None]))  # NaN stays a candidate
    row_ends = np.searchsorted(positions, np.arange(1, num_rows + 1) * num_columns)
    counts = np.diff(row_ends, prepend=0)
    if counts.min() < k:  # a threshold above some row's k-th score: rank every entry
        positions = np.arange(block.size)
        counts = np.full(num_rows, num_columns)
        row_ends = np.cumsum(counts)
    rows = np.repeat(np.arange(num_rows, dtype=np.int64), counts)
    keys = _descending_bits(block.ravel().take(positions)) << column_bits
    keys |= rows << (SCORE_BITS + column_bits)
    keys |= positions - rows * num_columns
    return keys, row_ends - counts


def decoded_top(sorted_keys, starts, k, column_bits):
    """(values, indices) of each row's first k keys once sorted (step 3)."""
    top = sorted_keys[starts[:, None] + np.arange(k)]
    indices = (top & ((1 << column_bits) - 1)).astype(np.int32)
    return _scores_of_bits((top >> column_bits) & 0xFFFFFFFF), indices


def _descending_bits(values):
    """int64: 32-bit codes whose integer order is the float order reversed (best first).

    A float's bits order non-negative floats as integers; a negative float's are inverted
    first. -0.0 is read as 0.0 so that the two tie, as equal floats do.
    """
    bits = (values + np.float32(0)).view(np.int32)
    codes = np.where(bits < 0, bits, ~bits & np.int32(0x7FFFFFFF))
    return codes.view(np.uint32).astype(np.int64)


def _scores_of_bits(codes):
    """float32: the scores that ``_descending_bits`` turned into ``codes``."""
    codes = codes.astype(np.uint32).view(np.int32)
    return np.where(codes < 0, codes, ~codes & np.int32(0x7FFFFFFF)).view(np.float32)
