"""HetComp's two listwise losses: overall relations first, then fine-grained ranking orders."""

from kdtfrs._keras import keras, tf
from kdtfrs.losses._base import DistillationLoss
from kdtfrs.losses._utils import (
    masked_logsumexp,
    masked_sum,
    relevance_entries,
    reverse_cumulative_logsumexp,
    sanitize,
)
from kdtfrs.validation import check_number

PHASES = ("overall", "rank")


def _band(labels, mask, low, high, length):
    """The entries with ``low < label <= high``, highest label first: (positions int32
    [B, length], valid bool [B, length]); rows with fewer entries are padded at the end."""
    keys = tf.where(mask & (labels > low) & (labels <= high), labels,
                    tf.fill(tf.shape(labels), -float("inf")))
    top = tf.math.top_k(keys, k=tf.minimum(length, tf.shape(labels)[1]))
    return top.indices, tf.math.is_finite(top.values)


def _plackett_luce(listed, listed_valid, extra, extra_valid):
    """Σ_k [log(Σ_{l>=k} e^{s_l} + Σ_{j∈extra} e^{s_j}) − s_k] over the valid listed entries
    (in list order), the extra entries in every denominator; float32 [B]."""
    extra_sum = masked_logsumexp(extra, extra_valid)
    values = tf.concat([listed, extra_sum[:, None]], axis=1)
    valid = tf.concat([listed_valid, tf.reduce_any(extra_valid, axis=1, keepdims=True)], axis=1)
    log_denominators = reverse_cumulative_logsumexp(values, valid)[:, :-1]
    return masked_sum(log_denominators - listed, listed_valid)


def hetcomp_overall_from_parts(listed, listed_valid, rest_sum, rest_valid):
    """The overall loss from its parts: ``Σ_x softplus(rest_sum − s_x)`` per row.

    Args:
      listed: float32 [B, L] student scores of the listed entries (O and T together).
      listed_valid: bool [B, L], False at padding.
      rest_sum: float32 [B], the log-sum-exp of the student's scores of the rest R.
      rest_valid: bool [B], False for a row whose rest is empty (its loss is 0).
    """
    listed = sanitize(listed, listed_valid)
    return masked_sum(tf.nn.softplus(rest_sum[:, None] - listed),
                      listed_valid & rest_valid[:, None])


def hetcomp_rank_from_parts(observed, observed_valid, ranked, ranked_valid, rest_sum,
                            rest_valid, list_length):
    """The rank loss from its parts (``hetcomp_rank_loss``): O's and T's student scores in
    their orders ([B, P] and [B, K], with their bool validity), R's log-sum-exp [B]
    (``rest_valid`` False: R is empty) and K = ``list_length``."""
    observed, ranked = sanitize(observed, observed_valid), sanitize(ranked, ranked_valid)
    rest, rest_valid = rest_sum[:, None], rest_valid[:, None]
    loss = _plackett_luce(observed, observed_valid, tf.concat([rest, ranked], axis=1),
                          tf.concat([rest_valid, ranked_valid], axis=1))
    for head in sorted({list_length // 2, list_length // 10} - {0}, reverse=True):
        loss += 0.5 * _plackett_luce(ranked[:, :head], ranked_valid[:, :head],
                                     tf.concat([rest, ranked[:, head:]], axis=1),
                                     tf.concat([rest_valid, ranked_valid[:, head:]], axis=1))
    return loss


def hetcomp_overall_loss(labels, logits, mask):
    """Per-row ``L(u) = −Σ_{x: y_x > 0} [s_x − log(e^{s_x} + Σ_{j: y_j = 0} e^{s_j})]``.

    Every listed entry (observed or teacher-ranked, label > 0) against the rest of the row
    (label 0): ``Σ_x softplus(LSE_rest − s_x)``, one log-sum-exp over the rest, no sort.

    Args:
      labels: float32 [B, N] relevance (> 0 listed, 0 rest, < 0 padding).
      logits: float32 [B, N] student scores.
      mask: bool [B, N], False at padding.

    Returns:
      float32 [B]; 0 for a row without listed or without rest entries.
    """
    mask = relevance_entries(labels, mask)
    labels, logits = sanitize(labels, mask), sanitize(logits, mask)
    rest = mask & tf.equal(labels, 0.0)
    return hetcomp_overall_from_parts(logits, mask & (labels > 0),
                                      masked_logsumexp(logits, rest), tf.reduce_any(rest, 1))


def hetcomp_rank_loss(labels, logits, mask, list_length, num_observed):
    """Per-row ``L(u) = PL(O | T ∪ R) + ½ Σ_{n ∈ {K/2, K/10}} PL(T[:n] | T[n:] ∪ R)``.

    O: the observed entries (label > K, at most ``num_observed``, highest label first); T: the
    teacher-ranked entries (0 < label <= K, at most K = ``list_length``); R: the rest (label
    0). ``PL(L | D) = Σ_k [log(Σ_{l>=k} e^{s_{L_l}} + Σ_{j∈D} e^{s_j}) − s_{L_k}]``, the
    Plackett–Luce negative log-likelihood of the order of L with D in every denominator (an
    empty L gives 0). K/2 and K/10 are rounded down; a head of 0 items is left out.

    Args:
      labels, logits, mask: as ``hetcomp_overall_loss``.
      list_length: K, the band of teacher-ranked labels (0, K].
      num_observed: the most observed entries (labels above K) a row holds.

    Returns:
      float32 [B].
    """
    mask = relevance_entries(labels, mask)
    labels, logits = sanitize(labels, mask), sanitize(logits, mask)
    rest = mask & tf.equal(labels, 0.0)
    observed, observed_valid = _band(labels, mask, float(list_length), float("inf"),
                                     num_observed)
    ranked, ranked_valid = _band(labels, mask, 0.0, float(list_length), list_length)
    return hetcomp_rank_from_parts(
        tf.gather(logits, observed, batch_dims=1), observed_valid,
        tf.gather(logits, ranked, batch_dims=1), ranked_valid,
        masked_logsumexp(logits, rest), tf.reduce_any(rest, axis=1), list_length)


@keras.utils.register_keras_serializable(package="kdtfrs")
class HetCompLoss(DistillationLoss):
    """The listwise losses of HetComp (Kang, Kweon, Lee, Lian, Xie & Yu, "Distillation from
    Heterogeneous Models for Top-K Recommendation", WWW 2023), method id ``hetcomp``.

    ``phase="overall"`` (while the curriculum still moves): every listed item above the rest,

    ``L(u) = −Σ_{x ∈ O ∪ T} [s_ux − log(e^{s_ux} + Σ_{j ∈ R} e^{s_uj})]``

    ``phase="rank"`` (once every user has reached the teachers' final checkpoints): the order of
    the observed items and of the heads of the teachers' list,

    ``L(u) = PL(O | T ∪ R) + ½ [PL(T[:K/2] | T[K/2:] ∪ R) + PL(T[:K/10] | T[K/10:] ∪ R)]``

    (``hetcomp_rank_loss``). O are the user's observed (training) items chosen as knowledge, T
    the teachers' ensemble top-K of unobserved items, R every other unobserved item: the rows
    are full catalogue rows, which is what the sums over R need.

    y_true: [B, N] relevance: > K for O (larger = ranked higher), in (0, K] for T, 0 for R, < 0
    padding (the user's other training items). y_pred: [B, N] student scores.

    Example::

      loss = HetCompLoss(list_length=2, num_observed=1, phase="rank")
      # one observed item, two teacher-ranked items, two other items, one padded entry
      loss([[3.0, 2.0, 1.0, 0.0, 0.0, -1.0]], [[0.5, 1.0, 0.2, -0.3, 0.1, 9.0]])

    Args:
      list_length: K, the length of the teachers' list (labels (0, K]).
      num_observed: the most observed items per row (labels above K).
      phase: "overall" or "rank".
      reduction: Keras reduction of the per-row losses (AUTO = mean over rows).
      name: loss name.
    """

    labels_mark_padding = True

    def __init__(self, list_length, num_observed, phase="overall",
                 reduction=keras.losses.Reduction.AUTO, name="hetcomp"):
        super().__init__(reduction=reduction, name=name)
        self.list_length = check_number("list_length", list_length, minimum=1, integer=True)
        self.num_observed = check_number("num_observed", num_observed, minimum=1, integer=True)
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}.")
        self.phase = phase

    def compute_unreduced_loss(self, labels, logits, mask):
        if self.phase == "overall":
            return hetcomp_overall_loss(labels, logits, mask)
        return hetcomp_rank_loss(labels, logits, mask, self.list_length, self.num_observed)

    def get_config(self):
        return {**super().get_config(), "list_length": self.list_length,
                "num_observed": self.num_observed, "phase": self.phase}
