"""BlackD: KD from a rank-only (black-box) teacher."""

from kdtfrs._keras import keras, tf
from kdtfrs.losses._base import DistillationLoss
from kdtfrs.losses._utils import (
    masked_log_softmax,
    masked_softmax,
    masked_sum,
    relevance_entries,
    sanitize,
    sorted_by_teacher,
)
from kdtfrs.validation import check_number


def blackd_loss(labels, logits, mask, rank_temperature=10.0, temperature=1.0):
    """Per-row cross-entropy to a teacher distribution built from ranks alone.

    The teacher order comes from the relevance labels (highest first, stable ties); the item at
    0-based teacher position r gets the teacher logit ``-(r+1)/T`` (T = ``rank_temperature``):

    ``L(u) = -Σ_{i ranked} softmax(-(r+1)/T)_i · log softmax_{j listed}(s_j/τ)_i``

    Items with label 0 have teacher probability 0 but stay in the student's normaliser.

    Args:
      labels: float32 [B, N] relevance: > 0 for items of the teacher's ranked list (larger =
        ranked higher), 0 for unranked items, < 0 padding.
      logits: float32 [B, N] student scores.
      mask: bool [B, N], False at padding.
      rank_temperature: T > 0 of the rank logits.
      temperature: τ > 0 of the student softmax.

    Returns:
      float32 [B]; 0 for a row without ranked items.
    """
    mask = relevance_entries(labels, mask)
    labels, logits = sanitize(labels, mask), sanitize(logits, mask)
    sorted_labels, sorted_mask, sorted_logits = sorted_by_teacher(labels, mask, logits)
    sorted_ranked = sorted_mask & (sorted_labels > 0)
    positions = tf.cast(tf.range(1, tf.shape(logits)[-1] + 1), tf.float32)
    rank_logits = tf.broadcast_to(-positions / rank_temperature, tf.shape(logits))
    teacher_probabilities = masked_softmax(rank_logits, sorted_ranked)
    student_log_probabilities = masked_log_softmax(
        sorted_logits / temperature, sorted_mask
    )
    return masked_sum(-teacher_probabilities * student_log_probabilities, sorted_ranked)


@keras.utils.register_keras_serializable(package="kdtfrs")
class BlackDLoss(DistillationLoss):
    """KD from a black-box teacher that exposes only its ranking (method id ``blackd``): the
    ``blind`` variant of BlackD in the KDs benchmark (woriazzc/KDs).

    ``L(u) = -Σ_{i ranked} softmax(-(r_i+1)/T)_i · log softmax(s_u/τ)_i``, r_i = 0-based
    position of item i in the teacher order derived from y_true.

    y_true: [B, N] relevance of the listed items (> 0: in the teacher's top list, larger =
    ranked higher, e.g. ``K - rank``; 0: unranked, only in the student's normaliser; < 0:
    padding). y_pred: [B, N] student scores. List order does not matter.

    Example::

      loss = BlackDLoss(rank_temperature=10.0)
      loss([[3.0, 2.0, 1.0]], [[0.1, 0.7, 0.2]])

    Args:
      rank_temperature: T > 0 of the teacher rank logits (KDs ``blackd_T``, 10).
      temperature: τ > 0 of the student softmax (KDs ``blackd_tau``, 1).
      reduction: Keras reduction of the per-row losses (AUTO = mean over rows).
      name: loss name.
    """

    labels_mark_padding = True

    def __init__(
        self,
        rank_temperature=10.0,
        temperature=1.0,
        reduction=keras.losses.Reduction.AUTO,
        name="blackd",
    ):
        super().__init__(reduction=reduction, name=name)
        self.rank_temperature = check_number("rank_temperature", rank_temperature, above=0)
        self.temperature = check_number("temperature", temperature, above=0)

    def compute_unreduced_loss(self, labels, logits, mask):
        return blackd_loss(labels, logits, mask, self.rank_temperature, self.temperature)

    def get_config(self):
        return {
            **super().get_config(),
            "rank_temperature": self.rank_temperature,
            "temperature": self.temperature,
        }
