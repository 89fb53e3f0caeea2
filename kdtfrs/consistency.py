"""PCKD's preference consistency: does the projector keep the student's ranking of items?

Zhu and Zhang, "Preference-Consistent Knowledge Distillation for Recommender System" (TKDE
2025) observe that DE-style projectors can rank a user's items differently from the student
they project ("preference inconsistency"). This module measures it, per user, between

    a_ui = <e^S_u, e^S_i>                 (the student's own scores)
    b_ui = <P_U(e^S_u), P_I(e^S_i)>       (the scores of the projected student)

with two numbers over a sample of items: the overlap of the two top-K lists (|top_K(a) ∩
top_K(b)| / K) and Spearman's rank correlation ``ρ = 1 − 6 Σ_i d_i² / (N (N² − 1))``, ``d_i``
the difference of item i's two ranks (no ties expected on real-valued scores; ties are broken
by position). Everything is one batched computation over the users (no Python loop).
"""

from __future__ import annotations

from kdtfrs import samplers
from kdtfrs._keras import tf
from kdtfrs.embeddings import Embeddings
from kdtfrs.validation import check_number


def ranks(scores):
    """int32 [U, N]: the 0-based rank of each column in its row, best (largest) first."""
    order = tf.argsort(scores, axis=-1, direction="DESCENDING", stable=True)
    return tf.argsort(order, axis=-1, stable=True)


def top_k_overlap(left, right, k):
    """float32 [U]: ``|top_k(left_u) ∩ top_k(right_u)| / k`` of two [U, N] score tables."""
    left_top = tf.math.top_k(left, k=k).indices
    right_top = tf.math.top_k(right, k=k).indices
    shared = tf.reduce_any(left_top[:, :, None] == right_top[:, None, :], axis=-1)
    return tf.reduce_sum(tf.cast(shared, tf.float32), axis=-1) / float(k)


def spearman(left, right):
    """float32 [U]: Spearman's ρ between the rankings of each row of two [U, N] tables."""
    count = tf.cast(tf.shape(left)[-1], tf.float32)
    difference = tf.cast(ranks(left) - ranks(right), tf.float32)
    return 1.0 - 6.0 * tf.reduce_sum(tf.square(difference), axis=-1) / (
        count * (count * count - 1.0))


def preference_consistency(student, task, users, items, k=10, seed=(0, 0)):
    """Per-user consistency of the student's ranking with its projected ranking.

    Args:
      student: the student (an ``Embeddings`` or a kdtfrs backbone).
      task: a prepared ``kdtfrs.tasks.DE`` or ``PCKD`` (its ``user_projector``,
        ``item_projector`` and teacher, whose vectors drive the gates).
      users: int [U], the users to measure.
      items: int [N] (the same sample for every user) or [U, N] (one per user), N >= 2.
      k: the top-K of the overlap, 1 <= k <= N.
      seed: stateless seed of the gates' Gumbel noise (int [2]); with an annealed
        temperature the selection is hard and the noise picks the expert.

    Returns:
      ``{"overlap": float32 [U], "spearman": float32 [U]}``.
    """
    if task.user_projector is None:
        raise RuntimeError("the task's projectors are built by task.prepare(signals, train, "
                           "student); prepare it (or train it in a Distiller) first.")
    student = Embeddings.of(student)
    users = tf.convert_to_tensor(users, tf.int32)
    items = tf.convert_to_tensor(items, tf.int32)
    if items.shape.rank == 1:
        items = tf.tile(items[None, :], tf.stack([tf.shape(users)[0], 1]))
    k = check_number("k", k, above=0, integer=True)
    count = items.shape[-1]
    if count is not None and (count < 2 or k > count):
        raise ValueError(f"`k` must be in 1..N with N >= 2 sampled items; received k={k!r} "
                         f"for N={count}.")
    user_seed, item_seed = tf.unstack(samplers.split_seed(seed, 2))
    flat_items = tf.reshape(items, [-1])
    student_users, student_items = student.users(users), student.items(flat_items)
    projected_users = task.user_projector(student_users, task.teacher.users(users), user_seed)
    projected_items = task.item_projector(student_items, task.teacher.items(flat_items),
                                          item_seed)
    shape = tf.shape(items)
    before = tf.einsum("ud,und->un", student_users,
                       tf.reshape(student_items, tf.concat([shape, [-1]], 0)))
    after = tf.einsum("ut,unt->un", projected_users,
                      tf.reshape(projected_items, tf.concat([shape, [-1]], 0)))
    return {"overlap": top_k_overlap(before, after, k), "spearman": spearman(before, after)}
