"""Pointwise score distillation baselines: MSE on scores and BCE toward sigmoid(t / tau)."""

from kdtfrs import losses, samplers
from kdtfrs._keras import keras, tf
from kdtfrs.data.exclusion import PairExclusion
from kdtfrs.tasks.base import DistillationTask, check_list_length, check_draw_every
from kdtfrs.validation import check_number

SAMPLINGS = ("uniform", "rank")


class _Pointwise(DistillationTask):
    """Items per row: ``num_items`` uniform non-training items (``sampling="uniform"``; any
    item with ``exclude_train=False``) or drawn from the teacher's top-``max_rank`` with
    p(r) ~ exp(-(r+1)/T) (``"rank"``); y_true: the teacher's scores of those items."""

    def __init__(self, weight, num_items=50, sampling="uniform", temperature=10.0,
                 max_rank=500, exclude_train=True, name=None, draw_every="step"):
        super().__init__(weight, exclude_train, name)
        self.draw_every = check_draw_every(draw_every)
        check_number("num_items", num_items, above=0, integer=True)
        check_number("temperature", temperature, above=0)
        check_number("max_rank", max_rank, above=0, integer=True)
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}.")
        self.num_items = num_items
        self.sampling = sampling
        self.temperature = float(temperature)
        self.max_rank = max_rank

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        if self.sampling == "rank":
            ranked = signals.top_items(self.max_rank, self.exclude_train)
            check_list_length("num_items", self.num_items, ranked.shape[1])
            self.ranked = tf.constant(ranked)
            self.ranked_scores = tf.constant(self.teacher_list_scores(ranked))
        elif self.exclude_train:
            self.exclusion = PairExclusion(train, train.num_items)
        self.prepare_draws()

    def targets(self, features, seed):
        self._require_prepared()
        users = features["user"]
        if self.sampling == "rank":
            items, _, positions = samplers.rank_aware_from_list(
                self.ranked, users, self.num_items, self.temperature, seed)
            return items, samplers.lookup_positions(self.ranked_scores, users, positions)
        if self.exclude_train:
            items = self.exclusion.sample_uniform_excluding(users, self.num_items, seed)
        else:
            items = samplers.uniform_items(tf.shape(users)[0], self.num_items,
                                           self.item_count, seed)
        return items, self.teacher_scores(users, items)

    def get_config(self):
        return {**super().get_config(), "num_items": self.num_items, "sampling": self.sampling,
                "temperature": self.temperature, "max_rank": self.max_rank}


class MSE(_Pointwise):
    """sum_j (s_uj - t_uj)^2 over the sampled items (``kdtfrs.losses.PointwiseMSELoss``)."""

    method_id = "mse"

    def __init__(self, weight=0.01, **kwargs):
        super().__init__(weight, **kwargs)

    def make_loss(self):
        return losses.PointwiseMSELoss(reduction=keras.losses.Reduction.NONE)


class BCE(_Pointwise):
    """sum_j BCE(sigmoid(s_uj), sigmoid(t_uj / tau)) (``kdtfrs.losses.PointwiseBCELoss``)."""

    method_id = "bce"

    def __init__(self, weight=0.1, label_temperature=1.0, **kwargs):
        super().__init__(weight, **kwargs)
        check_number("label_temperature", label_temperature, above=0)
        self.label_temperature = float(label_temperature)

    def make_loss(self):
        return losses.PointwiseBCELoss(temperature=self.label_temperature,
                                       reduction=keras.losses.Reduction.NONE)

    def get_config(self):
        return {**super().get_config(), "label_temperature": self.label_temperature}


__all__ = ["MSE", "BCE"]
