"""RCE-KD: cross-entropy KD restricted to item sets where it bounds NDCG, mixed adaptively."""

from kdtfrs._keras import keras, tf
from kdtfrs.losses._base import (
    DistillationLoss,
    check_non_negative,
    check_positive,
    check_positive_int,
)
from kdtfrs.losses._utils import masked_sum, sanitize, soft_cross_entropy


def _row_isin(ids, other_ids, other_mask):
    """[B, M] bool: ``ids[b, m]`` equals some real entry of ``other_ids[b]`` ([B, M'])."""
    matches = tf.equal(ids[:, :, None], other_ids[:, None, :]) & other_mask[:, None, :]
    return tf.reduce_any(matches, axis=-1)


def rce_kd_loss(labels, logits, mask, item_ids, num_top, num_closure, temperature=1.0, beta=3.0):
    """Per-row RCE-KD loss on the list ``[Q^S (K) | Q^T (K) | C (L)]``.

    ``L1(u) = CE(softmax(t_{Q^S}/τ), softmax(s_{Q^S}/τ))`` on the student's top-K, where the
    closure property holds; ``A_u = C_u ⊎ (Q^T_u \\ (C_u ∪ Q^S_u))`` (by item id);
    ``L2(u) = CE(softmax(t_A/τ), softmax(s_A/τ))``; ``γ_u = exp(-β·|Q^T_u ∩ C_u| / K_u)``
    (a constant, no gradient), K_u = number of real Q^T entries (K without padding);
    ``L(u) = (1 - γ_u)·L1(u) + γ_u·L2(u)``.

    Args:
      labels: float32 [B, 2K+L] teacher scores t.
      logits: float32 [B, 2K+L] student scores s.
      mask: bool [B, 2K+L], False at padding.
      item_ids: [B, 2K+L] item ids (any dtype with exact equality) used for the set logic.
      num_top: K, the size of Q^S and of Q^T.
      num_closure: L, the size of the closure set C.
      temperature: τ > 0 of both softmaxes.
      beta: β >= 0 of the adaptive weight γ.

    Returns:
      float32 [B].
    """
    width = logits.shape[-1]
    if width is not None and width != 2 * num_top + num_closure:
        raise ValueError(
            f"RCE-KD lists must hold 2*num_top + num_closure = {2 * num_top + num_closure} "
            f"items (num_top={num_top}, num_closure={num_closure}); received {width}."
        )
    labels = sanitize(labels, mask) / temperature
    logits = sanitize(logits, mask) / temperature
    k = num_top
    student_top, teacher_top, closure = slice(0, k), slice(k, 2 * k), slice(2 * k, None)

    first = soft_cross_entropy(labels[:, student_top], logits[:, student_top], mask[:, student_top])

    teacher_mask = mask[:, teacher_top]
    teacher_ids = item_ids[:, teacher_top]
    teacher_in_closure = _row_isin(teacher_ids, item_ids[:, closure], mask[:, closure])
    teacher_in_student_top = _row_isin(teacher_ids, item_ids[:, student_top], mask[:, student_top])
    rest_of_teacher_top = teacher_mask & ~teacher_in_closure & ~teacher_in_student_top
    second = soft_cross_entropy(
        tf.concat([labels[:, closure], labels[:, teacher_top]], axis=-1),
        tf.concat([logits[:, closure], logits[:, teacher_top]], axis=-1),
        tf.concat([mask[:, closure], rest_of_teacher_top], axis=-1),
    )

    overlap = tf.math.divide_no_nan(
        masked_sum(tf.ones_like(labels[:, teacher_top]), teacher_mask & teacher_in_closure),
        masked_sum(tf.ones_like(labels[:, teacher_top]), teacher_mask),
    )
    gamma = tf.stop_gradient(tf.exp(-beta * overlap))
    return (1.0 - gamma) * first + gamma * second


@keras.utils.register_keras_serializable(package="kdtfrs")
class RCEKD(DistillationLoss):
    """RCE-KD, Rejuvenating Cross-Entropy for KD (Zhu & Zhang, arXiv 2509.20989; KDs class
    ``MKD``), method id ``rce_kd``.

    CE on an item subset lower-bounds NDCG only when the subset holds the student's top items
    (closure). So the teacher's top-K Q^T is split: the part the student already ranks in its
    top-K Q^S is learned by CE on Q^S (L1); the rest is learned by CE on a set A made of a
    closure sample C of the student's top-mxK plus the teacher items in neither C nor Q^S
    (L2). The two are mixed by the overlap of Q^T and C:

    ``L1(u) = -Σ_{i∈Q^S} softmax(t/τ)_i log softmax(s/τ)_i``
    ``A_u = C_u ⊎ (Q^T_u \\ (C_u ∪ Q^S_u))``,
    ``L2(u) = -Σ_{i∈A} softmax(t_A/τ)_i log softmax(s_A/τ)_i``
    ``γ_u = exp(-β·|Q^T_u ∩ C_u|/K)``, ``L(u) = (1 - γ_u)·L1(u) + γ_u·L2(u)``

    y_pred: [B, 2K+L] student scores on the list ``[Q^S (K items) | Q^T (K items) | C (L
    items)]``. y_true: [B, 2K+L, 2]: ``[..., 0]`` teacher score, ``[..., 1]`` item id as
    float32 (exact for ids below 2^24 = 16,777,216; beyond that call :func:`rce_kd_loss` with
    integer ids). NaN in either channel = padding; with padding in Q^T, K in γ is the number
    of real Q^T entries.

    Example::

      loss = RCEKD(num_top=2, num_closure=1)
      scores = [[2.0, 1.0, 3.0, 1.0, 0.5]]           # teacher scores of [Q^S | Q^T | C]
      ids = [[10.0, 11.0, 12.0, 10.0, 13.0]]
      loss(tf.stack([scores, ids], axis=-1), [[0.3, 0.1, -0.2, 0.3, 0.0]])

    Args:
      num_top: K, size of Q^S and Q^T (KDs ``mkd_K``).
      num_closure: L, size of the closure set C (KDs ``mkd_L``).
      temperature: τ > 0 (KDs ``mkd_tau``, 1).
      beta: β >= 0 of γ (KDs ``mkd_beta``, 3 on CiteULike).
      reduction: Keras reduction of the per-row losses (AUTO = mean over rows).
      name: loss name.
    """

    def __init__(
        self,
        num_top,
        num_closure,
        temperature=1.0,
        beta=3.0,
        reduction=keras.losses.Reduction.AUTO,
        name="rce_kd",
    ):
        super().__init__(reduction=reduction, name=name)
        self.num_top = check_positive_int("num_top", num_top)
        self.num_closure = check_positive_int("num_closure", num_closure)
        self.temperature = check_positive("temperature", temperature)
        self.beta = check_non_negative("beta", beta)

    def check_shapes(self, labels, logits):
        if labels.shape[-1] not in (2, None) or not labels.shape[:-1].is_compatible_with(
            logits.shape
        ):
            raise ValueError(
                "RCEKD: y_true must be [B, 2K+L, 2] (teacher score, item id) for y_pred "
                f"[B, 2K+L]; received y_true {labels.shape} and y_pred {logits.shape}."
            )

    def compute_unreduced_loss(self, labels, logits, mask):
        entry_mask = tf.reduce_all(mask, axis=-1)
        return rce_kd_loss(
            labels[..., 0],
            logits,
            entry_mask,
            sanitize(labels[..., 1], entry_mask),
            self.num_top,
            self.num_closure,
            self.temperature,
            self.beta,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "num_top": self.num_top,
            "num_closure": self.num_closure,
            "temperature": self.temperature,
            "beta": self.beta,
        }
