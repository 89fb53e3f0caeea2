"""RCE-KD: cross-entropy KD restricted to item sets where it bounds NDCG, mixed adaptively."""

from kdtfrs._keras import keras, tf
from kdtfrs.losses._base import DistillationLoss
from kdtfrs.losses._utils import masked_sum, sanitize, soft_cross_entropy
from kdtfrs.validation import check_number


def rce_kd_loss(
    labels,
    logits,
    mask,
    second_term_mask,
    teacher_in_closure,
    num_top,
    num_closure,
    temperature=1.0,
    beta=3.0,
):
    """Per-row RCE-KD loss on the list ``[Q^S (K) | Q^T (K) | C (L)]``.

    ``L1(u) = CE(softmax(t_{Q^S}/τ), softmax(s_{Q^S}/τ))`` on the student's top-K, where the
    closure property holds; ``L2(u) = CE(softmax(t_A/τ), softmax(s_A/τ))`` on the entries of
    the C and Q^T segments flagged by ``second_term_mask`` (the set
    ``A_u = C_u ⊎ (Q^T_u \\ (C_u ∪ Q^S_u))``); ``γ_u = exp(-β·|Q^T_u ∩ C_u| / K_u)`` (a constant,
    no gradient), |Q^T_u ∩ C_u| the Q^T entries flagged by ``teacher_in_closure`` and K_u the
    number of real Q^T entries (K without padding); ``L(u) = (1 - γ_u)·L1(u) + γ_u·L2(u)``.

    The set logic (which Q^T items lie in C or in Q^S) is the caller's, who knows the item
    ids: the loss reads only the two masks.

    Args:
      labels: float32 [B, 2K+L] teacher scores t.
      logits: float32 [B, 2K+L] student scores s.
      mask: bool [B, 2K+L], False at padding.
      second_term_mask: bool [B, 2K+L], True at the entries of A (read on the Q^T and C
        segments; False on Q^S).
      teacher_in_closure: bool [B, 2K+L], True at the Q^T entries whose item is in C (read on
        the Q^T segment).
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
    mask = tf.cast(mask, tf.bool)
    second_term_mask = mask & tf.cast(second_term_mask, tf.bool)
    labels = sanitize(labels, mask) / temperature
    logits = sanitize(logits, mask) / temperature
    k = num_top
    student_top, teacher_top, closure = slice(0, k), slice(k, 2 * k), slice(2 * k, None)

    first = soft_cross_entropy(
        labels[:, student_top], logits[:, student_top], mask[:, student_top]
    )
    second = soft_cross_entropy(
        tf.concat([labels[:, closure], labels[:, teacher_top]], axis=-1),
        tf.concat([logits[:, closure], logits[:, teacher_top]], axis=-1),
        tf.concat([second_term_mask[:, closure], second_term_mask[:, teacher_top]], axis=-1),
    )

    teacher_mask = mask[:, teacher_top]
    in_closure = teacher_mask & tf.cast(teacher_in_closure, tf.bool)[:, teacher_top]
    overlap = tf.math.divide_no_nan(
        masked_sum(tf.ones_like(labels[:, teacher_top]), in_closure),
        masked_sum(tf.ones_like(labels[:, teacher_top]), teacher_mask),
    )
    gamma = tf.stop_gradient(tf.exp(-beta * overlap))
    return (1.0 - gamma) * first + gamma * second


@keras.utils.register_keras_serializable(package="kdtfrs")
class RCEKDLoss(DistillationLoss):
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
    items)]``. y_true: [B, 2K+L, 3], finite: ``[..., 0]`` teacher score; ``[..., 1]`` 1 where
    the entry belongs to A (on the Q^T and C segments; 0 on Q^S); ``[..., 2]`` 1 where a Q^T
    entry's item lies in C (0 elsewhere). The sampler that knows the item ids builds the two
    flags (``kdtfrs.tasks.RCEKD.targets``). Padding: ``mask=`` [B, 2K+L] (False = padded);
    with padding in Q^T, K in γ is the number of real Q^T entries.

    Example::

      loss = RCEKDLoss(num_top=2, num_closure=1)
      # items [Q^S: 10, 11 | Q^T: 12, 10 | C: 13]: 12 is in A (in neither C nor Q^S), 10 is not
      scores = [[2.0, 1.0, 3.0, 2.0, 0.5]]
      in_a = [[0.0, 0.0, 1.0, 0.0, 1.0]]
      in_closure = [[0.0, 0.0, 0.0, 0.0, 0.0]]
      loss(tf.stack([scores, in_a, in_closure], axis=-1), [[0.3, 0.1, -0.2, 0.3, 0.0]])

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
        self.num_top = check_number("num_top", num_top, minimum=1, integer=True)
        self.num_closure = check_number("num_closure", num_closure, minimum=1, integer=True)
        self.temperature = check_number("temperature", temperature, above=0)
        self.beta = check_number("beta", beta, minimum=0)

    def check_shapes(self, labels, logits):
        if labels.shape[-1] not in (3, None) or not labels.shape[:-1].is_compatible_with(
            logits.shape
        ):
            raise ValueError(
                "RCEKDLoss: y_true must be [B, 2K+L, 3] (teacher score, in A, Q^T item in C) "
                f"for y_pred [B, 2K+L]; received y_true {labels.shape} and y_pred "
                f"{logits.shape}."
            )

    def compute_unreduced_loss(self, labels, logits, mask):
        return rce_kd_loss(
            labels[..., 0],
            logits,
            mask,
            labels[..., 1] > 0,
            labels[..., 2] > 0,
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
