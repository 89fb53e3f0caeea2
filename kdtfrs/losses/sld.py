"""SLD: the Plackett–Luce likelihood of the teacher order, without uninteresting items."""

from kdtfrs._keras import keras
from kdtfrs.losses._base import DistillationLoss
from kdtfrs.losses.rrd import rrd_loss


def sld_loss(labels, logits, mask):
    """Per-row ``L(u) = -Σ_{k=1..K} [ s_{i_k} - log Σ_{l>=k} e^{s_{i_l}} ]``.

    i_1..i_K: the items with label > 0 in teacher order (highest label first, stable ties).
    Items with label <= 0 take no part at all (0: not ranked; < 0: padding). This is
    :func:`rrd_loss` with the uninteresting items masked out.

    Args:
      labels: float32 [B, N] relevance, > 0 for the teacher's ranked items, < 0 padding.
      logits: float32 [B, N] student scores.
      mask: bool [B, N], False at padding.

    Returns:
      float32 [B]; 0 for a row without ranked items.
    """
    return rrd_loss(labels, logits, mask & (labels > 0))


@keras.utils.register_keras_serializable(package="kdtfrs")
class SLDLoss(DistillationLoss):
    """Listwise ranking distillation as in the KDs benchmark's ``SLD`` (method id ``sld``):
    RRD without the uninteresting term, i.e. the Plackett–Luce (ListMLE) likelihood of the
    teacher's order of the sampled top items:

    ``L(u) = -Σ_{k=1..K} [ s_{u,i_k} - log Σ_{l=k..K} e^{s_{u,i_l}} ]``

    y_true: [B, N] relevance (> 0 for the teacher's ranked items, larger = ranked higher;
    items <= 0 are ignored, < 0 is padding). y_pred: [B, N] student scores. List order does
    not matter.

    Example::

      loss = SLDLoss()
      loss([[3.0, 2.0, 1.0]], [[0.2, 0.9, -0.1]])

    Args:
      reduction: Keras reduction of the per-row losses (AUTO = mean over rows).
      name: loss name.
    """

    labels_mark_padding = True

    def __init__(self, reduction=keras.losses.Reduction.AUTO, name="sld"):
        super().__init__(reduction=reduction, name=name)

    def compute_unreduced_loss(self, labels, logits, mask):
        return sld_loss(labels, logits, mask)
