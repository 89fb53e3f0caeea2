"""PointwiseBCE: binary cross-entropy of the student to the teacher's sigmoid, item by item."""

from kdtfrs._keras import keras, tf
from kdtfrs.losses._base import DistillationLoss
from kdtfrs.losses._utils import masked_sum, sanitize
from kdtfrs.validation import check_number


def pointwise_bce_loss(labels, logits, mask, temperature=1.0):
    """Per-row ``L(u) = Σ_j -[p_j log σ(s_j) + (1 - p_j) log σ(-s_j)]``, ``p_j = σ(t_j/τ)``.

    Computed from logits (``softplus(s) - p·s``), so it is exact for any score magnitude.

    Args:
      labels: float32 [B, N] teacher scores t.
      logits: float32 [B, N] student scores s.
      mask: bool [B, N], False at padding.
      temperature: τ > 0 that softens the teacher's sigmoid.

    Returns:
      float32 [B]; 0 for a row without items.
    """
    labels, logits = sanitize(labels, mask), sanitize(logits, mask)
    soft_labels = tf.sigmoid(labels / temperature)
    per_item = tf.nn.sigmoid_cross_entropy_with_logits(labels=soft_labels, logits=logits)
    return masked_sum(per_item, mask)


@keras.utils.register_keras_serializable(package="kdtfrs")
class PointwiseBCELoss(DistillationLoss):
    """Pointwise soft-label distillation with a binary cross-entropy (method id ``bce``):

    ``L(u) = Σ_{j listed} BCE(σ(s_uj), σ(t_uj/τ))`` (a sum over the list).

    y_true: [B, N] teacher scores of the listed items, finite. y_pred: [B, N] student scores
    (logits) of the same items. Padding: ``mask=`` (False = padded).

    Example::

      loss = PointwiseBCELoss(temperature=2.0)
      loss([[4.0, -4.0]], [[1.0, -2.0]])

    Args:
      temperature: τ > 0 of the teacher's sigmoid.
      reduction: Keras reduction of the per-row losses (AUTO = mean over rows).
      name: loss name.
    """

    def __init__(self, temperature=1.0, reduction=keras.losses.Reduction.AUTO, name="bce"):
        super().__init__(reduction=reduction, name=name)
        self.temperature = check_number("temperature", temperature, above=0)

    def compute_unreduced_loss(self, labels, logits, mask):
        return pointwise_bce_loss(labels, logits, mask, self.temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
