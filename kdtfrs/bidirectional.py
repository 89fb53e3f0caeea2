"""Bidirectional Distillation: a teacher and a student that learn from each other.

    bd = kdtfrs.BidirectionalDistiller(teacher, student, split.train, warmup_epochs=5)
    bd.compile(optimizer=keras.optimizers.Adam(1e-3))        # the teacher gets a copy
    bd.fit(kdtfrs.data.bpr_triples(split.train, 2048), epochs=50)
    bd.teacher, bd.student                                     # both trained

Kweon, Kang & Yu, "Bidirectional Distillation for Top-K Recommender System", WWW 2021. Both
models train at every step, each with its own base loss (BPR), its own optimizer, and a binary
cross-entropy toward the other's softened prediction on items drawn by rank-discrepancy-aware
sampling (``kdtfrs.rank_discrepancy``). For a batch row (u, i, j) and the items j_T, j_S drawn
for it:

    L_T = ℓ_BPR^T(u, i, j) + λ_T · BCE(t_{u j_T}, σ(s_{u j_T} / τ_S))
    L_S = ℓ_BPR^S(u, i, j) + λ_S · BCE(s_{u j_S}, σ(t_{u j_S} / τ_T))

with the targets under stop-gradient (``kdtfrs.losses.pointwise_bce_loss``). The teacher steps
first, then the student, whose targets come from the updated teacher (the reference order).
Each term is a mean over the global batch rows, as everywhere in kdtfrs, so λ is the
reference's value (it sums both terms over the rows).

Schedule: during ``warmup_epochs`` each model trains alone (no cross terms); from then on the
sampling pools are redrawn from both models' full rankings every ``refresh_every`` epochs, at
the start of the epoch (``BidirectionalRefresh``, logged as ``refresh_seconds``).

Resuming: the pools, the epoch counter and the teacher's optimizer are tracked by this model,
so ``tf.train.Checkpoint(model=..., optimizer=...)`` (``kdtfrs.resumable``) saves and restores
both models, both optimizers and the sampling state; a killed run resumes both from the same
epoch (``kdtfrs.fitting.fit_model`` with ``checkpoint_dir``).
"""

from __future__ import annotations

import time

import tensorflow_recommenders as tfrs

from kdtfrs import samplers
from kdtfrs._keras import keras, tf
from kdtfrs.embeddings import Embeddings
from kdtfrs.losses import pointwise_bce_loss
from kdtfrs.rank_discrepancy import DIRECTIONS, rank_discrepancy_pools
from kdtfrs.replicas import global_mean, replica_count
from kdtfrs.tasks.base import step_seed
from kdtfrs.validation import check_number


class BidirectionalDistiller(tfrs.models.Model):
    """A teacher and a student trained together, each distilling into the other (module docstring).

    Args:
      teacher: a ``kdtfrs.models.Recommender`` (usually trained already: the paper warms both
        models up alone first); it is trained in place.
      student: a ``kdtfrs.models.Recommender`` with the same users and items; the served model.
      train: the training ``InteractionMatrix`` (never sampled, left out of the ranks).
      teacher_weight: λ_T, weight of the teacher's BCE toward the student (paper 0.5).
      student_weight: λ_S, weight of the student's BCE toward the teacher (paper 0.5).
      teacher_temperature: τ_T, the student's targets are σ(t / τ_T) (paper 5).
      student_temperature: τ_S, the teacher's targets are σ(s / τ_S) (paper 5).
      teacher_rank_scale: ε_T of the teacher's draws, w = exp(ε_T · gap) (paper 1e-4).
      student_rank_scale: ε_S of the student's draws, w = tanh(max(ε_S · gap, 0)) (paper 1e-2).
      num_items: items drawn per row for each model (the reference's neg_KD, 1).
      pool_size: items pooled per user and model at each refresh; rows draw from the pool.
      refresh_every: epochs between two refreshes of the ranks (paper 10).
      warmup_epochs: epochs of each model alone before the bidirectional ones.
      rank_direction: "paper" (default) or "notebook", the reference notebook's reversed
        direction (``kdtfrs.rank_discrepancy``).
      seed: seed of every draw (pools and per-row picks).
    """

    def __init__(self, teacher, student, train, teacher_weight=0.5, student_weight=0.5,
                 teacher_temperature=5.0, student_temperature=5.0, teacher_rank_scale=1e-4,
                 student_rank_scale=1e-2, num_items=1, pool_size=256, refresh_every=10,
                 warmup_epochs=0, rank_direction="paper", seed=0, **kwargs):
        super().__init__(**kwargs)
        shapes = {"teacher": (teacher.num_users, teacher.num_items),
                  "student": (student.num_users, student.num_items),
                  "train": (train.num_users, train.num_items)}
        if len(set(shapes.values())) != 1:
            raise ValueError(f"teacher, student and training data must have the same (users, "
                             f"items), got {shapes}. Build both models on the same split.")
        if getattr(teacher, "frozen", False) or getattr(student, "frozen", False):
            raise ValueError("BidirectionalDistiller trains both models, but one was frozen "
                             "(Recommender.freeze()): pass models that are not frozen.")
        if rank_direction not in DIRECTIONS:
            raise ValueError(f"rank_direction must be one of {DIRECTIONS}, got "
                             f"{rank_direction!r}.")
        self.teacher_weight = check_number("teacher_weight", teacher_weight, minimum=0.0)
        self.student_weight = check_number("student_weight", student_weight, minimum=0.0)
        self.teacher_temperature = check_number("teacher_temperature", teacher_temperature,
                                                above=0.0)
        self.student_temperature = check_number("student_temperature", student_temperature,
                                                above=0.0)
        self.teacher_rank_scale = check_number("teacher_rank_scale", teacher_rank_scale,
                                               above=0.0)
        self.student_rank_scale = check_number("student_rank_scale", student_rank_scale,
                                               above=0.0)
        self.num_items = check_number("num_items", num_items, minimum=1, integer=True)
        self.pool_size = check_number("pool_size", pool_size, minimum=1, integer=True)
        self.refresh_every = check_number("refresh_every", refresh_every, minimum=1,
                                          integer=True)
        self.warmup_epochs = check_number("warmup_epochs", warmup_epochs, minimum=0,
                                          integer=True)
        self.rank_direction = rank_direction
        self.seed = check_number("seed", seed, minimum=0, integer=True)
        self.teacher = teacher
        self.student = student
        self.train = train
        self.teacher_optimizer = None
        pool_shape = (train.num_users, self.pool_size)
        self.teacher_pool = tf.Variable(tf.zeros(pool_shape, tf.int32), trainable=False,
                                        name="teacher_pool")
        self.student_pool = tf.Variable(tf.zeros(pool_shape, tf.int32), trainable=False,
                                        name="student_pool")
        self.epoch = tf.Variable(0, trainable=False, dtype=tf.int64, name="epoch")
        names = ("loss", "teacher_base_loss", "student_base_loss", "teacher_bd_loss",
                 "student_bd_loss")
        self._trackers = {name: keras.metrics.Mean(name) for name in names}

    # -- Keras ------------------------------------------------------------------------------
    def compile(self, optimizer="adam", teacher_optimizer=None, **kwargs):
        """``optimizer`` trains the student; ``teacher_optimizer`` (default: a fresh optimizer
        of the same class and configuration) trains the teacher. Both are built here, on
        their own model's variables."""
        super().compile(optimizer=optimizer, **kwargs)
        if teacher_optimizer is None:
            teacher_optimizer = type(self.optimizer).from_config(self.optimizer.get_config())
        self.teacher_optimizer = keras.optimizers.get(teacher_optimizer)
        self.optimizer.build(self.student.trainable_variables)
        self.teacher_optimizer.build(self.teacher.trainable_variables)

    @property
    def metrics(self):
        return list(self._trackers.values())

    def call(self, inputs, training=False):
        return self.student(inputs, training=training)

    def get_config(self) -> dict:
        """The hyperparameters: ``BidirectionalDistiller(teacher, student, train, **config)``."""
        return {"teacher_weight": self.teacher_weight, "student_weight": self.student_weight,
                "teacher_temperature": self.teacher_temperature,
                "student_temperature": self.student_temperature,
                "teacher_rank_scale": self.teacher_rank_scale,
                "student_rank_scale": self.student_rank_scale, "num_items": self.num_items,
                "pool_size": self.pool_size, "refresh_every": self.refresh_every,
                "warmup_epochs": self.warmup_epochs, "rank_direction": self.rank_direction,
                "seed": self.seed}

    # -- training ---------------------------------------------------------------------------
    def train_step(self, data):
        features, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if self.teacher_optimizer is None:
            raise RuntimeError("BidirectionalDistiller.compile(optimizer=...) must run before "
                               "fit: it builds the student's and the teacher's optimizers.")
        users = features["user"]
        step = self.optimizer.iterations
        bidirectional = tf.cast(self.epoch >= self.warmup_epochs, tf.float32)
        teacher_items = samplers.draw_from_pools(self.teacher_pool, users, self.num_items,
                                        step_seed(step, self.seed, 0))
        student_items = samplers.draw_from_pools(self.student_pool, users, self.num_items,
                                        step_seed(step, self.seed, 1))
        teacher_base, teacher_bd = self._learn(
            self.teacher, self.teacher_optimizer, self.student, features, teacher_items,
            self.student_temperature, bidirectional * self.teacher_weight)
        student_base, student_bd = self._learn(
            self.student, self.optimizer, self.teacher, features, student_items,
            self.teacher_temperature, bidirectional * self.student_weight)
        values = {"teacher_base_loss": teacher_base, "student_base_loss": student_base,
                  "teacher_bd_loss": teacher_bd, "student_bd_loss": student_bd,
                  "loss": teacher_base + teacher_bd + student_base + student_bd}
        for name, value in values.items():
            self._trackers[name].update_state(value * replica_count())
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def _learn(self, learner, optimizer, guide, features, items, guide_temperature, weight):
        """One optimizer step of ``learner`` on its base loss plus ``weight`` x its BCE toward
        ``guide`` on ``items``; returns (base loss, weighted BCE term), replica-averaged."""
        users = features["user"]
        # the guide's scores need no gradient: a plain gather, without gathered_scores' work
        guide_view = Embeddings.from_tables(*guide.embeddings(), product_gradient=False)
        targets = tf.stop_gradient(guide_view.score(users, items))
        variables = learner.trainable_variables
        with tf.GradientTape() as tape:
            tables = learner.embeddings(training=True)
            base = learner.compute_loss(features, training=True, embeddings=tables)
            scores = Embeddings.from_tables(*tables).score(users, items)
            per_row = pointwise_bce_loss(targets, scores, tf.ones_like(scores, tf.bool),
                                         guide_temperature)
            term = weight * global_mean(per_row)
            loss = base + term
            if learner.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(learner.losses))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return base, term

    # -- refresh ----------------------------------------------------------------------------
    def refresh_due(self, epoch: int) -> bool:
        """Whether the pools are redrawn at the start of ``epoch`` (0-based); never when both
        weights are 0 (each model then trains alone: the control of an experiment)."""
        since = epoch - self.warmup_epochs
        return (since >= 0 and since % self.refresh_every == 0
                and self.teacher_weight + self.student_weight > 0)

    def refresh(self, epoch: int) -> None:
        """Sets the epoch counter; redraws both pools when ``refresh_due(epoch)``."""
        self.epoch.assign(epoch)
        if not self.refresh_due(epoch):
            return
        teacher_pool, student_pool = rank_discrepancy_pools(
            self.teacher, self.student, self.train, self.pool_size, self.teacher_rank_scale,
            self.student_rank_scale, self.rank_direction, seed=(self.seed, epoch))
        self.teacher_pool.assign(teacher_pool)
        self.student_pool.assign(student_pool)

    def refresh_callback(self) -> "BidirectionalRefresh":
        return BidirectionalRefresh(self)

    def fit(self, *args, callbacks=None, **kwargs):
        """``keras.Model.fit`` with the per-epoch refresh prepended to ``callbacks``."""
        callbacks = list(callbacks or [])
        if not any(isinstance(callback, BidirectionalRefresh) for callback in callbacks):
            callbacks.insert(0, self.refresh_callback())
        return super().fit(*args, callbacks=callbacks, **kwargs)


class BidirectionalRefresh(keras.callbacks.Callback):
    """Calls ``BidirectionalDistiller.refresh(epoch)`` at every epoch start and logs the seconds
    it took as ``refresh_seconds`` (0 on the epochs without a refresh)."""

    def __init__(self, distiller: BidirectionalDistiller):
        super().__init__()
        self.distiller = distiller
        self._seconds = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        start = time.perf_counter()
        self.distiller.refresh(epoch)
        self._seconds = time.perf_counter() - start

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["refresh_seconds"] = self._seconds


__all__ = ["BidirectionalDistiller", "BidirectionalRefresh"]
