"""BlackD: KD from a rank-only (black-box) teacher, as woriazzc/KDs ``BlackD`` (blind)."""

from kdtfrs import losses
from kdtfrs._keras import keras, tf
from kdtfrs.tasks.base import DistillationTask
from kdtfrs.validation import check_number


class BlackD(DistillationTask):
    """Cross-entropy toward a softmax over the teacher's rank order only.

    Signals: the teacher's top-``num_items`` items per user, training items excluded.
    y_true: relevance ``num_items - r`` (the rank is all the teacher reveals).
    Loss: ``kdtfrs.losses.BlackDLoss``: teacher logits -(r+1)/rank_temperature, student
    softmax at ``temperature``.
    ``per_unique_user=True``: each unique user of the batch once, as the reference sums
    (``DistillationTask.per_unique_user``; ``weight`` is then the reference's λ unchanged).
    """

    method_id = "blackd"

    def __init__(self, weight=0.05, num_items=100, temperature=1.0, rank_temperature=10.0,
                 exclude_train=True, name=None, per_unique_user=False):
        super().__init__(weight, exclude_train, name)
        self.per_unique_user = bool(per_unique_user)
        check_number("num_items", num_items, above=0, integer=True)
        check_number("temperature", temperature, above=0)
        check_number("rank_temperature", rank_temperature, above=0)
        self.num_items = num_items
        self.temperature = float(temperature)
        self.rank_temperature = float(rank_temperature)

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        ranked = signals.top_items(self.num_items, self.exclude_train)
        self.ranked = tf.constant(ranked)
        length = ranked.shape[1]
        self.relevance = tf.cast(length - tf.range(length), tf.float32)

    def targets(self, features, seed):
        del seed
        self._require_prepared()
        items = tf.gather(self.ranked, features["user"])
        labels = tf.broadcast_to(self.relevance[None, :], tf.shape(items))
        return items, labels

    def make_loss(self):
        return losses.BlackDLoss(temperature=self.temperature,
                                 rank_temperature=self.rank_temperature,
                                 reduction=keras.losses.Reduction.NONE)

    def get_config(self):
        return {**super().get_config(), "num_items": self.num_items,
                "temperature": self.temperature, "rank_temperature": self.rank_temperature}
