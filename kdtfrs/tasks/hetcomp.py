"""HetComp: distillation from heterogeneous teachers along their trajectories (WWW 2023)."""

from __future__ import annotations

import numpy as np

from kdtfrs._keras import tf
from kdtfrs.hetcomp import TrajectoryKnowledge, advance_checkpoints
from kdtfrs.losses import hetcomp_overall_from_parts, hetcomp_rank_from_parts
from kdtfrs.tasks.base import DistillationTask, all_users_top_items
from kdtfrs.tasks.unique_entities import sum_on_rows, unique_with_rows
from kdtfrs.validation import check_number

_NEGLIGIBLE = 100.0  # nats below a row's lowest score: the excluded items' place in R's sum


class HetComp(DistillationTask):
    """The student learns each user's ensemble ranking of several teachers' checkpoints, moved
    from early to final checkpoints as it catches up (``kdtfrs.hetcomp``).

    Per unique user u of the batch (the reference sums over the batch's users), with O_u the
    user's observed items ordered by the final teachers, T_u the ensemble top-K of the
    teachers at the user's current checkpoints and R_u every other unobserved item, on the
    student's scores of the whole catalogue (``kdtfrs.losses.HetCompLoss``):

    - while some user has not reached every teacher's final checkpoint:
      ``overall_weight · L_overall(u)``, every item of O_u ∪ T_u above R_u;
    - then ``L_rank(u)``: the Plackett–Luce orders of O_u and of the heads of T_u.

    ``refresh`` runs dynamic knowledge construction every ``dkc_every`` epochs from epoch
    ``dkc_every`` on (the student's top-K by batched top-k; the rule of
    ``kdtfrs.hetcomp.advance_checkpoints``), then rebuilds T_u. The curriculum state (each
    user's checkpoint per teacher, the distances, the lists, the phase) is held in variables,
    so a checkpointed run resumes with it.

    The knowledge is built once, outside the task (``TrajectoryKnowledge.from_directories``):
    the task's config holds only its hyperparameters.

    Args:
      knowledge: a ``kdtfrs.hetcomp.TrajectoryKnowledge``.
      weight: λ, the weight next to the student's base loss (KDs citeulike 0.005; each user's
        term sits on one batch row, so λ is the reference's sum-over-users weight).
      overall_weight: the factor of the overall phase (KDs 2).
      dkc_every: p, the epochs between two DKC steps (10).
      alpha: α of the advance threshold α · decay^⌊epoch/p⌋ (1.05).
      decay: its decay (0.995).
      name: metric and logging name.

    Cost: each step scores the batch's unique users against the whole catalogue and sums over
    it (``O(|U_B| · |I| · d_S)``); each DKC step ranks every user once. Under
    ``tf.distribute`` each replica sums over its own unique users (a user split across
    replicas counts once per replica).
    """

    method_id = "hetcomp"
    needs_refresh = True

    def __init__(self, knowledge: TrajectoryKnowledge | None = None, weight=0.005,
                 overall_weight=2.0, dkc_every=10, alpha=1.05, decay=0.995, name=None):
        super().__init__(weight, exclude_train=True, name=name)
        self.knowledge = knowledge
        self.overall_weight = check_number("overall_weight", overall_weight, minimum=0.0)
        self.dkc_every = check_number("dkc_every", dkc_every, minimum=1, integer=True)
        self.alpha = check_number("alpha", alpha, above=0.0)
        self.decay = check_number("decay", decay, above=0.0)

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        knowledge = self.knowledge
        if knowledge is None:
            raise ValueError("HetComp needs its knowledge: HetComp(knowledge=kdtfrs.hetcomp."
                             "TrajectoryKnowledge.from_directories(teacher_dirs, train)).")
        if knowledge.lists.shape[2] != train.num_users:
            raise ValueError(f"the knowledge covers {knowledge.lists.shape[2]} users, the "
                             f"training data {train.num_users}: build it on the same split.")
        self.train = train
        self.train_rows = tf.RaggedTensor.from_row_splits(
            tf.constant(train.indices, tf.int32), tf.constant(train.indptr, tf.int64))
        self.observed = tf.constant(knowledge.observed)
        users, teachers = train.num_users, knowledge.num_teachers
        start = np.zeros((users, teachers), np.int32)
        final = knowledge.num_checkpoints == 1
        self.checkpoint_index = tf.Variable(start, trainable=False, name="checkpoint_index")
        self.last_distance = tf.Variable(tf.zeros((users, teachers)), trainable=False,
                                         name="last_distance")
        self.dkc_started = tf.Variable(False, trainable=False, name="dkc_started")
        self.final_phase = tf.Variable(final, trainable=False, name="final_phase")
        self.listed = tf.Variable(knowledge.ensemble(start, train.num_items), trainable=False,
                                  name="listed")

    # -- per epoch --------------------------------------------------------------------------
    def dkc_due(self, epoch: int) -> bool:
        """Whether dynamic knowledge construction runs at the start of ``epoch``."""
        return (epoch >= self.dkc_every and epoch % self.dkc_every == 0
                and not bool(self.final_phase.numpy()))

    def update_for_epoch(self, student, epoch):
        if not self.dkc_due(epoch):
            return
        knowledge = self.knowledge
        student_lists = all_users_top_items(student, self.train.num_users,
                                            knowledge.list_length, self.train)
        index, distance = advance_checkpoints(
            knowledge.lists, self.checkpoint_index.numpy(), self.last_distance.numpy(),
            student_lists, epoch, self.dkc_every, self.alpha, self.decay,
            first=not bool(self.dkc_started.numpy()))
        self.checkpoint_index.assign(index.astype(np.int32))
        self.last_distance.assign(distance.astype(np.float32))
        self.dkc_started.assign(True)
        self.final_phase.assign(bool((index == knowledge.num_checkpoints - 1).all()))
        self.listed.assign(knowledge.ensemble(index, self.train.num_items))

    # -- per batch ---------------------------------------------------------------------------
    def weighted_loss(self, features, student, seed):
        del seed
        self._require_prepared()
        users = features["user"]
        unique, rows = unique_with_rows(users)
        scores = student.score_all(unique)
        listed, observed = tf.gather(self.listed, unique), tf.gather(self.observed, unique)
        listed_valid, observed_valid = listed >= 0, observed >= 0
        listed_scores = tf.gather(scores, tf.maximum(listed, 0), batch_dims=1)
        observed_scores = tf.gather(scores, tf.maximum(observed, 0), batch_dims=1)
        rest_sum = self.rest_logsumexp(unique, scores, listed, listed_valid)
        every_row = tf.ones_like(rest_sum, tf.bool)
        per_user = tf.cond(
            self.final_phase,
            lambda: hetcomp_rank_from_parts(observed_scores, observed_valid, listed_scores,
                                            listed_valid, rest_sum, every_row,
                                            self.knowledge.list_length),
            lambda: self.overall_weight * hetcomp_overall_from_parts(
                tf.concat([observed_scores, listed_scores], axis=1),
                tf.concat([observed_valid, listed_valid], axis=1), rest_sum, every_row))
        return self.weight * sum_on_rows(per_user, rows, tf.shape(users)[0])

    def rest_logsumexp(self, users, scores, listed, listed_valid):
        """float32 [n]: log Σ e^s over each user's rest R, the items neither trained on nor
        listed: the users' full score rows with those items set far below the row's minimum
        (their weight e^-100 is nothing at float precision; no −∞, so no NaN gradient)."""
        train = tf.gather(self.train_rows, users)
        listed_rows = tf.broadcast_to(tf.range(tf.shape(listed)[0])[:, None], tf.shape(listed))
        excluded = tf.concat([
            tf.stack([tf.cast(train.value_rowids(), tf.int32), train.flat_values], axis=1),
            tf.stack([listed_rows[listed_valid], listed[listed_valid]], axis=1)], axis=0)
        floor = tf.stop_gradient(tf.reduce_min(scores, axis=1)) - _NEGLIGIBLE
        rest = tf.tensor_scatter_nd_update(scores, excluded, tf.gather(floor, excluded[:, 0]))
        return tf.reduce_logsumexp(rest, axis=1)

    def get_config(self):
        return {"weight": self.weight, "overall_weight": self.overall_weight,
                "dkc_every": self.dkc_every, "alpha": self.alpha, "decay": self.decay,
                "name": self.name}


__all__ = ["HetComp"]
