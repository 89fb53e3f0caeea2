"""HTD: hierarchical topology distillation (Kang et al., "Topology Distillation for Recommender
System", KDD 2021)."""

from __future__ import annotations

from kdtfrs import samplers
from kdtfrs._keras import tf
from kdtfrs.tasks.de import DE
from kdtfrs.tasks.topology import batch_entities, cosine_matrix, spread_over_rows
from kdtfrs.validation import check_number

CHOICES = ("second", "first")


def prototypes(vectors, groups, num_groups):
    """(prototypes float32 [G, d], present bool [G]): each group's mean vector in the batch.

    Groups with no member in the batch get a zero prototype and ``present = False``.
    """
    members = tf.one_hot(groups, num_groups, dtype=vectors.dtype)  # [N, G]
    counts = tf.reduce_sum(members, axis=0)
    sums = tf.matmul(members, vectors, transpose_a=True)
    return tf.math.divide_no_nan(sums, counts[:, None]), counts > 0


#: Rows per tile of ``same_group_errors``.
TILE = 256


def same_group_errors(teacher, student, groups, tile=TILE):
    """float32: ``Σ (cos_S(a,b) − cos_T(a,b))²`` over the ordered pairs of rows in the same
    group whose teacher cosine is positive (HTD's entity term for one side, users or items).

    Only same-group pairs count, so the N x N cosine matrices are never formed: the rows are
    sorted by group and cut into tiles of ``tile`` rows, and only the pairs of tiles that
    share a group are related (for G balanced groups about N²/G pairs instead of N²). Padding
    rows are zero: their cosines are 0 and never pass the positive-teacher-cosine mask. When
    the tile pairs would cover as many pairs as the N x N matrices (a gate that put most rows
    in one group), the plain masked N x N form runs instead, without copying tiles.

    Args:
      teacher, student: float32 [N, d_T], [N, d_S], the rows' vectors.
      groups: int32 [N], the rows' groups.
      tile: rows per tile.
    """
    count = tf.size(groups)
    tiles = (count + tile - 1) // tile
    order = tf.argsort(groups, stable=True)
    padding = tiles * tile - count

    def tiled(values, fill=0):  # [tiles, tile, ...]: the rows in group order, padded
        values = tf.gather(values, order)
        values = tf.pad(values, [[0, padding]] + [[0, 0]] * (values.shape.rank - 1),
                        constant_values=fill)
        return tf.reshape(values, tf.concat([[tiles, tile], tf.shape(values)[1:]], 0))

    # Padding rows take the largest group, so they widen no tile's range of groups.
    tile_groups = tiled(groups, fill=tf.reduce_max(groups))
    lowest, highest = tile_groups[:, 0], tile_groups[:, -1]
    sharing = (lowest[:, None] <= highest[None, :]) & (lowest[None, :] <= highest[:, None])
    left, right = tf.unstack(tf.cast(tf.where(sharing), tf.int32), axis=1)

    def by_tiles():
        teacher_tiles = tiled(tf.math.l2_normalize(teacher, axis=-1))
        student_tiles = tiled(tf.math.l2_normalize(student, axis=-1))

        def cosines(blocks):  # [tile pairs, tile, tile]
            return tf.matmul(tf.gather(blocks, left), tf.gather(blocks, right),
                             transpose_b=True)

        return masked_sum(cosines(teacher_tiles), cosines(student_tiles),
                          tf.equal(tf.gather(tile_groups, left)[:, :, None],
                                   tf.gather(tile_groups, right)[:, None, :]))

    def whole():
        return masked_sum(cosine_matrix(teacher, teacher), cosine_matrix(student, student),
                          tf.equal(groups[:, None], groups[None, :]))

    return tf.cond(tf.size(left) * tile * tile < count * count, by_tiles, whole)


def masked_sum(teacher_cosines, student_cosines, same_group):
    """``Σ (cos_S − cos_T)²`` over the entries of ``same_group`` with a positive teacher
    cosine."""
    errors = tf.square(student_cosines - teacher_cosines)
    return tf.reduce_sum(tf.where(same_group & (teacher_cosines > 0), errors, 0.0))


class HTD(DE):
    """Hierarchical topology distillation: relations within groups and to group prototypes.

    Entities ``E_B``: the batch's unique users, then its unique items (positives and negatives).
    As in DE (``kdtfrs.tasks.DE``, whose projectors, ``prepare`` and ``refresh`` HTD reuses),
    users and items each have an ``ExpertProjector`` of K_g = ``num_experts`` experts whose gate
    ``v`` reads the teacher's vector; the gate assigns the groups (item groups offset by K_g)
    and the experts regress the student onto the teacher:

    - groups, hard and gradient-free: ``z_a = argmax v(e^T_a)``;
    - ``L_GA = Σ_{a∈E_B} ||e^T_a − P(e^S_a)||²`` (DE's loss; ``P`` mixes the experts by the
      gate's Gumbel-softmax selection, so the gate learns only through this term);
    - ``L_entity = Σ_{a,b∈E_B: z_a=z_b, cos_T(a,b)>0} (cos_S(a,b) − cos_T(a,b))²``;
    - prototypes ``P^M_g = mean_{a∈E_B: z_a=g} e^M_a`` of the groups present in the batch,
      without gradient (as in the references) unless ``prototype_gradient``;
    - ``L_group``, choice "second" (P, e): ``Σ_{g,a} (cos(P^S_g, e^S_a) − cos(P^T_g, e^T_a))²``;
      choice "first" (P, P): ``Σ_{g,h} (cos(P^S_g, P^S_h) − cos(P^T_g, P^T_h))²``;

    ``L_HTD = α (L_entity + L_group) + (1 − α) L_GA``. SeongKu-Kang/Topology_Distillation_KDD21
    ``model.HTD`` and woriazzc/KDs ``HTD``.

    With gradient-free prototypes, "first" contributes no gradient at all (every term reads
    prototypes only), as in both references. ``prototype_gradient=True`` lets the student's
    prototypes carry the gradient of their members (the teacher's never do): then "first"
    trains the student and "second" also pulls through the prototypes. It is kdtfrs' option,
    not the papers'.

    The gate temperature anneals per epoch in ``refresh`` (DE's): ``annealed_temperature(epoch,
    max_epochs, end_temperature)``, 1.0 to 1e-10 (KDs anneals over its 1000 epochs, the TD
    repository over 100). Unlike DE, L_GA counts an item once even when it is both a positive
    and a negative, without DE's ½ (KDs ``HTD.get_loss``).

    Reduction: ``weight · L_HTD`` is a batch total spread evenly over the B rows (see
    ``topology.spread_over_rows``): the task's value is ``weight · L_HTD / B``, the references'
    summed loss divided by B, so ``weight`` is their λ unchanged. Under ``tf.distribute`` each
    replica groups and relates the unique entities of its own sub-batch only.

    Defaults are woriazzc/KDs citeulike/bpr (``htd_alpha 0.9, num_experts 30, choice second,
    lmbda 0.5``; KDs' yelp and lightgcn configs agree). The TD repository's notebook
    (CiteULike, BPR-200 teacher, batch 1024) uses ``λ_TD = 0.001, α = 0.5``.

    Args:
      weight: λ (default 0.5, KDs).
      alpha: α in [0, 1], the share of the topology terms (default 0.9, KDs).
      num_experts: K_g, groups (and experts) per side (default 30, KDs ``htd_num_experts``).
      choice: "second" (P, e; default) or "first" (P, P).
      prototype_gradient: let the student's prototypes carry gradient (default False).
      max_epochs: the epoch at which the gate temperature reaches ``end_temperature``
        (default 1000, KDs).
      end_temperature: the final gate temperature (default 1e-10).
      exclude_train: unused (no item lists); kept for the shared configuration.
      name: metric name; default "htd".
      expert_dtype: the experts' products, "float32" (default) or "bfloat16" (as ``DE``).
    """

    method_id = "htd"

    def __init__(self, weight: float = 0.5, alpha: float = 0.9, num_experts: int = 30,
                 choice: str = "second", prototype_gradient: bool = False,
                 max_epochs: int = 1000, end_temperature: float = 1e-10,
                 exclude_train: bool = True, name: str | None = None,
                 expert_dtype: str = "float32"):
        super().__init__(weight, num_experts, max_epochs, end_temperature, exclude_train, name,
                         expert_dtype)
        self.alpha = check_number("alpha", alpha, minimum=0.0)
        if self.alpha > 1.0:
            raise ValueError(f"`alpha` must be in [0, 1]; received alpha={alpha!r}.")
        if choice not in CHOICES:
            raise ValueError(f"`choice` must be one of {CHOICES}; received choice={choice!r}.")
        if not isinstance(prototype_gradient, bool):
            raise ValueError("`prototype_gradient` must be True or False; received "
                             f"prototype_gradient={prototype_gradient!r}.")
        self.choice = choice
        self.prototype_gradient = prototype_gradient

    def groups(self, teacher_users, teacher_items):
        """int32 [U_B + I_B]: hard groups ``argmax v(e^T)``; items offset by ``num_experts``."""
        user_groups = tf.argmax(self.user_projector.gate.probabilities(teacher_users), -1)
        item_groups = tf.argmax(self.item_projector.gate.probabilities(teacher_items), -1)
        return tf.cast(tf.concat([user_groups, item_groups + self.num_experts], 0), tf.int32)

    def terms(self, features, student, seed):
        """Dict of float32 scalars ``entity``, ``group``, ``assignment`` (L_GA): unweighted."""
        self._require_prepared()
        users, items = batch_entities(features)
        user_seed, item_seed = tf.unstack(samplers.split_seed(seed, 2))
        teacher_users, projected_users = self.project("users", users, student, user_seed)
        teacher_items, projected_items = self.project("items", items, student, item_seed)
        assignment = (tf.reduce_sum(tf.square(teacher_users - projected_users))
                      + tf.reduce_sum(tf.square(teacher_items - projected_items)))
        student_users, student_items = student.users(users), student.items(items)

        groups = tf.stop_gradient(self.groups(teacher_users, teacher_items))
        # Item groups are offset from the users': no user shares a group with an item, so
        # the entity term is the users' block plus the items', never the cross block.
        user_count = tf.shape(users)[0]
        entity = (same_group_errors(teacher_users, student_users, groups[:user_count])
                  + same_group_errors(teacher_items, student_items, groups[user_count:]))
        teacher = tf.concat([teacher_users, teacher_items], 0)
        student_vectors = tf.concat([student_users, student_items], 0)

        num_groups = 2 * self.num_experts
        teacher_prototypes, present = prototypes(teacher, groups, num_groups)
        student_prototypes, _ = prototypes(student_vectors, groups, num_groups)
        if not self.prototype_gradient:
            student_prototypes = tf.stop_gradient(student_prototypes)
        if self.choice == "second":
            errors = tf.square(cosine_matrix(student_prototypes, student_vectors)
                               - cosine_matrix(teacher_prototypes, teacher))
            kept = tf.broadcast_to(present[:, None], tf.shape(errors))
        else:
            errors = tf.square(cosine_matrix(student_prototypes, student_prototypes)
                               - cosine_matrix(teacher_prototypes, teacher_prototypes))
            kept = present[:, None] & present[None, :]
        group = tf.reduce_sum(tf.where(kept, errors, 0.0))
        return {"entity": entity, "group": group, "assignment": assignment}

    def batch_loss(self, features, student, seed):
        """float32 scalar: ``L_HTD = α (L_entity + L_group) + (1 − α) L_GA`` (unweighted)."""
        terms = self.terms(features, student, seed)
        return (self.alpha * (terms["entity"] + terms["group"])
                + (1.0 - self.alpha) * terms["assignment"])

    def per_row_loss(self, features, student, seed):
        return spread_over_rows(self.batch_loss(features, student, seed),
                                tf.shape(features["user"])[0])

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "choice": self.choice,
                "prototype_gradient": self.prototype_gradient}
