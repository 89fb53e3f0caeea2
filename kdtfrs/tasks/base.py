"""The shape every distillation task shares: a TFRS-style Keras layer that returns its loss.

A task is the piece a user places in ``compute_loss``, next to the student's own loss:

    loss = student_loss + task(features, Embeddings.of(student, training=True), seed)

``call`` returns the task's weighted scalar loss (averaged over the *global* batch rows, so it
sums correctly over replicas under ``tf.distribute``) and updates the task's metric
``<name>_loss``, which ``fit`` logs. A task may own trainable variables (projectors, experts,
gates): they are built in ``prepare`` and trained with the student by whatever model holds the
task (``kdtfrs.Distiller`` or the user's own ``tfrs.Model``).

Around ``call``, a task keeps three things apart:

1. teacher signals built once in ``prepare(signals, train, student)``: e.g. the teacher's
   top-mxK items per user, taken from ``kdtfrs.signals.TeacherSignals`` (which holds the
   teacher's embeddings as constants: the teacher model itself is never touched);
2. a seeded sampler that picks, for a batch, the items each row is distilled on and the
   teacher signal for them (``targets(features, seed) -> (items, y_true)``), and optional state
   that follows the student, refreshed once per epoch (``refresh(student, epoch)``, which calls
   the task's ``update_for_epoch``). Tasks whose targets read only the batch's users may draw
   them once per epoch and user instead of per step and row (``draw_every="epoch"``);
3. a loss from ``kdtfrs.losses`` on ``(y_true, student scores of items)``.

The student and the teacher are seen only as ``kdtfrs.embeddings.Embeddings`` (user and item
vectors scored by dot product), so any two-tower model can be a student.

Weights (lambda) multiply the per-row loss averaged over the global batch rows, next to a base
loss that is also averaged over rows: see docs/methods.md for converting the papers' values.
"""

from __future__ import annotations

import zlib

import numpy as np

from kdtfrs import ranking
from kdtfrs._keras import keras, tf
from kdtfrs.embeddings import Embeddings
from kdtfrs.replicas import global_mean, replica_count, replica_id
from kdtfrs.signals import allowed_length
from kdtfrs.tasks.unique_entities import sum_on_rows, unique_with_rows
from kdtfrs.validation import check_number

#: When a task's sampler draws: per step and row (kdtfrs' default), or once per epoch and user
#: (the reference code's way, ``DistillationTask.draw_every``).
DRAW_PERIODS = ("step", "epoch")
#: Users drawn at once by a per-epoch draw.
DRAW_BLOCK = 4096


def check_draw_every(draw_every: str) -> str:
    """``draw_every`` if it is one of ``DRAW_PERIODS``, else a ValueError saying why."""
    if draw_every not in DRAW_PERIODS:
        raise ValueError(f"`draw_every` must be one of {DRAW_PERIODS}; received "
                         f"draw_every={draw_every!r}.")
    return draw_every


def step_seed(step, seed=0, index=0):
    """The stateless sampling seed of one task at one training step, unique per replica.

    ``step`` is the optimizer's ``iterations``; ``index`` tells tasks of one model apart.
    Returns ``[seed * 1009 + index, step * R + r]`` on replica r of R: draws differ per step,
    task and replica (two replicas never draw the same noise for their rows), and repeat for
    the same ``seed`` and the same number of replicas. With one device it is
    ``[..., step]``: a 2-replica step draws other samples than one device would for the same
    global batch (each replica its own), from the same distribution (docs/distributed.md).
    """
    replica = tf.cast(replica_id(), tf.int64)
    replicas = tf.cast(replica_count(), tf.int64)
    step = tf.cast(step, tf.int64)
    return tf.stack([tf.constant(int(seed) * 1009 + int(index), tf.int64),
                     step * replicas + replica])


class DistillationTask(keras.layers.Layer):
    """Base class of the distillation tasks.

    Args:
      weight: lambda, the weight of this term next to the base loss (per row of the batch).
      exclude_train: mask the user's training items out of teacher (and student) lists.
      name: metric and logging name; defaults to the method id.
    """

    method_id = ""
    #: Whether the task keeps student-dependent state that ``refresh`` updates per epoch.
    needs_refresh = False
    #: A task's ``per_unique_user`` option (RRD, SLD, DCD, BlackD: list methods whose targets
    #: read only the batch's users): each unique user of the batch distilled once, its loss on
    #: its first row (0 on the others), as the reference code's sum over unique users:
    #: ``weight`` is then the reference's λ unchanged (docs/methods.md §4), and a step
    #: samples and scores |unique users| rows instead of B.
    per_unique_user = False
    #: A task's ``draw_every`` option (tasks whose targets read only the batch's users and a
    #: seed): "step" draws every row's items at every step; "epoch" draws each user's items
    #: and teacher signal once per epoch, in ``refresh`` (after ``update_for_epoch``), and every
    #: row of that user in the epoch reads them, as the reference code (woriazzc/KDs, DE-RRD)
    #: does. A step then gathers rows of the drawn tables instead of sampling, and the draw's
    #: cost is paid once per epoch for |U| users instead of once per step for B rows
    #: (docs/methods.md §3, "Sampling per batch").
    draw_every = "step"

    def __init__(self, weight: float, exclude_train: bool = True, name: str | None = None):
        super().__init__(name=name or self.method_id)
        self.weight = check_number("weight", weight, minimum=0.0)
        self.exclude_train = bool(exclude_train)
        self.teacher = None
        self.user_count = self.item_count = None
        self.epoch = tf.Variable(0, trainable=False, dtype=tf.int64, name="epoch")
        self.loss_tracker = keras.metrics.Mean(f"{self.name}_loss")
        self.draw_seed = zlib.crc32(self.name.encode())
        self.drawn_items = self.drawn_labels = None

    # -- once ---------------------------------------------------------------------------
    def prepare(self, signals, train, student=None) -> None:
        """Builds teacher signals from ``signals`` (a ``kdtfrs.signals.TeacherSignals``).

        ``student`` (an ``Embeddings`` or a kdtfrs backbone) gives the student's width to
        tasks that build projectors; ranking tasks ignore it.
        """
        del student
        self.teacher = signals.teacher
        self.user_count, self.item_count = train.num_users, train.num_items

    def prepare_draws(self) -> None:
        """With ``draw_every="epoch"``, makes the per-user tables and fills them with the
        draw of the current epoch, so the task works before its first ``refresh``. A task
        calls it at the end of its ``prepare``, once its signals exist."""
        if self.draw_every != "epoch":
            return
        items, labels = self.draw_all_users(int(self.epoch.numpy()))
        self.drawn_items = tf.Variable(items, trainable=False, name="drawn_items")
        self.drawn_labels = tf.Variable(labels, trainable=False, name="drawn_labels")

    def seed_draws(self, seed: int) -> None:
        """Sets the base of the per-epoch draws' seeds (``kdtfrs.Distiller`` passes its seed and
        the task's place, as for the per-step draws); default: a hash of the task's name."""
        self.draw_seed = int(seed)

    # -- per epoch ------------------------------------------------------------------------
    def refresh(self, student: Embeddings, epoch: int) -> None:
        """Starts ``epoch`` (0-based): records it, updates the state that follows the student
        (``update_for_epoch``), then, with ``draw_every="epoch"``, draws every user's targets."""
        self.epoch.assign(epoch)
        self.update_for_epoch(student, epoch)
        if self.draw_every == "epoch":
            items, labels = self.draw_all_users(epoch)
            self.drawn_items.assign(items)
            self.drawn_labels.assign(labels)

    def update_for_epoch(self, student: Embeddings, epoch: int) -> None:
        """Updates the task's per-epoch state for ``epoch``: what follows the student (tasks
        with ``needs_refresh``) or a schedule (DE's gate temperature). Nothing by default."""
        del student, epoch

    def draw_all_users(self, epoch: int):
        """(items, y_true) of every user, drawn for ``epoch``: ``targets`` on blocks of
        ``DRAW_BLOCK`` users, block b with the stateless seed ``[draw_seed, epoch · 2^20 + b]``
        (a user's draw depends on the epoch and its block, not on the batches)."""
        self._require_prepared()
        if not hasattr(self, "_draw_block"):
            self._draw_block = tf.function(self.targets, reduce_retracing=True)
        parts = []
        for block, start in enumerate(range(0, self.user_count, DRAW_BLOCK)):
            users = tf.range(start, min(start + DRAW_BLOCK, self.user_count), dtype=tf.int32)
            seed = tf.constant([self.draw_seed, epoch * 2**20 + block], tf.int64)
            parts.append(self._draw_block({"user": users}, seed))
        return tuple(tf.concat(list(part), axis=0) for part in zip(*parts))

    # -- per batch ------------------------------------------------------------------------
    def call(self, features, student, seed=None, training=False):
        """The weighted loss of the batch ``features`` (a ``bpr_triples`` dict), a scalar.

        Args:
          features: ``{"user": [B], "pos_item": [B], "neg_item": [B, n]}``.
          student: the student's ``Embeddings`` at this step (or a kdtfrs backbone).
          seed: stateless sampling seed int [2] (``step_seed``); None: fixed draws, the same
            at every step (``[crc32(name), r]`` on replica r: replicas still draw apart).
        """
        del training
        student = Embeddings.of(student, training=True)
        if seed is None:
            seed = tf.stack([tf.constant(zlib.crc32(self.name.encode()), tf.int64),
                             tf.cast(replica_id(), tf.int64)])
        loss = global_mean(self.weighted_loss(features, student, seed))
        self.loss_tracker.update_state(loss * replica_count())
        return loss

    def targets(self, features, seed):
        """(items int32 [B, N], y_true) for the rows of ``features``; see each task."""
        raise NotImplementedError

    def batch_targets(self, features, seed):
        """``targets`` of the batch: drawn now (``draw_every="step"``), or the rows of this
        epoch's draw for the batch's users (``"epoch"``; ``seed`` is then unused)."""
        if self.draw_every != "epoch":
            return self.targets(features, seed)
        if self.drawn_items is None:
            raise RuntimeError(f"{type(self).__name__} with draw_every='epoch' draws in "
                               "prepare_draws: its prepare must call it.")
        users = features["user"]
        return tf.gather(self.drawn_items, users), tf.gather(self.drawn_labels, users)

    def make_loss(self) -> keras.losses.Loss:
        """The Keras loss of this task, with reduction NONE (per-row values)."""
        raise NotImplementedError

    def per_row_loss(self, features, student, seed):
        """float32 [B]: the unweighted distillation loss of each row of the batch."""
        if self.per_unique_user:
            users, rows = unique_with_rows(features["user"])
            items, labels = self.batch_targets({"user": users}, seed)
            losses = self.loss(labels, student.score(users, items))
            return sum_on_rows(losses, rows, tf.shape(features["user"])[0])
        items, labels = self.batch_targets(features, seed)
        scores = student.score(features["user"], items)
        return self.loss(labels, scores)

    def weighted_loss(self, features, student, seed):
        """float32 [B]: ``weight * per_row_loss``; tasks with several terms override it."""
        return self.weight * self.per_row_loss(features, student, seed)

    @property
    def loss(self) -> keras.losses.Loss:
        if not hasattr(self, "_loss"):
            self._loss = self.make_loss()
        return self._loss

    def get_config(self) -> dict:
        """Hyperparameters, enough to rebuild the task with ``type(self)(**config)``."""
        config = {"weight": self.weight, "exclude_train": self.exclude_train, "name": self.name}
        if self.per_unique_user:  # left out when off: configs recorded before it stay equal
            config["per_unique_user"] = True
        if self.draw_every != "step":  # likewise
            config["draw_every"] = self.draw_every
        return config

    # -- helpers shared by the tasks --------------------------------------------------------
    def teacher_scores(self, users, items):
        """The teacher's scores [B, N] of per-batch items (scored at every step)."""
        return tf.stop_gradient(self.teacher.score(users, items))

    def teacher_list_scores(self, table) -> np.ndarray:
        """float32 [U, L]: the teacher's scores of a per-user item table, scored once.

        Tasks that sample from per-user lists gather these per batch
        (``samplers.lookup_positions``) rather than scoring ``B x N x teacher_dim`` at every step.
        """
        return ranking.list_scores(self.teacher, table)

    def _require_prepared(self):
        if self.teacher is None:
            raise RuntimeError(
                f"{type(self).__name__}.prepare(signals, train) must run before sampling; "
                "kdtfrs.Distiller and kdtfrs.distill.signal_dataset call it for you."
            )


def all_users_top_items(model, num_users, k, exclude, batch_size=2048):
    """int32 [num_users, k']: ``model``'s top items for every user (batched, masked).

    k' = ``signals.allowed_length(k, num_items, exclude)``: no list holds an excluded item.
    """
    users = np.arange(num_users, dtype=np.int32)
    k = allowed_length(k, model.num_items, exclude)
    items, _ = ranking.top_k_items(model, users, k, exclude, batch_size)
    return items


def check_list_length(name, value, length, what="the teacher's list"):
    """Raises ValueError unless ``value`` items fit in a ranked list of ``length`` entries."""
    if value > length:
        raise ValueError(
            f"{name} ({value}) exceeds the {length} entries of {what}: its length is cut to "
            "the catalogue minus the longest training row (see kdtfrs.signals.allowed_length); "
            f"lower {name}."
        )
