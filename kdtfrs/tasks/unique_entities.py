"""Losses summed over a batch's *unique* entities, written as per-row values.

DE, PCKD and FitNet sum a loss over the unique users (or items) of a batch, each counted once
however many rows hold it. A task returns per-row losses that ``kdtfrs.replicas.global_mean``
averages over the global batch, so each unique entity's loss is put on the row where it first
appears (every other row gets 0): the row mean is then ``Σ_unique / B``, the reference's sum
divided by B, and the task's ``weight`` is the reference's λ unchanged.
"""

from __future__ import annotations

from kdtfrs._keras import tf


def unique_with_rows(ids):
    """(unique int32 [M], rows int32 [M]): the distinct ids of ``ids`` and where each first is.

    ``ids`` is int [B] or [B, n] (one row per batch row); ids come back in order of first
    appearance (row-major), each with the index of the first row that holds it.
    """
    ids = tf.convert_to_tensor(ids)
    if ids.shape.rank == 1:
        ids = ids[:, None]
    width = tf.shape(ids, out_type=tf.int32)[1]
    unique, index = tf.unique(tf.reshape(ids, [-1]), out_idx=tf.int32)
    positions = tf.range(tf.size(index, out_type=tf.int32), dtype=tf.int32)
    first = tf.math.unsorted_segment_min(positions, index, tf.size(unique, out_type=tf.int32))
    return tf.cast(unique, tf.int32), first // width


def sum_on_rows(values, rows, batch_size):
    """float [batch_size]: ``values`` [M] added onto their ``rows`` [M] (0 on the others)."""
    return tf.math.unsorted_segment_sum(values, rows, batch_size)
