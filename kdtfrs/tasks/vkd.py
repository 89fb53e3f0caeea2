"""VkD: feature distillation through an orthogonal projector (Miles et al., CVPR 2024)."""

from __future__ import annotations

from kdtfrs import samplers
from kdtfrs._keras import tf
from kdtfrs.embeddings import Embeddings
from kdtfrs.layers.orthogonal_projector import OrthogonalProjector
from kdtfrs.tasks.base import DistillationTask

ENTITIES = ("random", "batch")


def mean_over_replicas(vectors):
    """float32 [d]: the mean of ``vectors`` [N, d] over the rows of every replica in sync.

    Under ``tf.distribute`` (replica context) the sums and counts are all-reduced, so the mean
    is that of the global batch; elsewhere it is the local mean. No gradient flows through it.
    """
    vectors = tf.stop_gradient(vectors)
    total = tf.reduce_sum(vectors, axis=0)
    count = tf.cast(tf.shape(vectors)[0], vectors.dtype)
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        total, count = context.all_reduce(tf.distribute.ReduceOp.SUM, [total, count])
    return total / count


class VkD(DistillationTask):
    """VkD: regress the orthogonally projected student onto the (centred) teacher.

    Loss of one entity a (a user, or an item with the item projector)::

        ℓ(a) = || t̃_a − s̃_a ||²,   t̃_a = norm(e^T_a − μ^T),   s̃_a = norm(e^S_a W)

    ``W`` is a ``kdtfrs.layers.OrthogonalProjector`` (d_S -> d_T, ``W Wᵀ = I`` for
    d_S <= d_T) that stays orthogonal through training; users and items have one projector
    each, built in ``prepare`` with the student's width. ``μ^T`` is the mean teacher vector of
    the step's entities (users and items apart; over all replicas under ``tf.distribute``) when
    ``center``, else 0. ``norm`` is L2 normalisation when ``normalize``, else the identity.
    From "VkD: Improving Knowledge Distillation using Orthogonal Projections" (Miles, Elezi,
    Deng, CVPR 2024) as woriazzc/KDs ports it (class ``VkD``).

    Per row b of the batch:

    - ``entities="random"`` (KDs): ``ℓ(u_b) + ℓ(i_b)`` for B users and B items drawn uniformly
      without replacement from the seed, not the batch's (``samplers.draws_without_replacement``,
      cyclic once B exceeds the users or items), one of each per row. KDs sums the 2B terms;
      the task's mean over the rows divides by B, so ``weight`` = KDs' λ unchanged.
    - ``entities="batch"``: ``ℓ(u_b) + ½(ℓ(i⁺_b) + mean_k ℓ(j_bk))`` on the row's own user,
      positive and negatives (DE's weighting); users repeat as rows do.

    Example::

        task = VkD(weight=5e-4)
        distiller = kdtfrs.Distiller(teacher, student, train, distillation=[task])

    Args:
      weight: λ; default 5e-4 from KDs (citeulike/bpr, with wd 1e-3).
      entities: "random" (default, KDs) or "batch".
      center: subtract the step's mean teacher vector (KDs default True).
      normalize: L2-normalise the projected student and the (centred) teacher (default False).
      exclude_train: unused (no item lists); kept for the shared configuration.
      name: metric name; default "vkd".
    """

    method_id = "vkd"

    def __init__(self, weight: float = 5e-4, entities: str = "random", center: bool = True,
                 normalize: bool = False, exclude_train: bool = True, name: str | None = None):
        super().__init__(weight, exclude_train, name)
        if entities not in ENTITIES:
            raise ValueError(f"`entities` must be one of {ENTITIES}; received "
                             f"entities={entities!r}.")
        for argument, value in (("center", center), ("normalize", normalize)):
            if not isinstance(value, bool):
                raise ValueError(f"`{argument}` must be True or False; received "
                                 f"{argument}={value!r}.")
        self.entities = entities
        self.center = center
        self.normalize = normalize
        self.user_projector = self.item_projector = None

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        if student is None:
            raise ValueError("VkD builds projectors of the student's width: pass the student "
                             "to prepare(signals, train, student) (kdtfrs.Distiller does).")
        student_dim = Embeddings.of(student).dim
        if self.user_projector is None or self.user_projector.input_dim != student_dim \
                or self.user_projector.output_dim != self.teacher.dim:
            self.user_projector = OrthogonalProjector(self.teacher.dim, name="user_projector")
            self.item_projector = OrthogonalProjector(self.teacher.dim, name="item_projector")
            self.user_projector.build([None, student_dim])
            self.item_projector.build([None, student_dim])

    def random_entities(self, features, seed):
        """(users int32 [B], items int32 [B]): the entities of ``entities="random"``."""
        self._require_prepared()
        rows = tf.shape(features["user"])[0]
        user_seed, item_seed = tf.unstack(samplers.split_seed(seed, 2))
        return (samplers.draws_without_replacement(rows, self.user_count, user_seed),
                samplers.draws_without_replacement(rows, self.item_count, item_seed))

    def squared_errors(self, teacher_vectors, student_vectors, projector):
        """float32 [N]: ``||t̃_a − s̃_a||²`` of N entities of one side (users or items)."""
        teacher_vectors = tf.stop_gradient(teacher_vectors)
        if self.center:
            teacher_vectors = teacher_vectors - mean_over_replicas(teacher_vectors)
        projected = projector(student_vectors)
        if self.normalize:
            teacher_vectors = tf.math.l2_normalize(teacher_vectors, axis=-1)
            projected = tf.math.l2_normalize(projected, axis=-1)
        return tf.reduce_sum(tf.square(teacher_vectors - projected), axis=-1)

    def per_row_loss(self, features, student, seed):
        self._require_prepared()
        if self.entities == "random":
            users, items = self.random_entities(features, seed)
        else:
            users = features["user"]
            items = tf.concat([features["pos_item"][:, None], features["neg_item"]], axis=1)
        user_errors = self.squared_errors(self.teacher.users(users), student.users(users),
                                          self.user_projector)
        flat_items = tf.reshape(items, [-1])
        item_errors = self.squared_errors(self.teacher.items(flat_items),
                                          student.items(flat_items), self.item_projector)
        if self.entities == "random":
            return user_errors + item_errors
        item_errors = tf.reshape(item_errors, tf.shape(items))
        return user_errors + 0.5 * (item_errors[:, 0] + tf.reduce_mean(item_errors[:, 1:], -1))

    def get_config(self):
        return {**super().get_config(), "entities": self.entities, "center": self.center,
                "normalize": self.normalize}
