"""CD: Collaborative Distillation, a soft-label BCE on items sampled from a ranking."""

from kdtfrs._keras import keras
from kdtfrs.losses._base import DistillationLoss
from kdtfrs.losses.pointwise_bce import pointwise_bce_loss
from kdtfrs.validation import check_number


def cd_loss(labels, logits, mask, temperature=2.0, shift=0.0):
    """Per-row ``L(u) = -Σ_j [w_j log σ(s_j) + (1 - w_j) log σ(-s_j)]``,
    ``w_j = σ((t_j + t2)/t1)``.

    Args:
      labels: float32 [B, N] teacher scores t.
      logits: float32 [B, N] student scores s.
      mask: bool [B, N], False at padding.
      temperature: t1 > 0.
      shift: t2, added to the teacher score before the sigmoid.

    Returns:
      float32 [B]; 0 for a row without items.
    """
    return pointwise_bce_loss(labels + shift, logits, mask, temperature)


@keras.utils.register_keras_serializable(package="kdtfrs")
class CDLoss(DistillationLoss):
    """Collaborative Distillation (Lee, Choi, Lee & Shim, "Collaborative Distillation for Top-N
    Recommendation", ICDM 2019), method id ``cd``:

    ``w_uj = σ((t_uj + t2)/t1)``,
    ``L(u) = -Σ_{j listed} [w_uj log σ(s_uj) + (1 - w_uj) log σ(-s_uj)]``.

    y_true: [B, N] teacher scores of the sampled items (the sampler draws them from the guide
    model's ranking), finite. y_pred: [B, N] student scores of the same items. Padding:
    ``mask=`` (False = padded).

    Example::

      loss = CDLoss(temperature=2.0, shift=0.0)
      loss([[3.0, 0.5]], [[1.0, -1.0]])

    Args:
      temperature: t1 > 0 (KDs ``cd_t1``, 2).
      shift: t2 (KDs ``cd_t2``, 0).
      reduction: Keras reduction of the per-row losses (AUTO = mean over rows).
      name: loss name.
    """

    def __init__(
        self, temperature=2.0, shift=0.0, reduction=keras.losses.Reduction.AUTO, name="cd"
    ):
        super().__init__(reduction=reduction, name=name)
        self.temperature = check_number("temperature", temperature, above=0)
        self.shift = check_number("shift", shift)

    def compute_unreduced_loss(self, labels, logits, mask):
        return cd_loss(labels, logits, mask, self.temperature, self.shift)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "shift": self.shift}
