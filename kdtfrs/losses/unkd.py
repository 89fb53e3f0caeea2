"""UnKD: Unbiased KD, the teacher's preferences within popularity groups as pairwise losses."""

from kdtfrs._keras import keras, tf
from kdtfrs.losses._base import DistillationLoss
from kdtfrs.losses._utils import masked_sum, relevance_entries, sanitize


def unkd_loss(labels, logits, mask):
    """Per-row mean pairwise logistic loss over the teacher-ordered pairs of the row.

    Pair p = (a, b) is valid when both entries are real (mask True, label >= 0) and
    ``t_a != t_b``; its preferred item is the one with the higher teacher signal:

    ``L(u) = (1/#valid pairs) Σ_p -log σ(s_{p,pref} - s_{p,other})``

    Args:
      labels: float32 [B, P, 2] relevance of both items of each pair (higher = preferred by
        the teacher), < 0 padding.
      logits: float32 [B, P, 2] student scores of the same items.
      mask: bool [B, P, 2], False at padding.

    Returns:
      float32 [B]; 0 for a row without valid pairs.
    """
    mask = relevance_entries(labels, mask)
    labels, logits = sanitize(labels, mask), sanitize(logits, mask)
    first_wins = labels[..., 0] > labels[..., 1]
    valid = tf.reduce_all(mask, axis=-1) & tf.not_equal(labels[..., 0], labels[..., 1])
    margin = logits[..., 0] - logits[..., 1]
    margin = tf.where(first_wins, margin, -margin)
    total = masked_sum(-tf.math.log_sigmoid(margin), valid)
    count = tf.reduce_sum(tf.cast(valid, tf.float32), axis=-1)
    return tf.math.divide_no_nan(total, count)


@keras.utils.register_keras_serializable(package="kdtfrs")
class UnKDLoss(DistillationLoss):
    """Unbiased Knowledge Distillation (Chen, Chen, Feng, Zhou & He, "Unbiased Knowledge
    Distillation for Recommendation", WSDM 2023), method id ``unkd``.

    The sampler draws P item pairs per row, both items of a pair from the same popularity
    group, from the teacher's ranking of that group; the student learns the teacher's
    preference within each pair, which transfers the ranking without its popularity bias:

    ``L(u) = (1/#pairs) Σ_p -log σ(s_{u,i⁺_p} - s_{u,i⁻_p})``  (i⁺ = teacher-preferred item)

    The mean over the pairs of a row follows the original; it has no ``+1e-10`` inside the
    log (log σ is computed exactly).

    y_true: [B, P, 2] relevance (>= 0) of the two items of each pair (the higher one is
    preferred; pairs with equal relevance are ignored), < 0 = padding (a pair with any padded
    entry is ignored). y_pred: [B, P, 2] student scores of the same items.

    Example::

      loss = UnKDLoss()
      loss([[[0.9, 0.1], [0.2, 0.7], [-1.0, -1.0]]], [[[1.0, 0.0], [0.5, 0.4], [0.0, 0.0]]])

    Args:
      reduction: Keras reduction of the per-row losses (AUTO = mean over rows).
      name: loss name.
    """

    labels_mark_padding = True

    def __init__(self, reduction=keras.losses.Reduction.AUTO, name="unkd"):
        super().__init__(reduction=reduction, name=name)

    def compute_unreduced_loss(self, labels, logits, mask):
        return unkd_loss(labels, logits, mask)
