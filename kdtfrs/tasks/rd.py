"""RD: ranking distillation (Tang & Wang, KDD 2018)."""

from kdtfrs import losses
from kdtfrs._keras import keras, tf
from kdtfrs.data.exclusion import PairExclusion
from kdtfrs.tasks.base import DistillationTask, check_draw_every
from kdtfrs.validation import check_number


class RD(DistillationTask):
    """Pointwise log-likelihood of the teacher's top-K items with rank weights.

    Signals: the teacher's top-``num_items`` items per user (training excluded), relevance
    ``K - r``, followed by ``num_probe_items`` probes drawn uniformly from the user's
    non-training items: items [B, K + D], y_true [B, K + D] with the probes labelled 0 from
    epoch ``dynamic_start_epoch`` on (read from ``epoch`` when the batch is drawn, so also in
    ``tf.data``) and -1 (padding) before. ``dynamic_start_epoch=None``: no probes (items
    [B, K]), static weights only.
    Loss ``kdtfrs.losses.RDLoss(rank_temperature, mu, num_items=|I|)``: -sum_r w_r log
    sigmoid(s_r), static weights w_r ~ exp(-r / rank_temperature), times the dynamic weights
    estimated from the student's scores of the probes (``kdtfrs.losses.rd_dynamic_weights``)
    on rows that hold probes, L1-renormalised. The same loss serves ``model.fit`` on
    ``kdtfrs.distill.signal_dataset`` (with ``RefreshCallback`` to advance ``epoch``).
    """

    method_id = "rd"

    def __init__(self, weight=0.1, num_items=30, rank_temperature=1.0, mu=0.1,
                 num_probe_items=100, dynamic_start_epoch=10, exclude_train=True, name=None,
                 draw_every="step"):
        super().__init__(weight, exclude_train, name)
        self.draw_every = check_draw_every(draw_every)
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
        # The probes' labels follow the epoch: refresh (RefreshCallback) must advance it, and
        # signal_dataset must not prefetch across an epoch boundary.
        self.needs_refresh = dynamic_start_epoch is not None

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        ranked = signals.top_items(self.num_items, self.exclude_train)
        self.ranked = tf.constant(ranked)
        self.relevance = tf.cast(ranked.shape[1] - tf.range(ranked.shape[1]), tf.float32)
        self.exclusion = PairExclusion(train, train.num_items)
        self.prepare_draws()

    def targets(self, features, seed):
        """(items int32 [B, K + D], y_true float32 [B, K + D]): the teacher's top-K, then the
        D probes, labelled 0 once the dynamic weights are on and -1 (padding) before."""
        self._require_prepared()
        users = features["user"]
        items = tf.gather(self.ranked, users)
        labels = tf.broadcast_to(self.relevance[None, :], tf.shape(items))
        if self.dynamic_start_epoch is None:
            return items, labels
        probes = self.exclusion.sample_uniform_excluding(users, self.num_probe_items, seed)
        dynamic = self.epoch >= self.dynamic_start_epoch
        probe_labels = tf.fill(tf.shape(probes), tf.where(dynamic, 0.0, -1.0))
        return (tf.concat([items, tf.cast(probes, items.dtype)], axis=1),
                tf.concat([labels, probe_labels], axis=1))

    def make_loss(self):
        self._require_prepared()  # num_items: the catalogue the probes are drawn from
        return losses.RDLoss(rank_temperature=self.rank_temperature, mu=self.mu,
                             num_items=self.item_count,
                             reduction=keras.losses.Reduction.NONE)

    def get_config(self):
        return {**super().get_config(), "num_items": self.num_items,
                "rank_temperature": self.rank_temperature, "mu": self.mu,
                "num_probe_items": self.num_probe_items,
                "dynamic_start_epoch": self.dynamic_start_epoch}
