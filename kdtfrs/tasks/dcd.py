"""DCD: dual correction distillation (Lee & Kim, CIKM 2021)."""

import numpy as np

from kdtfrs import losses, ranking, samplers
from kdtfrs._keras import keras, tf
from kdtfrs.tasks.base import DistillationTask, check_list_length, check_draw_every
from kdtfrs.validation import check_number

_FLOOR = 1e-5


def correction_logits(student_scores, temperature):
    """Log-probabilities of sampling each listed item as under- and over-estimated.

    With d(r) = rank_S(pi_r) - r, the student's rank of the teacher's r-th item among the
    listed items minus r: p_under ~ max(tanh(max(d/T, 0)), 1e-5), p_over ~
    max(tanh(max(-d/T, 0)), 1e-5). Returns two float32 [U, M] arrays of logits.
    """
    order = np.argsort(-student_scores, axis=1, kind="stable")
    length = order.shape[1]
    positions = np.arange(length, dtype=np.int32)
    places = np.empty(order.shape, np.int32)
    np.put_along_axis(places, order, positions[None, :], axis=1)  # the student's ranks
    # d takes one of 2M - 1 values: each logit is read from a table of them (at d + M - 1),
    # not computed anew for every entry of the [U, M] lists. In place: the lists are large.
    places -= positions[None, :]
    places += length - 1
    gap = np.arange(-(length - 1), length) / temperature
    under = np.log(np.maximum(np.tanh(np.maximum(gap, 0.0)), _FLOOR)).astype(np.float32)
    over = np.log(np.maximum(np.tanh(np.maximum(-gap, 0.0)), _FLOOR)).astype(np.float32)
    return np.take(under, places), np.take(over, places)


class DCD(DistillationTask):
    """Relaxed ranking on the items the student under-estimates, against those it over-estimates.

    Signals: the teacher's top-``max_rank`` items per user (training excluded). Each epoch,
    the student's rank of each listed item among the listed items (as the original DCD, which
    ranks within the teacher's top-500: no full |U| x |I| argsort) gives sampling weights for
    under- and over-estimated items. Per row: ``num_items`` of each, without replacement;
    under-estimated items keep teacher order (relevance ``max_rank - r``), over-estimated
    ones get relevance 0. Loss: ``kdtfrs.losses.DCDLoss``.
    ``per_unique_user=True``: each unique user of the batch once, as the reference sums
    (``DistillationTask.per_unique_user``; ``weight`` is then the reference's λ unchanged).
    """

    method_id = "dcd"
    needs_refresh = True

    def __init__(self, weight=0.01, num_items=100, temperature=10.0, max_rank=500,
                 exclude_train=True, name=None, per_unique_user=False, draw_every="step"):
        super().__init__(weight, exclude_train, name)
        self.draw_every = check_draw_every(draw_every)
        self.per_unique_user = bool(per_unique_user)
        check_number("num_items", num_items, above=0, integer=True)
        check_number("temperature", temperature, above=0)
        check_number("max_rank", max_rank, above=0, integer=True)
        if num_items > max_rank:
            raise ValueError(f"num_items ({num_items}) must not exceed max_rank ({max_rank}).")
        self.num_items = num_items
        self.temperature = float(temperature)
        self.max_rank = max_rank

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        self.ranked = signals.top_items(self.max_rank, self.exclude_train)
        shape = self.ranked.shape
        check_list_length("num_items", self.num_items, shape[1])
        self.under_logits = tf.Variable(tf.zeros(shape), trainable=False, name="under_logits")
        self.over_logits = tf.Variable(tf.zeros(shape), trainable=False, name="over_logits")
        self.ranked = tf.constant(self.ranked)
        self.prepare_draws()

    def update_for_epoch(self, student, epoch):
        scores = ranking.list_scores(student, self.ranked.numpy())
        under, over = correction_logits(scores, self.temperature)
        self.under_logits.assign(under)
        self.over_logits.assign(over)

    def targets(self, features, seed):
        self._require_prepared()
        users = features["user"]
        under_seed, over_seed = tf.unstack(samplers.split_seed(seed, 2))
        # Only the sets drawn matter, so top_k need not order them: the under-estimated items
        # are sorted here into teacher order, and the over-estimated ones all have relevance 0.
        under = tf.sort(samplers.sample_without_replacement(
            tf.gather(self.under_logits, users), self.num_items, under_seed, ordered=False),
            axis=-1)
        over = samplers.sample_without_replacement(
            tf.gather(self.over_logits, users), self.num_items, over_seed, ordered=False)
        items = tf.concat([samplers.lookup_positions(self.ranked, users, under),
                           samplers.lookup_positions(self.ranked, users, over)], axis=1)
        relevance = tf.cast(int(self.ranked.shape[1]) - under, tf.float32)
        labels = tf.concat([relevance, tf.zeros(tf.shape(over), tf.float32)], axis=1)
        return items, labels

    def make_loss(self):
        return losses.DCDLoss(reduction=keras.losses.Reduction.NONE)

    def get_config(self):
        return {**super().get_config(), "num_items": self.num_items,
                "temperature": self.temperature, "max_rank": self.max_rank}
