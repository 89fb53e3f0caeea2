"""RD: ranking distillation (Tang & Wang, KDD 2018)."""

from kdtfrs import losses
from kdtfrs._keras import keras, tf
from kdtfrs.data.exclusion import PairExclusion
from kdtfrs.tasks.base import DistillationTask
from kdtfrs.validation import check_number


def dynamic_rank_weights(scores, probe_scores, num_items, mu):
    """RD's dynamic weights from the student's estimated rank of each teacher item.

    With D uniform probe items, the student's rank of the teacher's r-th item (r = 1..K) is
    estimated as r_hat = floor((|I| - 1) * #{j in D: s_j > s_r} / |D|) + 1 and weighted
    w_b = max(tanh(mu * (r_hat - (r - 1))), 0): items the student ranks too low count more.

    Args:
      scores: float32 [B, K] student scores of the teacher's top-K, in teacher order.
      probe_scores: float32 [B, D] student scores of the probe items.
    """
    above = tf.reduce_sum(
        tf.cast(probe_scores[:, None, :] > scores[:, :, None], tf.float32), axis=-1)
    probes = tf.cast(tf.shape(probe_scores)[1], tf.float32)
    estimated_rank = tf.floor((num_items - 1.0) * above / probes) + 1.0
    teacher_rank = tf.range(tf.shape(scores)[1], dtype=tf.float32)
    return tf.nn.relu(tf.tanh(mu * (estimated_rank - teacher_rank)))


class RD(DistillationTask):
    """Pointwise log-likelihood of the teacher's top-K items with rank weights.

    Signals: the teacher's top-``num_items`` items per user (training excluded), relevance
    ``K - r``. Loss ``kdtfrs.losses.RD``: -sum_r w_r log sigmoid(s_r) with static weights
    w_r ~ exp(-r / rank_temperature); from epoch ``dynamic_start_epoch`` on, multiplied by the
    dynamic weights of ``dynamic_rank_weights`` (``num_probe_items`` uniform probes, ``mu``)
    and L1-renormalised. ``dynamic_start_epoch=None`` keeps static weights only.
    """

    method_id = "rd"

    def __init__(self, weight=0.1, num_items=30, rank_temperature=1.0, mu=0.1,
                 num_probe_items=100, dynamic_start_epoch=10, exclude_train=True, name=None):
        super().__init__(weight, exclude_train, name)
        check_number("num_items", num_items, above=0, integer=True)
        check_number("rank_temperature", rank_temperature, above=0)
        check_number("mu", mu, above=0)
        check_number("num_probe_items", num_probe_items, above=0, integer=True)
        if dynamic_start_epoch is not None:
            check_number("dynamic_start_epoch", dynamic_start_epoch, minimum=0, integer=True)
        self.num_items = num_items
        self.rank_temperature = float(rank_temperature)
        self.mu = float(mu)
        self.num_probe_items = num_probe_items
        self.dynamic_start_epoch = dynamic_start_epoch

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        ranked = signals.top_items(self.num_items, self.exclude_train)
        self.ranked = tf.constant(ranked)
        self.relevance = tf.cast(ranked.shape[1] - tf.range(ranked.shape[1]), tf.float32)
        self.exclusion = PairExclusion(train, train.num_items)

    def targets(self, features, seed):
        del seed
        self._require_prepared()
        items = tf.gather(self.ranked, features["user"])
        return items, tf.broadcast_to(self.relevance[None, :], tf.shape(items))

    def per_row_loss(self, features, student, seed):
        users = features["user"]
        items, labels = self.targets(features, seed)
        scores = student.score(users, items)
        if self.dynamic_start_epoch is None:
            return self.loss(labels, scores)

        def dynamic_weights():
            probes = self.exclusion.sample_uniform_excluding(users, self.num_probe_items, seed)
            return dynamic_rank_weights(
                tf.stop_gradient(scores), tf.stop_gradient(student.score(users, probes)),
                float(self.item_count), self.mu)

        # Probes are drawn and scored only once the dynamic weights are on.
        weights = tf.cond(self.epoch >= self.dynamic_start_epoch, dynamic_weights,
                          lambda: tf.ones_like(scores))
        mask = tf.ones_like(scores, tf.bool)
        return losses.rd_loss(labels, scores, mask, self.rank_temperature, weights)

    def make_loss(self):
        return losses.RD(rank_temperature=self.rank_temperature,
                         reduction=keras.losses.Reduction.NONE)

    def get_config(self):
        return {**super().get_config(), "num_items": self.num_items,
                "rank_temperature": self.rank_temperature, "mu": self.mu,
                "num_probe_items": self.num_probe_items,
                "dynamic_start_epoch": self.dynamic_start_epoch}


