"""RD: Ranking Distillation, position-weighted pointwise loss on the teacher's top-K."""

from kdtfrs._keras import keras, tf
from kdtfrs.losses._base import DistillationLoss, check_positive
from kdtfrs.losses._utils import (
    gather_rows,
    masked_softmax,
    masked_sum,
    sanitize,
    teacher_order,
)


def rd_loss(labels, logits, mask, rank_temperature=1.0, dynamic_weights=None):
    """Per-row ``L(u) = -Σ_{r=1..K} w_r log σ(s_{u,π_r})``.

    π is the teacher order of the ranked items (label > 0, highest label first, stable ties).
    Static weights ``w^a_r = e^{-r/λ} / Σ_{r'} e^{-r'/λ}`` over the row's ranked items. With
    ``dynamic_weights`` w^b (aligned with the list entries, e.g. RD's
    ``max(tanh(μ(r̂ - (r-1))), 0)`` from the student's estimated rank r̂), the weights are
    ``w = w^a ⊙ w^b / Σ(w^a ⊙ w^b)`` (L1-renormalised per row; a row whose products are all
    zero contributes 0).

    Args:
      labels: float32 [B, N] relevance, > 0 for the teacher's top-K items (larger = ranked
        higher); items with label <= 0 are ignored (RD has no normaliser).
      logits: float32 [B, N] student scores s.
      mask: bool [B, N], False at padding.
      rank_temperature: λ > 0 of the static weights.
      dynamic_weights: optional float32 [B, N] non-negative w^b, same entries as ``labels``.

    Returns:
      float32 [B]; 0 for a row without ranked items.
    """
    labels, logits = sanitize(labels, mask), sanitize(logits, mask)
    ranked = mask & (labels > 0)
    order = teacher_order(labels, mask)
    sorted_ranked = gather_rows(ranked, order)
    positions = tf.cast(tf.range(1, tf.shape(logits)[-1] + 1), tf.float32)
    position_logits = tf.broadcast_to(-positions / rank_temperature, tf.shape(logits))
    weights = masked_softmax(position_logits, sorted_ranked)
    if dynamic_weights is not None:
        dynamic = gather_rows(sanitize(tf.cast(dynamic_weights, tf.float32), ranked), order)
        weights = weights * dynamic
        weights = tf.math.divide_no_nan(weights, tf.reduce_sum(weights, axis=-1, keepdims=True))
    log_probabilities = tf.math.log_sigmoid(gather_rows(logits, order))
    return masked_sum(-weights * log_probabilities, sorted_ranked)


@keras.utils.register_keras_serializable(package="kdtfrs")
class RD(DistillationLoss):
    """Ranking Distillation (Tang & Wang, "Ranking Distillation: Learning Compact Ranking Models
    With High Performance for Recommender System", KDD 2018), method id ``rd``:

    ``L(u) = -Σ_{r=1..K} w_r log σ(s_{u,π^T_r})``, ``w_r = e^{-r/λ} / Σ_{r'=1..K} e^{-r'/λ}``,

    the teacher's top-K items treated as positives with weights decaying in the teacher rank r.
    This class uses the static weights; the dynamic (student-rank) weights of the paper are
    computed by a sampler and passed to :func:`rd_loss` as ``dynamic_weights``.

    y_true: [B, N] relevance of the listed items (> 0 for the teacher's top-K, larger = ranked
    higher, e.g. ``K - rank``; <= 0 ignored), NaN = padding. y_pred: [B, N] student scores.
    List order does not matter.

    Example::

      loss = RD(rank_temperature=1.0)
      loss([[3.0, 2.0, 1.0]], [[0.3, -0.2, 0.8]])

    Args:
      rank_temperature: λ > 0 of the static weights (KDs ``rd_T``, 1).
      reduction: Keras reduction of the per-row losses (AUTO = mean over rows).
      name: loss name.
    """

    def __init__(self, rank_temperature=1.0, reduction=keras.losses.Reduction.AUTO, name="rd"):
        super().__init__(reduction=reduction, name=name)
        self.rank_temperature = check_positive("rank_temperature", rank_temperature)

    def compute_unreduced_loss(self, labels, logits, mask):
        return rd_loss(labels, logits, mask, self.rank_temperature)

    def get_config(self):
        return {**super().get_config(), "rank_temperature": self.rank_temperature}
