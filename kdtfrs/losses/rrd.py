"""RRD: Relaxed Ranking Distillation, a Plackett–Luce likelihood of the teacher order."""

from kdtfrs._keras import keras
from kdtfrs.losses._base import DistillationLoss
from kdtfrs.losses._utils import (
    masked_sum,
    reverse_cumulative_logsumexp,
    relevance_entries,
    sanitize,
    sorted_by_teacher,
)


def rrd_loss(labels, logits, mask):
    """Per-row relaxed ranking loss.

    With the interesting items (label > 0) in teacher order i_1..i_K (highest label first,
    stable ties) and the uninteresting items N_u (label 0; label < 0 is padding):

    ``L(u) = -Σ_{k=1..K} [ s_{i_k} - log( Σ_{l>=k} e^{s_{i_l}} + Σ_{j∈N_u} e^{s_j} ) ]``

    Vectorised: sorting by label puts the interesting items first and the uninteresting ones
    after them, so every denominator is a reverse cumulative log-sum-exp over the sorted row.

    Args:
      labels: float32 [B, N] relevance: > 0 interesting (larger = ranked higher by the teacher),
        0 uninteresting (denominators only), < 0 padding.
      logits: float32 [B, N] student scores s (raw, as in DE-RRD and KDs).
      mask: bool [B, N], False at padding.

    Returns:
      float32 [B]; 0 for a row without interesting items.
    """
    mask = relevance_entries(labels, mask)
    labels, logits = sanitize(labels, mask), sanitize(logits, mask)
    sorted_labels, sorted_mask, sorted_logits = sorted_by_teacher(labels, mask, logits)
    sorted_interesting = sorted_mask & (sorted_labels > 0)
    log_denominators = reverse_cumulative_logsumexp(sorted_logits, sorted_mask)
    return masked_sum(log_denominators - sorted_logits, sorted_interesting)


@keras.utils.register_keras_serializable(package="kdtfrs")
class RRDLoss(DistillationLoss):
    """Relaxed Ranking Distillation (Kang, Hwang, Kweon & Yu, "DE-RRD: A Knowledge Distillation
    Framework for Recommender System", CIKM 2020), method id ``rrd``:

    ``L(u) = -Σ_{k=1..K} [ s_{u,i_k} - log( Σ_{l=k..K} e^{s_{u,i_l}} + Σ_{j∈N_u} e^{s_uj} ) ]``

    the likelihood of the teacher's order of the sampled interesting items i_1..i_K, with the
    uninteresting items N_u appended to every denominator (their order is not learned).

    y_true: [B, N] relevance (> 0: interesting, larger = ranked higher by the teacher, e.g.
    ``mxK - rank``; 0: uninteresting; < 0: padding). y_pred: [B, N] student scores. The
    teacher order is read from y_true, so the list order does not matter (ties keep list
    order).

    IR-RRD (Kang et al., "Item-side ranking regularized distillation for recommender system",
    Information Sciences 2021; method id ``ir_rrd``) needs no other loss: its item-side term is
    this loss on rows that are items and lists of users (y_pred[b, n] = score of user n for
    item b). The Distiller adds λ_U·RRD(user rows) + λ_IR·RRD(item rows).

    Example::

      loss = RRDLoss()
      # two interesting items (teacher prefers the first), one uninteresting item
      loss([[2.0, 1.0, 0.0]], [[1.2, 0.4, -0.3]])

    Args:
      reduction: Keras reduction of the per-row losses (AUTO = mean over rows).
      name: loss name.
    """

    labels_mark_padding = True

    def __init__(self, reduction=keras.losses.Reduction.AUTO, name="rrd"):
        super().__init__(reduction=reduction, name=name)

    def compute_unreduced_loss(self, labels, logits, mask):
        return rrd_loss(labels, logits, mask)
