"""The shape every ranking-distillation method shares.

A method is three things kept apart:

1. teacher signals built once (``prepare``), e.g. the teacher's top-mxK items per user;
2. a seeded sampler that, for a batch, picks the items each row is distilled on and the teacher
   signal for them (``targets(features, seed) -> (items, y_true)``), and optionally state that
   follows the student, refreshed once per epoch (``refresh``);
3. a Keras loss from ``kdtfrs.losses`` on ``(y_true, student scores of items)``.

Because ``targets`` only needs the batch and the teacher, the same method serves the
``kdtfrs.Distiller`` (targets drawn inside ``train_step``) and the plain Keras path
(``kdtfrs.distill.signal_dataset``: targets drawn in ``tf.data``, then ``student.fit``).

Weights (lambda) multiply the per-row loss averaged over the global batch rows, next to a BPR
loss that is also averaged over rows: see docs/methods.md for converting the papers' values.
"""

from __future__ import annotations

import numpy as np

from kdtfrs import ranking, samplers
from kdtfrs._keras import keras, tf
from kdtfrs.signals import allowed_length


class DistillationMethod(tf.Module):
    """Base class of the ranking-distillation methods.

    Args:
      weight: lambda, the weight of this term next to the base loss (per row of the batch).
      exclude_train: mask the user's training items out of teacher (and student) lists.
      name: metric and logging name; defaults to the method id.
    """

    method_id = ""
    #: Whether the method keeps student-dependent state that ``refresh`` updates per epoch.
    needs_refresh = False
    # The frozen teacher is used, not owned: left out of ``variables``/``trainable_variables``
    # (tf.Module ignores a Keras model's ``trainable=False``), so a Keras model holding this
    # method (the Distiller) does not list the teacher's tables among its trainable variables.
    _TF_MODULE_IGNORED_PROPERTIES = frozenset({"teacher"}).union(
        tf.Module._TF_MODULE_IGNORED_PROPERTIES)

    def __init__(self, weight: float, exclude_train: bool = True, name: str | None = None):
        super().__init__(name=name or self.method_id)
        check_positive("weight", weight, allow_zero=True)
        self.weight = float(weight)
        self.exclude_train = bool(exclude_train)
        self.teacher = None
        self.user_count = self.item_count = None
        self.epoch = tf.Variable(0, trainable=False, dtype=tf.int64, name="epoch")

    # -- once ---------------------------------------------------------------------------
    def prepare(self, signals, train) -> None:
        """Builds teacher signals from ``signals`` (a ``kdtfrs.signals.TeacherSignals``)."""
        self.teacher = signals.teacher
        self.user_count, self.item_count = train.num_users, train.num_items

    # -- per epoch ------------------------------------------------------------------------
    def refresh(self, student, epoch: int) -> None:
        """Updates student-dependent state at the start of ``epoch`` (0-based)."""
        self.epoch.assign(epoch)

    # -- per batch ------------------------------------------------------------------------
    def targets(self, features, seed):
        """(items int32 [B, N], y_true) for the rows of ``features``; see each method."""
        raise NotImplementedError

    def make_loss(self) -> keras.losses.Loss:
        """The Keras loss of this method, with reduction NONE (per-row values)."""
        raise NotImplementedError

    def per_row_loss(self, features, student, seed):
        """float32 [B]: the unweighted distillation loss of each row of the batch."""
        items, labels = self.targets(features, seed)
        scores = student.score(features["user"], items)
        return self.loss(labels, scores)

    def weighted_loss(self, features, student, seed):
        """float32 [B]: ``weight * per_row_loss``; methods with several terms override it."""
        return self.weight * self.per_row_loss(features, student, seed)

    @property
    def loss(self) -> keras.losses.Loss:
        if not hasattr(self, "_loss"):
            self._loss = self.make_loss()
        return self._loss

    def get_config(self) -> dict:
        """Hyperparameters, enough to rebuild the method with ``type(self)(**config)``."""
        return {"weight": self.weight, "exclude_train": self.exclude_train, "name": self.name}

    # -- helpers shared by the methods -----------------------------------------------------
    def teacher_scores(self, users, items):
        """The teacher's scores [B, N] of per-batch items (scored at every step)."""
        return tf.stop_gradient(self.teacher.score(users, items))

    def teacher_list_scores(self, table) -> np.ndarray:
        """float32 [U, L]: the teacher's scores of a per-user item table, scored once.

        Methods that sample from per-user lists gather these per batch (``gather_rows``)
        rather than scoring ``B x N x teacher_dim`` at every step.
        """
        return ranking.list_scores(self.teacher, table)

    def _require_prepared(self):
        if self.teacher is None:
            raise RuntimeError(
                f"{type(self).__name__}.prepare(signals, train) must run before sampling; "
                "kdtfrs.Distiller and kdtfrs.distill.signal_dataset call it for you."
            )


def gather_rows(table, users, positions):
    """``table[users[b], positions[b, n]]`` for a [U, M] table: int32 [B, N]."""
    rows = tf.gather(table, users)
    return tf.gather(rows, positions, batch_dims=1)


def rank_aware_from_list(ranked, users, num_samples, temperature, seed):
    """Samples ``num_samples`` items of each user's ranked list with p(r) ~ exp(-(r+1)/T).

    Returns (items int32 [B, n] in list order, relevance float32 [B, n] = M - r > 0,
    positions int32 [B, n] in the list).
    """
    list_length = int(ranked.shape[1])
    batch = tf.shape(users)[0]
    positions = samplers.rank_aware_positions(batch, list_length, num_samples, temperature, seed)
    items = gather_rows(ranked, users, positions)
    relevance = tf.cast(list_length - positions, tf.float32)
    return items, relevance, positions


def check_positive(name, value, allow_zero=False, integer=False):
    """Raises ValueError naming ``name`` unless ``value`` is a positive (or >= 0) number."""
    kind = int if integer else (int, float)
    ok = isinstance(value, kind) and not isinstance(value, bool)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        what = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {what} {bound}, got {value!r}.")


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
