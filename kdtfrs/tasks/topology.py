"""FTD: full topology distillation (Kang et al., "Topology Distillation for Recommender System",
KDD 2021), and the pieces HTD (``kdtfrs.tasks.htd``) shares with it.

Both transfer the *relations* among the batch's entities: the cosine similarities of every
pair of users and items in the teacher's space, which the student's space should reproduce.
"""

from __future__ import annotations

from kdtfrs._keras import tf
from kdtfrs.tasks.base import DistillationTask


def batch_entities(features):
    """(users int32 [U_B], items int32 [I_B]): the batch's unique users and unique items.

    Items are the positives and the negatives together, ``unique(I⁺ ∪ I⁻)``, as in the TD
    repository and woriazzc/KDs (``torch.cat([pos, neg]).unique()``); order of first appearance.
    """
    users = tf.unique(tf.reshape(features["user"], [-1])).y
    items = tf.concat([tf.reshape(features["pos_item"], [-1]),
                       tf.reshape(features["neg_item"], [-1])], axis=0)
    return users, tf.unique(items).y


def entity_vectors(embeddings, users, items):
    """float32 [U_B + I_B, d]: the users' vectors, then the items' (one set, as in TD)."""
    return tf.concat([embeddings.users(users), embeddings.items(items)], axis=0)


def cosine_matrix(left, right):
    """float32 [N, M]: ``cos(left_a, right_b)`` (L2 normalisation with TF's 1e-12 floor)."""
    return tf.matmul(tf.math.l2_normalize(left, axis=-1),
                     tf.math.l2_normalize(right, axis=-1), transpose_b=True)


def squared_gram_norm(left, right):
    """Scalar of the inputs' dtype: ``‖left rightᵀ‖²_F``, computed as ``‖leftᵀ right‖²_F``
    (the pairs of the N rows never formed: O(N d_left d_right) rather than O(N² d))."""
    return tf.reduce_sum(tf.square(tf.matmul(left, right, transpose_a=True)))


def spread_over_rows(total, rows):
    """float32 [rows]: ``total / rows`` on every row, so that a row mean gives ``total / B``.

    A batch-level (relational) loss has no per-row value; the global-batch mean of this vector
    (``kdtfrs.replicas.global_mean``) is ``total / B``, the KDs/TD sum divided by B like every
    other term.
    """
    return tf.fill(tf.reshape(rows, [1]), total / tf.cast(rows, total.dtype))


class FTD(DistillationTask):
    """Full topology distillation: the student reproduces all the batch's teacher cosines.

    With ``E_B`` the batch's unique users followed by its unique items (positives and
    negatives, one set as in the TD repository)::

        L_FTD = Σ_{a,b ∈ E_B} ( cos(e^T_a, e^T_b) − cos(e^S_a, e^S_b) )²

    over all ordered pairs (the diagonal adds 0). Kang, Hwang, Kweon, Yu, "Topology
    Distillation for Recommender System" (KDD 2021); SeongKu-Kang/Topology_Distillation_KDD21
    ``model.FTD``.

    With T and S the L2-normalised rows, the cosine matrices are TTᵀ and SSᵀ, and
    ``‖TTᵀ − SSᵀ‖²_F = ‖TᵀT‖²_F − 2‖TᵀS‖²_F + ‖SᵀS‖²_F`` (``‖XYᵀ‖²_F = trace(XᵀX YᵀY)``):
    computed so, a step costs O(|E_B| (d_T² + d_T d_S)) instead of the |E_B| x |E_B| matrices'
    O(|E_B|² (d_S + d_T)) (on Gowalla's batches of about 10,000 entities, d_T 300: ~35x fewer
    operations). The three terms are large and the loss their small difference (an untrained
    student's is about 0.3% of the first on CiteULike-t), so they are formed in float64, where
    the pairwise float32 form's rounding is the larger.

    Reduction: the loss is a batch total. ``weighted_loss`` spreads ``weight · L_FTD`` evenly
    over the B rows, so the task's value is ``weight · L_FTD / B``: the TD repository's summed
    ``L_BPR + λ·L_FTD`` divided by B, hence ``weight`` = its λ_TD unchanged (but, as there,
    the sum grows like |E_B|², so λ depends on the batch size).

    Under ``tf.distribute`` each replica relates only the entities of its own sub-batch: the
    summed replica losses are ``weight · Σ_r L_FTD(sub-batch r) / B_global``, without the pairs
    that straddle two replicas (the relations do not decompose over replicas).

    Args:
      weight: λ_TD; default 0.001, the TD repository notebook (CiteULike, BPR-200 teacher).
      exclude_train: unused (no item lists); kept for the shared configuration.
      name: metric name; default "ftd".
    """

    method_id = "ftd"

    def __init__(self, weight: float = 0.001, exclude_train: bool = True,
                 name: str | None = None):
        super().__init__(weight, exclude_train, name)

    def batch_loss(self, features, student):
        """float32 scalar: ``L_FTD`` of the batch (unweighted)."""
        self._require_prepared()
        users, items = batch_entities(features)
        teacher = tf.math.l2_normalize(
            tf.stop_gradient(entity_vectors(self.teacher, users, items)), axis=-1)
        student = tf.math.l2_normalize(entity_vectors(student, users, items), axis=-1)
        teacher, student = tf.cast(teacher, tf.float64), tf.cast(student, tf.float64)
        total = (squared_gram_norm(teacher, teacher) - 2.0 * squared_gram_norm(teacher, student)
                 + squared_gram_norm(student, student))
        return tf.cast(total, tf.float32)

    def per_row_loss(self, features, student, seed):
        del seed
        return spread_over_rows(self.batch_loss(features, student), tf.shape(features["user"])[0])
