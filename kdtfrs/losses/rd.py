"""RD: Ranking Distillation, position-weighted pointwise loss on the teacher's top-K."""

from kdtfrs._keras import keras, tf
from kdtfrs.losses._base import DistillationLoss
from kdtfrs.losses._utils import (
    masked_softmax,
    masked_sum,
    relevance_entries,
    sanitize,
    sorted_by_teacher,
    teacher_positions,
)
from kdtfrs.validation import check_number


def rd_loss(labels, logits, mask, rank_temperature=1.0, weights=None):
    """Per-row ``L(u) = -Σ_{r=1..K} w_r log σ(s_{u,π_r})``.

    π is the teacher order of the ranked items (label > 0, highest label first, stable ties).
    Static weights ``w^a_r = e^{-r/λ} / Σ_{r'} e^{-r'/λ}`` over the row's ranked items. With
    per-item ``weights`` w^b (aligned with the list entries, e.g. RD's dynamic weights of
    :func:`rd_dynamic_weights`), the weights are ``w = w^a ⊙ w^b / Σ(w^a ⊙ w^b)``
    (L1-renormalised per row; a row whose products are all zero contributes 0).

    Args:
      labels: float32 [B, N] relevance, > 0 for the teacher's top-K items (larger = ranked
        higher); label 0 is ignored here (RD has no normaliser; :class:`RDLoss` reads those
        entries as probes), < 0 is padding.
      logits: float32 [B, N] student scores s.
      mask: bool [B, N], False at padding.
      rank_temperature: λ > 0 of the static weights.
      weights: optional float32 [B, N] non-negative w^b, same entries as ``labels``.

    Returns:
      float32 [B]; 0 for a row without ranked items.
    """
    mask = relevance_entries(labels, mask)
    labels, logits = sanitize(labels, mask), sanitize(logits, mask)
    ranked = mask & (labels > 0)
    item_weights = () if weights is None else (sanitize(tf.cast(weights, tf.float32), ranked),)
    sorted_labels, sorted_mask, sorted_logits, *item_weights = sorted_by_teacher(
        labels, mask, logits, *item_weights)
    sorted_ranked = sorted_mask & (sorted_labels > 0)
    positions = tf.cast(tf.range(1, tf.shape(logits)[-1] + 1), tf.float32)
    position_logits = tf.broadcast_to(-positions / rank_temperature, tf.shape(logits))
    rank_weights = masked_softmax(position_logits, sorted_ranked)
    if item_weights:
        rank_weights = rank_weights * item_weights[0]
        rank_weights = tf.math.divide_no_nan(
            rank_weights, tf.reduce_sum(rank_weights, axis=-1, keepdims=True)
        )
    log_probabilities = tf.math.log_sigmoid(sorted_logits)
    return masked_sum(-rank_weights * log_probabilities, sorted_ranked)


def rd_dynamic_weights(labels, logits, mask, num_items, mu):
    """RD's dynamic weights w^b from the student's estimated rank of each ranked item.

    The probe entries (label 0) are D items drawn uniformly from the catalogue of ``num_items``
    items. The student's rank of the teacher's r-th item (r = 1..K, teacher order of the
    labels) is estimated as ``r̂ = floor((|I| - 1)·#{j probe: s_j > s_r} / D) + 1`` and weighted
    ``w^b_r = max(tanh(μ(r̂ - (r - 1))), 0)``: items the student ranks too low count more.
    A row without probes gets w^b = 1. Constants (no gradient).

    Args:
      labels: float32 [B, N] relevance: > 0 the teacher's top-K, 0 probes, < 0 padding.
      logits: float32 [B, N] student scores.
      mask: bool [B, N], False at padding.
      num_items: |I|, the catalogue size.
      mu: μ > 0, the slope of the weights.

    Returns:
      float32 [B, N] aligned with the list entries (meaningful at the ranked entries).
    """
    mask = relevance_entries(labels, mask)
    scores = tf.stop_gradient(sanitize(tf.cast(logits, tf.float32), mask))
    probes = mask & tf.equal(labels, 0.0)
    # #{probes scored above each entry} by a sorted search: no [B, N, N] comparison.
    lowest = tf.fill(tf.shape(scores), tf.constant(-float("inf"), tf.float32))
    probe_scores = tf.sort(tf.where(probes, scores, lowest), axis=-1)
    at_or_below = tf.searchsorted(probe_scores, scores, side="right")
    above = tf.cast(tf.shape(scores)[-1] - at_or_below, tf.float32)
    probe_count = tf.reduce_sum(tf.cast(probes, tf.float32), axis=-1, keepdims=True)
    estimated_rank = tf.floor((num_items - 1.0) * above / tf.maximum(probe_count, 1.0)) + 1.0
    teacher_rank = tf.cast(teacher_positions(labels, mask), tf.float32)
    weights = tf.nn.relu(tf.tanh(mu * (estimated_rank - teacher_rank)))
    return tf.where(probe_count > 0, weights, tf.ones_like(weights))


@keras.utils.register_keras_serializable(package="kdtfrs")
class RDLoss(DistillationLoss):
    """Ranking Distillation (Tang & Wang, "Ranking Distillation: Learning Compact Ranking Models
    With High Performance for Recommender System", KDD 2018), method id ``rd``:

    ``L(u) = -Σ_{r=1..K} w_r log σ(s_{u,π^T_r})``, ``w_r = e^{-r/λ} / Σ_{r'=1..K} e^{-r'/λ}``,

    the teacher's top-K items treated as positives with weights decaying in the teacher rank r.
    With ``num_items`` set, a row that also lists probe items (label 0: D items drawn
    uniformly) gets the paper's dynamic weights: ``w ∝ w_r · max(tanh(μ(r̂_r - (r - 1))), 0)``,
    r̂_r the student's rank of the item estimated from the probes (:func:`rd_dynamic_weights`),
    L1-renormalised. Rows without probes use the static weights.

    y_true: [B, N] relevance of the listed items (> 0 for the teacher's top-K, larger = ranked
    higher, e.g. ``K - rank``; 0: probe; < 0: padding). y_pred: [B, N] student scores. List
    order does not matter. Probes without ``num_items`` are an error (they would otherwise be
    dropped in silence).

    Example::

      loss = RDLoss(rank_temperature=1.0, mu=0.1, num_items=1000)
      # three ranked items, two probes
      loss([[3.0, 2.0, 1.0, 0.0, 0.0]], [[0.3, -0.2, 0.8, 1.1, -0.5]])

    Args:
      rank_temperature: λ > 0 of the static weights (KDs ``rd_T``, 1).
      mu: μ > 0 of the dynamic weights (KDs ``rd_mu``, 0.1).
      num_items: |I|, the catalogue size the probes are drawn from; None: no probes allowed.
      reduction: Keras reduction of the per-row losses (AUTO = mean over rows).
      name: loss name.
    """

    labels_mark_padding = True

    def __init__(
        self,
        rank_temperature=1.0,
        mu=0.1,
        num_items=None,
        reduction=keras.losses.Reduction.AUTO,
        name="rd",
    ):
        super().__init__(reduction=reduction, name=name)
        self.rank_temperature = check_number("rank_temperature", rank_temperature, above=0)
        self.mu = check_number("mu", mu, above=0)
        self.num_items = (
            None if num_items is None
            else check_number("num_items", num_items, minimum=1, integer=True)
        )

    def compute_unreduced_loss(self, labels, logits, mask):
        if self.num_items is None:
            probes = tf.reduce_any(mask & tf.equal(labels, 0.0))
            check = tf.debugging.Assert(
                tf.logical_not(probes),
                ["RDLoss: y_true holds probe entries (label 0) but num_items is None; pass "
                 "num_items (the catalogue size) for RD's dynamic weights, or label them < 0 "
                 "(padding) for static weights."],
            )
            with tf.control_dependencies([check]):
                return rd_loss(labels, logits, mask, self.rank_temperature)
        weights = rd_dynamic_weights(labels, logits, mask, float(self.num_items), self.mu)
        return rd_loss(labels, logits, mask, self.rank_temperature, weights)

    def get_config(self):
        return {
            **super().get_config(),
            "rank_temperature": self.rank_temperature,
            "mu": self.mu,
            "num_items": self.num_items,
        }
