"""Exact top-k of long rows without ranking every entry: group maxima set a threshold.

``tf.math.top_k`` costs grow with k: a per-epoch refresh of a student's top-3,000 items (CD)
or a teacher's top-500 (RRD, DCD) spent most of its time there, not in scoring. For k in the
hundreds or more this module ranks a block of rows [b, n] of scores (NumPy, on the host, as
``kdtfrs.ranking.top_k_items`` returns them) in three steps:

1. Threshold. The row's first g x m columns split into m groups of g columns, group i holding
   columns i, i + m, ..., i + (g - 1) m, with g = ``group_size(k, n)`` so that m is at least
   ``GROUPS_PER_ENTRY`` x k; t = the k-th best of the m group maxima. The maxima are one
   reduction over the middle axis of the block viewed as [b, g, m] (no copy, no gather), the
   threshold one partition of m entries per row.
2. Candidates. The entries not below t, each packed into one int64 key: (row, descending
   score, column) from the high bits to the low. The score's 32 bits are mapped so that
   integer order is score order, best first.
3. One sort of the keys (NumPy's vectorised sort), then each row's first k keys decoded.

Exact, ties included, with no fallback: k groups have a maximum >= t, and each holds an entry
>= t, so at least k entries are candidates and every entry of the top k is one. Entries >= t
lie only in those groups, so there are about k of them, the more the smaller m / k (benchmarks/
long_top_k.py records the count). The key orders equal scores by column, so they go to the
lower column as in ``tf.math.top_k`` (-0.0 counts as 0.0 and comes back as 0.0). A row whose
maxima are mostly -inf (excluded items) gets t = -inf and every entry as candidate: exact,
slower. NaN scores are always candidates (a NaN maximum counts as the best), and where they
rank is unspecified, as in ``tf.math.top_k``. Blocks of rows are split over the machine's
cores (NumPy releases the GIL while it sorts). benchmarks/long_top_k.py times it against
``tf.math.top_k`` and sets ``MIN_K``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

GROUPS_PER_ENTRY = 2  # more: fewer candidates, a longer partition (benchmarks/long_top_k.py)
MIN_K = 200  # below it grouped_top_k or tf.math.top_k is as fast (benchmarks/long_top_k.py)
SCORE_BITS = 32
KEY_BITS = 63  # int64 keys stay non-negative, so signed order is key order


def worthwhile(k: int, num_columns: int) -> bool:
    """Whether ranking by candidates pays for rows of ``num_columns`` entries."""
    return k >= MIN_K and group_size(k, num_columns) >= 2


def group_size(k: int, num_columns: int) -> int:
    """g: the columns per group of the threshold, so that there are at least
    ``GROUPS_PER_ENTRY`` x k groups (1, each entry its own group, for rows that short)."""
    return max(1, num_columns // (GROUPS_PER_ENTRY * k))


def candidate_top_k(scores, k: int, workers: int | None = None):
    """(values float32 [b, k], indices int32 [b, k]): each row's k best entries, best first.

    The same lists as ``tf.math.top_k(scores, k)`` (module docstring).

    Args:
      scores: float32 array [b, n].
      k: entries to keep, 1 <= k <= n.
      workers: threads to split the rows over (default: the cores this process may use).
    """
    scores = np.asarray(scores, dtype=np.float32)
    num_rows, num_columns = scores.shape
    if not 1 <= k <= num_columns:
        raise ValueError(f"k={k} is not between 1 and the row length {num_columns}.")
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
        return _ranked_rows(scores[start : start + chunk], k, column_bits)

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


def _ranked_rows(block, k, column_bits):
    """candidate_top_k of a block whose (row, score, column) keys fit in 63 bits."""
    keys, starts = candidate_keys(block, threshold(block, k), column_bits)
    keys.sort()
    return decoded_top(keys, starts, k, column_bits)


def threshold(block, k):
    """float32 [b]: each row's k-th best group maximum (step 1), at most its k-th best score."""
    num_columns = block.shape[1]
    size = group_size(k, num_columns)
    groups = num_columns // size
    maxima = block[:, : size * groups].reshape(len(block), size, groups).max(axis=1)
    return np.partition(maxima, groups - k, axis=1)[:, groups - k]


def candidate_keys(block, thresholds, column_bits):
    """(keys int64, starts int64 [b]): the packed keys of every entry not below its row's
    threshold, row by row, and where each row's keys start (step 2)."""
    num_rows, num_columns = block.shape
    positions = np.flatnonzero(~(block < thresholds[:, None]))  # NaN stays a candidate
    row_ends = np.searchsorted(positions, np.arange(1, num_rows + 1) * num_columns)
    counts = np.diff(row_ends, prepend=0)
    rows = np.repeat(np.arange(num_rows, dtype=np.int64), counts)
    keys = descending_bits(block.ravel().take(positions)) << column_bits
    keys |= rows << (SCORE_BITS + column_bits)
    keys |= positions - rows * num_columns
    return keys, row_ends - counts


def decoded_top(sorted_keys, starts, k, column_bits):
    """(values, indices) of each row's first k keys once sorted (step 3)."""
    top = sorted_keys[starts[:, None] + np.arange(k)]
    indices = (top & ((1 << column_bits) - 1)).astype(np.int32)
    return _scores_of_bits((top >> column_bits) & 0xFFFFFFFF), indices


def descending_bits(values):
    """int64: 32-bit codes whose integer order is the float order reversed (best first).

    A float's bits order non-negative floats as integers; a negative float's are inverted
    first. -0.0 is read as 0.0 so that the two tie, as equal floats do.
    """
    bits = (values + np.float32(0)).view(np.int32)
    codes = np.where(bits < 0, bits, ~bits & np.int32(0x7FFFFFFF))
    return codes.view(np.uint32).astype(np.int64)


def _scores_of_bits(codes):
    """float32: the scores that ``descending_bits`` turned into ``codes``."""
    codes = codes.astype(np.uint32).view(np.int32)
    return np.where(codes < 0, codes, ~codes & np.int32(0x7FFFFFFF)).view(np.float32)
