"""DCD: Dual Correction Distillation, relaxed ranking on the student's estimation errors."""

from kdtfrs._keras import keras
from kdtfrs.losses.rrd import RRDLoss, rrd_loss

dcd_loss = rrd_loss


@keras.utils.register_keras_serializable(package="kdtfrs")
class DCDLoss(RRDLoss):
    """Dual Correction Distillation (Lee & Kim, "Dual Correction Strategy for Ranking
    Distillation in Top-N Recommender System", CIKM 2021), method id ``dcd``.

    From the teacher's top list, the sampler takes items the student ranks worse than the
    teacher (under-estimated, U_u, in teacher order u_1..u_K) and items it ranks better
    (over-estimated, O_u). The loss is the relaxed ranking loss with O_u in every denominator:

    ``L(u) = -Σ_{k=1..K} [ s_{u,u_k} - log( Σ_{l=k..K} e^{s_{u,u_l}} + Σ_{j∈O_u} e^{s_uj} ) ]``

    The math is :class:`RRDLoss`'s; only the meaning of y_true differs.

    y_true: [B, N] > 0 for the under-estimated items (larger = ranked higher by the teacher,
    e.g. ``mxK - teacher_rank``), 0 for the over-estimated items, < 0 padding.
    y_pred: [B, N] student scores. The item-side term (ICD) is the same loss on rows that are
    items and lists of users.

    Example::

      loss = DCDLoss()
      loss([[5.0, 2.0, 0.0, 0.0]], [[0.1, -0.4, 1.3, 0.9]])

    Args:
      reduction: Keras reduction of the per-row losses (AUTO = mean over rows).
      name: loss name.
    """

    def __init__(self, reduction=keras.losses.Reduction.AUTO, name="dcd"):
        super().__init__(reduction=reduction, name=name)
