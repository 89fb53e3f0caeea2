"""RRD: relaxed ranking distillation (Kang et al., "DE-RRD", CIKM 2020)."""

import numpy as np

from kdtfrs import losses, samplers
from kdtfrs._keras import keras, tf
from kdtfrs.data.exclusion import PairExclusion
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.tasks.base import DistillationTask, check_draw_every, check_list_length
from kdtfrs.validation import check_number


def list_exclusion(train: InteractionMatrix, ranked) -> PairExclusion:
    """(user, item) pairs in the training data or in the user's teacher list."""
    num_users, length = ranked.shape
    users = np.repeat(np.arange(num_users, dtype=np.int64), length)
    listed = InteractionMatrix.from_pairs(
        users, ranked.reshape(-1), train.num_users, train.num_items
    )
    return PairExclusion(train.union(listed), train.num_items)


def leave_room(ranked, train: InteractionMatrix):
    """``ranked`` cut so that every row keeps an entry neither in its list nor in ``train``.

    Without this, a row whose list covers all of its non-training entries (MovieLens-100k,
    item side: 479 users outside the most popular item's training users, a list of 500) has
    no uninteresting entry to draw.
    """
    return ranked[:, :train.num_items - int(train.row_lengths().max(initial=0)) - 1]


def relaxed_ranking_targets(ranked, rows, num_interesting, temperature, uninteresting,
                            num_uninteresting, seed):
    """(columns int32 [B, n], labels float32 [B, n]) of RRD for the list rows ``rows`` [B].

    ``num_interesting`` entries of each row's teacher list ``ranked`` drawn with
    p(r) ~ exp(-(r + 1) / temperature) and kept in teacher order (relevance ``max_rank - r``),
    then ``num_uninteresting`` entries drawn by ``uninteresting`` (a ``PairExclusion``)
    uniform outside the list and the training data (relevance 0). Serves the user side
    (rows are users, columns items) and IR-RRD's item side (rows items, columns users).
    """
    interesting_seed, uninteresting_seed = tf.unstack(samplers.split_seed(seed, 2))
    columns, relevance, _ = samplers.rank_aware_from_list(
        ranked, rows, num_interesting, temperature, interesting_seed)
    if not num_uninteresting:
        return columns, relevance
    others = uninteresting.sample_uniform_excluding(rows, num_uninteresting, uninteresting_seed)
    labels = tf.concat([relevance, tf.zeros(tf.shape(others), tf.float32)], axis=1)
    return tf.concat([columns, others], axis=1), labels


class RRD(DistillationTask):
    """Relaxed ranking distillation.

    Signals: the teacher's top-``max_rank`` items per user (training items excluded), cut
    where needed so that every user keeps uninteresting items (``leave_room``).
    Per row: ``num_interesting`` items drawn from that list without replacement with
    p(r) ~ exp(-(r + 1) / temperature), kept in teacher order (relevance ``max_rank - r``),
    and ``num_uninteresting`` items uniform over the items neither in the list nor in the
    training data (relevance 0), drawn independently by ``PairExclusion`` (no dense |U| x |I|
    mask; the reference draws them without replacement).
    Loss: ``kdtfrs.losses.RRDLoss``, a Plackett-Luce likelihood of the teacher order with the
    uninteresting items in every denominator.
    ``per_unique_user=True``: each unique user of the batch once, as the reference sums
    (``DistillationTask.per_unique_user``; ``weight`` is then the reference's λ unchanged).
    """

    method_id = "rrd"

    def __init__(self, weight=0.1, num_interesting=100, num_uninteresting=200,
                 temperature=10.0, max_rank=500, exclude_train=True, name=None,
                 per_unique_user=False, draw_every="step"):
        super().__init__(weight, exclude_train, name)
        self.per_unique_user = bool(per_unique_user)
        self.draw_every = check_draw_every(draw_every)
        check_number("num_interesting", num_interesting, above=0, integer=True)
        check_number("num_uninteresting", num_uninteresting, minimum=0, integer=True)
        check_number("temperature", temperature, above=0)
        check_number("max_rank", max_rank, above=0, integer=True)
        if num_interesting > max_rank:
            raise ValueError(
                f"num_interesting ({num_interesting}) must not exceed max_rank ({max_rank}): "
                "items are drawn without replacement from the teacher's top-max_rank list."
            )
        self.num_interesting = num_interesting
        self.num_uninteresting = num_uninteresting
        self.temperature = float(temperature)
        self.max_rank = max_rank

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        ranked = signals.top_items(self.max_rank, self.exclude_train)
        if self.num_uninteresting:
            ranked = leave_room(ranked, train)
        check_list_length("num_interesting", self.num_interesting, ranked.shape[1])
        self.ranked = tf.constant(ranked)
        self.uninteresting = list_exclusion(train, ranked) if self.num_uninteresting else None
        self.prepare_draws()

    def targets(self, features, seed):
        self._require_prepared()
        return relaxed_ranking_targets(
            self.ranked, features["user"], self.num_interesting, self.temperature,
            self.uninteresting, self.num_uninteresting, seed)

    def make_loss(self):
        return losses.RRDLoss(reduction=keras.losses.Reduction.NONE)

    def get_config(self):
        return {
            **super().get_config(),
            "num_interesting": self.num_interesting,
            "num_uninteresting": self.num_uninteresting,
            "temperature": self.temperature,
            "max_rank": self.max_rank,
        }


class SLD(RRD):
    """SLD: RRD without uninteresting items (plain Plackett-Luce over sampled teacher items).

    As in woriazzc/KDs ``SLD``; loss ``kdtfrs.losses.SLDLoss``.
    """

    method_id = "sld"

    def __init__(self, weight=0.001, num_interesting=100, temperature=10.0, max_rank=500,
                 exclude_train=True, name=None, per_unique_user=False, draw_every="step"):
        super().__init__(weight, num_interesting, 0, temperature, max_rank, exclude_train, name,
                         per_unique_user, draw_every)

    def make_loss(self):
        return losses.SLDLoss(reduction=keras.losses.Reduction.NONE)

    def get_config(self):
        config = super().get_config()
        del config["num_uninteresting"]
        return config
