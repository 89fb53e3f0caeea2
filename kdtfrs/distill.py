"""The Distiller: trains a student with a frozen teacher's knowledge through ``model.fit``.

    distiller = kdtfrs.Distiller(teacher, student, train,
                                 distillation=[kdtfrs.tasks.RRD(weight=0.1)])
    distiller.compile(optimizer=tf.keras.optimizers.Adam(1e-3))
    distiller.fit(kdtfrs.data.bpr_triples(train, 2048), epochs=10)
    distiller.student  # the trained student alone

It is a TFRS model: ``compute_loss`` returns the student's base loss (BPR) plus the sum of
its tasks (``kdtfrs.tasks``), each averaged over the global batch rows
(``kdtfrs.replicas.global_mean``), so it trains the same under ``tf.distribute``: build it and
compile it inside ``strategy.scope()`` (docs/distributed.md). The student's
embeddings are computed once per step and shared by the base loss and every task (a LightGCN
student propagates once per step). The teacher is read once, as constant embeddings
(``kdtfrs.signals.TeacherSignals``): the teacher model is left exactly as the caller passed it,
and only the student and the tasks' own variables (projectors, experts) learn.
"""

from __future__ import annotations

import time

import tensorflow_recommenders as tfrs

from kdtfrs._keras import keras, tf
from kdtfrs.embeddings import Embeddings
from kdtfrs.replicas import global_step_logs, replica_count
from kdtfrs.signals import TeacherSignals
from kdtfrs.tasks import DistillationTask
from kdtfrs.tasks.base import step_seed


class RefreshCallback(keras.callbacks.Callback):
    """Refreshes each task's student-dependent state at the start of every epoch.

    The student's embeddings are taken once per epoch, and only when a task follows the
    student (``needs_refresh``). The seconds spent are logged as ``refresh_seconds`` (kept
    apart from the training time).
    """

    def __init__(self, tasks, student):
        super().__init__()
        self.tasks = list(tasks)
        self.student = student
        self._seconds = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        start = time.perf_counter()
        needed = any(task.needs_refresh for task in self.tasks)
        student = Embeddings.frozen(self.student) if needed else None
        for task in self.tasks:
            task.refresh(student, epoch)
        self._seconds = time.perf_counter() - start

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["refresh_seconds"] = self._seconds


class _Reference:
    """Holds a model without letting Keras track it (so its variables stay out of ours)."""

    def __init__(self, model):
        self.model = model


class Distiller(tfrs.models.Model):
    """A student trained on its base loss plus weighted distillation tasks from a teacher.

    Args:
      teacher: a ``kdtfrs.models.Recommender`` (or ``kdtfrs.embeddings.Embeddings``); its
        embeddings are read once (propagated, for graph models) and the model is not changed:
        not frozen, not trained, not tracked by this model.
      student: a ``kdtfrs.models.Recommender`` with the same users and items.
      train: the training ``InteractionMatrix`` (masked out of teacher lists, used by samplers).
      distillation: ``kdtfrs.tasks.DistillationTask`` instances, each with its weight; several
        may be combined. An empty list trains the student from scratch.
      base_weight: weight of the student's own loss (``student.compute_loss``).
      seed: seed of every sampler; draws differ per step and replica and repeat per seed.
      signals: a ``kdtfrs.signals.TeacherSignals`` to share precomputed teacher lists.
    """

    def __init__(self, teacher, student, train, distillation=(), base_weight=1.0, seed=0,
                 signals=None, **kwargs):
        super().__init__(**kwargs)
        _check_compatible(teacher, student, train)
        tasks = list(distillation)
        for task in tasks:
            if not isinstance(task, DistillationTask):
                raise TypeError(
                    f"distillation must hold kdtfrs.tasks.DistillationTask instances "
                    f"(e.g. kdtfrs.tasks.get('rrd')), got {type(task).__name__}."
                )
        names = [task.name for task in tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"distillation task names must be unique, got {names}; pass "
                             "name=... to tell two instances of one task apart.")
        _check_made_in_scope([student, *tasks])
        self._teacher = _Reference(teacher)
        self.student = student
        self.base_weight = float(base_weight)
        self.seed = int(seed)
        self.signals = signals or TeacherSignals(teacher, train)
        for index, task in enumerate(tasks):
            task.seed_draws(self.seed * 1009 + index)  # as step_seed's first half
            task.prepare(self.signals, train, student)
        self.tasks = tasks
        self._base_tracker = keras.metrics.Mean("base_loss")
        self.distribute_reduction_method = "first"  # every log is global: train_step

    @property
    def teacher(self):
        """The teacher model, as passed (untouched)."""
        return self._teacher.model

    def call(self, inputs, training=False):
        return self.student(inputs, training=training)

    def _sampling_seed(self, index):
        """A stateless seed unique to (seed, task, step, replica)."""
        step = self.optimizer.iterations if self.optimizer else 0
        return step_seed(step, self.seed, index)

    def compute_loss(self, features, training=False):
        tables = self.student.embeddings(training=training)
        base = self.student.compute_loss(features, training=training, embeddings=tables)
        self._base_tracker.update_state(base * replica_count())
        total = self.base_weight * base
        student = Embeddings.from_tables(*tables)
        for index, task in enumerate(self.tasks):
            total += task(features, student, seed=self._sampling_seed(index), training=training)
        return total

    def train_step(self, data):
        """TFRS' step, its loss logs summed over the replicas (``global_step_logs``)."""
        return global_step_logs(super().train_step(data))

    def refresh_callback(self) -> RefreshCallback:
        return RefreshCallback(self.tasks, self.student)

    def fit(self, *args, callbacks=None, **kwargs):
        """``keras.Model.fit`` with the tasks' per-epoch refresh prepended to ``callbacks``."""
        callbacks = list(callbacks or [])
        if not any(isinstance(callback, RefreshCallback) for callback in callbacks):
            callbacks.insert(0, self.refresh_callback())
        return super().fit(*args, callbacks=callbacks, **kwargs)


def _check_made_in_scope(layers):
    """Under a ``tf.distribute`` strategy, the student's and the tasks' variables (weights,
    epoch counters, metrics) must be the strategy's: made inside its ``scope()``."""
    if not tf.distribute.has_strategy():
        return
    strategy = tf.distribute.get_strategy()
    for layer in layers:
        for variable in layer.variables:
            if not strategy.extended.variable_created_in_scope(variable):
                raise ValueError(
                    f"{layer.name}'s variable {variable.name} was made outside "
                    f"{type(strategy).__name__}.scope(): build the student and the tasks "
                    "(kdtfrs.tasks.get/build) inside `with strategy.scope():`, with the "
                    "Distiller and its compile (docs/distributed.md).")


def _check_compatible(teacher, student, train):
    shapes = {
        "teacher": (teacher.num_users, teacher.num_items),
        "student": (student.num_users, student.num_items),
        "train": (train.num_users, train.num_items),
    }
    if len(set(shapes.values())) != 1:
        raise ValueError(
            f"teacher, student and training data must have the same (users, items), got "
            f"{shapes}. Build both models on the same kdtfrs.data.SplitData."
        )


def signal_dataset(method, teacher, train, batch_size=2048, seed=0, signals=None):
    """Batches of ``({"user", "item"}, y_true)`` for the plain Keras path, without a Distiller.

        ds = kdtfrs.distill.signal_dataset(kdtfrs.tasks.RRD(), teacher, split.train)
        student.compile(optimizer="adam", loss=kdtfrs.losses.RRDLoss())
        student.fit(ds, epochs=5)

    One batch per ``batch_size`` training pairs (rows are the pairs' users, as in the
    Distiller); the task's items and teacher signal are drawn in ``tf.data`` with a seed
    that differs per batch and per epoch and repeats per ``seed``. Methods that follow the
    student (``method.needs_refresh``) or draw once per epoch (``draw_every="epoch"``) need
    ``RefreshCallback([method], student)`` in ``fit``; their batches are not prefetched (not
    even by tf.data's injected prefetch): an iterator kept across epochs
    (``fit(steps_per_epoch=...)`` on a repeated dataset) would otherwise hand out batches
    drawn from the previous epoch's state after ``on_epoch_begin``.
    """
    from kdtfrs.data import bpr_triples

    method.seed_draws(seed * 1009)  # a Distiller's first task's
    method.prepare(signals or TeacherSignals(teacher, train), train)
    rows = bpr_triples(train, batch_size, seed=seed)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def attach(features, pair_seed):
        items, labels = method.batch_targets(features, pair_seed)
        return {"user": features["user"], "item": items}, labels

    dataset = tf.data.Dataset.zip((rows, seeds)).map(attach)
    if not (method.needs_refresh or method.draw_every == "epoch"):
        return dataset.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_optimization.inject_prefetch = False  # tf.data would add one
    return dataset.with_options(options)
