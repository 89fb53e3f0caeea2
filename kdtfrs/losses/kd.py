"""KD: Hinton-style soft cross-entropy between teacher and student scores on an item list."""

from kdtfrs._keras import keras
from kdtfrs.losses._base import DistillationLoss
from kdtfrs.losses._utils import sanitize, soft_cross_entropy
from kdtfrs.validation import check_number


def kd_loss(labels, logits, mask, temperature=1.0, scale_by_temperature_squared=False):
    """Per-row soft cross-entropy of the student's list softmax to the teacher's.

    ``L(u) = -Σ_{i∈Q_u} softmax(t_u/τ)_i · log softmax(s_u/τ)_i``, times τ² when
    ``scale_by_temperature_squared`` (Hinton et al.'s gradient-scale correction).

    Args:
      labels: float32 [B, N] teacher scores t (any real).
      logits: float32 [B, N] student scores s.
      mask: bool [B, N], False at padding; both softmaxes run over the real items only.
      temperature: τ > 0, applied to teacher and student.
      scale_by_temperature_squared: multiply by τ² (off in the reference KDs code).

    Returns:
      float32 [B]; 0 for a row without items.
    """
    labels, logits = sanitize(labels, mask), sanitize(logits, mask)
    loss = soft_cross_entropy(labels / temperature, logits / temperature, mask)
    return loss * temperature**2 if scale_by_temperature_squared else loss


@keras.utils.register_keras_serializable(package="kdtfrs")
class KDLoss(DistillationLoss):
    """Knowledge distillation on scores (Hinton, Vinyals & Dean, "Distilling the Knowledge in a
    Neural Network", 2015), applied to the item list of each user (method id ``kd``).

    ``L(u) = -Σ_{i∈Q_u} softmax(t_u/τ)_i · log softmax(s_u/τ)_i`` (optionally × τ²)

    y_true: [B, N] teacher scores of the listed items (e.g. the guide model's top-K), finite.
    y_pred: [B, N] student scores of the same items. Padding: ``mask=`` (False = padded).

    Example::

      from kdtfrs.losses import KDLoss

      loss = KDLoss(temperature=2.0)
      loss([[3.0, 1.0, 0.0]], [[0.5, 0.2, 9.0]], mask=[[True, True, False]])  # 3rd: padding

    Args:
      temperature: τ > 0 for both softmaxes.
      scale_by_temperature_squared: multiply by τ² (keeps gradient magnitudes comparable
        across temperatures; KDs does not).
      reduction: Keras reduction of the per-row losses (AUTO = mean over rows).
      name: loss name.
    """

    def __init__(
        self,
        temperature=1.0,
        scale_by_temperature_squared=False,
        reduction=keras.losses.Reduction.AUTO,
        name="kd",
    ):
        super().__init__(reduction=reduction, name=name)
        self.temperature = check_number("temperature", temperature, above=0)
        self.scale_by_temperature_squared = bool(scale_by_temperature_squared)

    def compute_unreduced_loss(self, labels, logits, mask):
        return kd_loss(
            labels, logits, mask, self.temperature, self.scale_by_temperature_squared
        )

    def get_config(self):
        return {
            **super().get_config(),
            "temperature": self.temperature,
            "scale_by_temperature_squared": self.scale_by_temperature_squared,
        }
