"""PointwiseMSE: squared error between student and teacher scores, item by item."""

from kdtfrs._keras import keras, tf
from kdtfrs.losses._base import DistillationLoss
from kdtfrs.losses._utils import masked_sum, sanitize


def pointwise_mse_loss(labels, logits, mask):
    """Per-row ``L(u) = Σ_{j listed} (s_uj - t_uj)²``.

    Args:
      labels: float32 [B, N] teacher scores t.
      logits: float32 [B, N] student scores s.
      mask: bool [B, N], False at padding.

    Returns:
      float32 [B]; 0 for a row without items.
    """
    labels, logits = sanitize(labels, mask), sanitize(logits, mask)
    return masked_sum(tf.square(logits - labels), mask)


@keras.utils.register_keras_serializable(package="kdtfrs")
class PointwiseMSELoss(DistillationLoss):
    """Plain pointwise score distillation, the trivial baseline (method id ``mse``):

    ``L(u) = Σ_{j listed} (s_uj - t_uj)²`` (a sum over the list, not a mean).

    y_true: [B, N] teacher scores of the listed items (uniform or rank-sampled), finite.
    y_pred: [B, N] student scores of the same items. Padding: ``mask=`` (False = padded).

    Example::

      loss = PointwiseMSELoss()
      loss([[2.0, -1.0]], [[1.5, 0.0]])  # 0.25 + 1.0

    Args:
      reduction: Keras reduction of the per-row losses (AUTO = mean over rows).
      name: loss name.
    """

    def __init__(self, reduction=keras.losses.Reduction.AUTO, name="mse"):
        super().__init__(reduction=reduction, name=name)

    def compute_unreduced_loss(self, labels, logits, mask):
        return pointwise_mse_loss(labels, logits, mask)
