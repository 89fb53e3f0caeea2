"""RCE-KD: rejuvenating cross-entropy for KD (Zhu & Zhang, arXiv 2509.20989)."""

import numpy as np

from kdtfrs import losses, samplers
from kdtfrs._keras import keras, tf
from kdtfrs.tasks.base import (DistillationTask, all_users_top_items, check_draw_every,
                               check_list_length)
from kdtfrs.signals import allowed_length
from kdtfrs.validation import check_number


def closure_counts(student_top, teacher_top, max_count, chunk=1024):
    """c_u(j) = min(max_count, #{t in Q^T_u found in the student list at position >= j}).

    Args:
      student_top: int32 [U, M] the student's top-M items per user.
      teacher_top: int32 [U, K] the teacher's top-K items per user.

    Returns:
      int32 [U, M]. Vectorised over users in chunks (a [chunk, K, M] comparison at a time).
    """
    num_users, length = student_top.shape
    counts = np.empty((num_users, length), np.int32)
    for start in range(0, num_users, chunk):
        stop = min(start + chunk, num_users)
        equal = teacher_top[start:stop, :, None] == student_top[start:stop, None, :]
        found = equal.any(axis=-1)
        position = equal.argmax(axis=-1)
        rows = np.broadcast_to(np.arange(stop - start)[:, None], position.shape)
        hist = np.bincount((rows * length + position)[found],
                           minlength=(stop - start) * length).reshape(stop - start, length)
        at_or_below = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]
        counts[start:stop] = np.minimum(at_or_below, max_count)
    return counts


def _row_isin(items, other_items):
    """bool [B, M]: ``items[b, m]`` is one of ``other_items[b]`` ([B, M'])."""
    return tf.reduce_any(tf.equal(items[:, :, None], other_items[:, None, :]), axis=-1)


def segment_flags(items, num_top):
    """The set logic of RCE-KD on the item list ``[Q^S (K) | Q^T (K) | C (L)]`` [B, 2K+L].

    Returns two bool [B, 2K+L]: ``in_second_term``, the entries of A = C ⊎ (Q^T minus C and
    Q^S) (all of C, the Q^T items in neither C nor Q^S; no Q^S entry), and
    ``teacher_in_closure``, the Q^T entries whose item is in C.
    """
    student_top, teacher_top = items[:, :num_top], items[:, num_top:2 * num_top]
    closure = items[:, 2 * num_top:]
    in_closure = _row_isin(teacher_top, closure)
    rest_of_teacher_top = ~in_closure & ~_row_isin(teacher_top, student_top)
    no_entry = tf.zeros_like(student_top, tf.bool)
    in_second_term = tf.concat([no_entry, rest_of_teacher_top,
                                tf.ones_like(closure, tf.bool)], axis=1)
    teacher_in_closure = tf.concat([no_entry, in_closure, tf.zeros_like(closure, tf.bool)],
                                   axis=1)
    return in_second_term, teacher_in_closure


class RCEKD(DistillationTask):
    """Cross-entropy on the student's top-K plus an adaptively weighted closure-sampled set.

    Signals: the teacher's top-``num_top`` items Q^T (fixed); each epoch, the student's
    top-``max_rank`` list pi^S (training items excluded in both; the reference keeps them).
    Q^S = pi^S[:K]. Closure set C: ``num_closure`` positions j of pi^S drawn without replacement
    with p(j) ~ exp((c_u(j) + 1) / sample_temperature), c_u from ``closure_counts``.
    Deviation: positions are drawn from K..max_rank-1 so that C never overlaps Q^S (the
    reference draws from 0..max_rank-1, a pitfall METHODS.md lists).
    Layout of the item list: [Q^S | Q^T | C]; y_true [B, 2K+L, 3] = (teacher score, 1 where
    the entry is in A, 1 where a Q^T item lies in C), the set logic done here on the item ids
    (``segment_flags``). Loss ``kdtfrs.losses.RCEKDLoss``: (1 - g_u) CE(Q^S) + g_u CE(A),
    A = C ⊎ (Q^T minus C and Q^S), g_u = exp(-beta |Q^T ∩ C| / K).
    """

    method_id = "rce_kd"
    needs_refresh = True

    def __init__(self, weight=500.0, num_top=50, num_closure=50, temperature=1.0,
                 sample_temperature=10.0, max_rank=200, beta=3.0, max_count=50,
                 exclude_train=True, name=None, draw_every="step"):
        super().__init__(weight, exclude_train, name)
        self.draw_every = check_draw_every(draw_every)
        for arg, value in (("num_top", num_top), ("num_closure", num_closure),
                           ("max_rank", max_rank), ("max_count", max_count)):
            check_number(arg, value, above=0, integer=True)
        check_number("temperature", temperature, above=0)
        check_number("sample_temperature", sample_temperature, above=0)
        check_number("beta", beta, minimum=0)
        if num_top + num_closure > max_rank:
            raise ValueError(
                f"num_top + num_closure ({num_top + num_closure}) must not exceed max_rank "
                f"({max_rank}): the closure set is drawn from student positions K..max_rank-1."
            )
        self.num_top = num_top
        self.num_closure = num_closure
        self.temperature = float(temperature)
        self.sample_temperature = float(sample_temperature)
        self.max_rank = max_rank
        self.beta = float(beta)
        self.max_count = max_count

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        self.train = train if self.exclude_train else None
        length = allowed_length(self.max_rank, train.num_items, self.train)
        check_list_length("num_top + num_closure", self.num_top + self.num_closure, length,
                          "the student's list")
        self.teacher_top = signals.top_items(self.num_top, self.exclude_train)
        self.teacher_top_table = tf.constant(self.teacher_top)
        self.teacher_top_scores = tf.constant(self.teacher_list_scores(self.teacher_top))
        shape = (train.num_users, length)
        self.student_top = tf.Variable(tf.zeros(shape, tf.int32), trainable=False,
                                       name="student_top_items")
        self.student_top_scores = tf.Variable(tf.zeros(shape), trainable=False,
                                              name="teacher_scores_of_student_top_items")
        self.closure_logits = tf.Variable(tf.zeros((shape[0], shape[1] - self.num_top)),
                                          trainable=False, name="closure_logits")
        self.prepare_draws()

    def update_for_epoch(self, student, epoch):
        length = int(self.student_top.shape[1])
        student_top = all_users_top_items(student, self.user_count, length, self.train)
        counts = closure_counts(student_top, self.teacher_top, self.max_count)
        logits = (counts[:, self.num_top:] + 1.0) / self.sample_temperature
        self.student_top.assign(student_top)
        self.student_top_scores.assign(self.teacher_list_scores(student_top))
        self.closure_logits.assign(logits.astype(np.float32))

    def targets(self, features, seed):
        self._require_prepared()
        users = features["user"]
        positions = self.num_top + samplers.sample_without_replacement(
            tf.gather(self.closure_logits, users), self.num_closure, seed)
        student_top = tf.gather(self.student_top, users)
        student_top_scores = tf.gather(self.student_top_scores, users)
        items = tf.concat([student_top[:, :self.num_top],
                           tf.gather(self.teacher_top_table, users),
                           tf.gather(student_top, positions, batch_dims=1)], axis=1)
        scores = tf.concat([student_top_scores[:, :self.num_top],
                            tf.gather(self.teacher_top_scores, users),
                            tf.gather(student_top_scores, positions, batch_dims=1)], axis=1)
        in_second_term, teacher_in_closure = segment_flags(items, self.num_top)
        return items, tf.stack([scores, tf.cast(in_second_term, tf.float32),
                                tf.cast(teacher_in_closure, tf.float32)], -1)

    def make_loss(self):
        return losses.RCEKDLoss(num_top=self.num_top, num_closure=self.num_closure,
                                temperature=self.temperature, beta=self.beta,
                                reduction=keras.losses.Reduction.NONE)

    def get_config(self):
        return {**super().get_config(), "num_top": self.num_top,
                "num_closure": self.num_closure, "temperature": self.temperature,
                "sample_temperature": self.sample_temperature, "max_rank": self.max_rank,
                "beta": self.beta, "max_count": self.max_count}


