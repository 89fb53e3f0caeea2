"""RCE-KD: rejuvenating cross-entropy for KD (Zhu & Zhang, arXiv 2509.20989)."""

import numpy as np

from kdtfrs import losses, samplers
from kdtfrs._keras import keras, tf
from kdtfrs.tasks.base import (DistillationTask, all_users_top_items, check_draw_every,
                               check_list_length)
from kdtfrs.signals import allowed_length
from kdtfrs.validation import check_number


def list_places(student_top, teacher_top, chunk=1024):
    """int32 [U, K]: the place of each item of ``teacher_top[u]`` in ``student_top[u]``
    (0..M-1), or M where the student's list does not hold it.

    Args:
      student_top: int32 [U, M] the student's top-M items per user (distinct in a row).
      teacher_top: int32 [U, K] the teacher's top-K items per user.

    Vectorised over users in chunks (a [chunk, K, M] comparison at a time).
    """
    num_users, length = student_top.shape
    places = np.empty(teacher_top.shape, np.int32)
    for start in range(0, num_users, chunk):
        stop = min(start + chunk, num_users)
        equal = teacher_top[start:stop, :, None] == student_top[start:stop, None, :]
        places[start:stop] = np.where(equal.any(axis=-1), equal.argmax(axis=-1), length)
    return places


def closure_counts(places, length, max_count):
    """c_u(j) = min(max_count, #{t in Q^T_u found in the student list at position >= j}).

    Args:
      places: int32 [U, K] from :func:`list_places` (``length`` where not found).
      length: M, the length of the student's lists.

    Returns:
      int32 [U, M].
    """
    num_users = places.shape[0]
    slots = np.arange(num_users)[:, None] * (length + 1) + places  # one slot past M: not found
    found_at = np.bincount(slots.ravel(), minlength=num_users * (length + 1))
    found_at = found_at.reshape(num_users, length + 1)[:, :length]
    at_or_below = np.cumsum(found_at[:, ::-1], axis=1)[:, ::-1]
    return np.minimum(at_or_below, max_count).astype(np.int32)


def closure_flags(places, drawn, num_top, num_closure_places):
    """The set logic of RCE-KD on the item list ``[Q^S (K) | Q^T (K) | C (L)]`` [B, 2K+L].

    Args:
      places: int32 [B, K], each Q^T item's place in the student's list (:func:`list_places`).
      drawn: int32 [B, L], the places of C in the student's list, minus K (C is drawn from
        places K..M-1, ``num_closure_places`` = M - K of them).

    Returns two bool [B, 2K+L]: ``in_second_term``, the entries of A = C ⊎ (Q^T minus C and
    Q^S) (all of C, the Q^T items in neither C nor Q^S; no Q^S entry), and
    ``teacher_in_closure``, the Q^T entries whose item is in C. A Q^T item is in Q^S where its
    place is below K, and in C where its place was drawn: one look-up per entry, not a
    comparison of every pair of ids (the student's list holds each item once).
    """
    rows = tf.shape(drawn)[0]
    row_ids = tf.broadcast_to(tf.range(rows)[:, None], tf.shape(drawn))
    was_drawn = tf.scatter_nd(tf.stack([row_ids, drawn], axis=-1), tf.ones_like(drawn),
                              tf.stack([rows, num_closure_places])) > 0
    closure_place = places - num_top
    in_range = (closure_place >= 0) & (closure_place < num_closure_places)
    in_closure = in_range & tf.gather(
        was_drawn, tf.clip_by_value(closure_place, 0, num_closure_places - 1), batch_dims=1)
    rest_of_teacher_top = ~in_closure & (places >= num_top)
    no_entry = tf.zeros_like(places, tf.bool)
    in_second_term = tf.concat([no_entry, rest_of_teacher_top,
                                tf.ones_like(drawn, tf.bool)], axis=1)
    teacher_in_closure = tf.concat([no_entry, in_closure, tf.zeros_like(drawn, tf.bool)],
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
    the entry is in A, 1 where a Q^T item lies in C), the set logic done here from the
    Q^T items' places in the student's list, found at each refresh (``closure_flags``).
    Loss ``kdtfrs.losses.RCEKDLoss``: (1 - g_u) CE(Q^S) + g_u CE(A),
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
        self.teacher_places = tf.Variable(tf.fill(self.teacher_top.shape, length),
                                          trainable=False, name="teacher_top_places")
        self.prepare_draws()

    def update_for_epoch(self, student, epoch):
        length = int(self.student_top.shape[1])
        student_top = all_users_top_items(student, self.user_count, length, self.train)
        places = list_places(student_top, self.teacher_top)
        counts = closure_counts(places, length, self.max_count)
        logits = (counts[:, self.num_top:] + 1.0) / self.sample_temperature
        self.student_top.assign(student_top)
        self.teacher_places.assign(places)
        self.student_top_scores.assign(self.teacher_list_scores(student_top))
        self.closure_logits.assign(logits.astype(np.float32))

    def targets(self, features, seed):
        self._require_prepared()
        users = features["user"]
        drawn = samplers.sample_without_replacement(
            tf.gather(self.closure_logits, users), self.num_closure, seed)
        positions = self.num_top + drawn
        student_top = tf.gather(self.student_top, users)
        student_top_scores = tf.gather(self.student_top_scores, users)
        items = tf.concat([student_top[:, :self.num_top],
                           tf.gather(self.teacher_top_table, users),
                           tf.gather(student_top, positions, batch_dims=1)], axis=1)
        scores = tf.concat([student_top_scores[:, :self.num_top],
                            tf.gather(self.teacher_top_scores, users),
                            tf.gather(student_top_scores, positions, batch_dims=1)], axis=1)
        in_second_term, teacher_in_closure = closure_flags(
            tf.gather(self.teacher_places, users), drawn, self.num_top,
            int(self.closure_logits.shape[1]))
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


