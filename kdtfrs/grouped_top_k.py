"""Exact top-k of long rows through the maxima of groups of columns, for short lists.

``tf.math.top_k`` on CPU took longer than scoring a block of users: an evaluation's top 50
of 2,048 users over Gowalla's 40,981 items cost 224 ms where the scores cost about 30
(benchmarks/long_top_k.py). For k far below the row length n, a row's k best entries lie in
few places, and this module finds them in three cheap steps:

1. Maxima. The row, n a multiple of ``GROUP``, viewed as [n / GROUP, GROUP] (a reshape, no
   copy): the maximum of each group of ``GROUP`` consecutive columns.
2. Groups. The k groups with the best maxima (``tf.math.top_k`` over n / GROUP entries),
   put back in column order.
3. Entries. Those groups' k x GROUP entries, gathered in column order, and their top k.

Exact, ties included, the lists ``tf.math.top_k(scores, k)`` gives (equal scores go to the
lower column): order groups by maximum, then position, as step 2's ``tf.math.top_k`` does.
If an entry x of the true top k lay in a group G outside the first k, each of those k groups
would hold an entry that ranks before x: its maximum m >= max(G) >= x, with the lower
column where m = x, since then m = max(G) and that group comes before G. k such entries
would push x out of the top k. So every entry of the top k is gathered, in column order,
and step 3 ranks them as the whole row would.

A row with a NaN score ranks the whole row with ``tf.math.top_k`` (where NaN goes is
unspecified there too). ``kdtfrs.ranking.top_k_items`` pads the item table to a multiple of
``GROUP`` rows and masks the padding columns to -inf, so they rank last and never reach a list
that has k <= n real columns.
"""

from __future__ import annotations

from kdtfrs._keras import tf

GROUP = 32
#: Rows at least this many times k x GROUP long use it (benchmarks/long_top_k.py).
MIN_LENGTH_RATIO = 4


def worthwhile(k: int, num_columns: int) -> bool:
    """Whether ranking by group maxima pays for rows of ``num_columns`` entries."""
    return MIN_LENGTH_RATIO * k * GROUP <= num_columns


def padded_length(num_columns: int) -> int:
    """``num_columns`` rounded up to a multiple of ``GROUP``."""
    return -(-num_columns // GROUP) * GROUP


def grouped_top_k(scores, k: int):
    """(values [b, k], indices int32 [b, k]): each row's k best entries, best first.

    The same lists as ``tf.math.top_k(scores, k)`` (module docstring).

    Args:
      scores: float [b, n], n a multiple of ``GROUP`` and at least k x ``GROUP``.
      k: entries to keep.
    """
    rows, length = scores.shape[0], scores.shape[1]
    if length is not None and (length % GROUP or length < k * GROUP):
        raise ValueError(f"grouped_top_k needs rows of a multiple of {GROUP} columns and at "
                         f"least k x {GROUP} = {k * GROUP}; got {length}: use tf.math.top_k.")
    rows = tf.shape(scores)[0] if rows is None else rows
    groups = tf.reshape(scores, [rows, -1, GROUP])
    maxima = tf.reduce_max(groups, axis=2)

    def by_groups():
        best = tf.sort(tf.math.top_k(maxima, k=k).indices, axis=1)
        entries = tf.reshape(tf.gather(groups, best, batch_dims=1), [rows, k * GROUP])
        values, positions = tf.math.top_k(entries, k=k)
        group = tf.gather(best, positions // GROUP, batch_dims=1)
        return values, group * GROUP + positions % GROUP

    def whole_rows():
        top = tf.math.top_k(scores, k=k)
        return top.values, top.indices

    return tf.cond(tf.reduce_any(tf.math.is_nan(maxima)), whole_rows, by_groups)
