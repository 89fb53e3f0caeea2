"""The Distiller: trains a student with a frozen teacher's knowledge through ``model.fit``.

    distiller = kdtfrs.Distiller(teacher, student, train,
                                 distillation=[kdtfrs.methods.RRD(weight=0.1)])
    distiller.compile(optimizer=tf.keras.optimizers.Adam(1e-3))
    distiller.fit(kdtfrs.data.bpr_triples(train, 2048), epochs=10)
    distiller.student  # the trained student alone

It is a TFRS model: ``compute_loss`` returns the student's base loss (BPR) plus the weighted
distillation terms, each averaged over the global batch rows with
``tf.nn.compute_average_loss``, so it trains the same under ``tf.distribute``. The teacher is
frozen (``trainable = False``); only the student and the methods' trainable parts learn.
"""

from __future__ import annotations

import time

import tensorflow_recommenders as tfrs

from kdtfrs._keras import keras, tf
from kdtfrs.methods import DistillationMethod
from kdtfrs.signals import TeacherSignals


class RefreshCallback(keras.callbacks.Callback):
    """Refreshes each method's student-dependent state at the start of every epoch.

    The seconds spent are logged as ``refresh_seconds`` (kept apart from the training time).
    """

    def __init__(self, methods, student):
        super().__init__()
        self.methods = list(methods)
        self.student = student
        self._seconds = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        start = time.perf_counter()
        for method in self.methods:
            method.refresh(self.student, epoch)
        self._seconds = time.perf_counter() - start

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["refresh_seconds"] = self._seconds


class Distiller(tfrs.models.Model):
    """A student trained on its base loss plus weighted distillation terms from a teacher.

    Args:
      teacher: a ``kdtfrs.models.Recommender``; frozen here (its propagated embeddings cached).
      student: a ``kdtfrs.models.Recommender`` with the same users and items.
      train: the training ``InteractionMatrix`` (masked out of teacher lists, used by samplers).
      distillation: ``DistillationMethod`` instances (see ``kdtfrs.methods``), each with its
        weight; several may be combined. An empty list trains the student from scratch.
      base_weight: weight of the student's own loss (``student.compute_loss``).
      seed: seed of every sampler; draws differ per step and replica and repeat per seed.
      signals: a ``kdtfrs.signals.TeacherSignals`` to share precomputed teacher lists.
    """

    def __init__(self, teacher, student, train, distillation=(), base_weight=1.0, seed=0,
                 signals=None, **kwargs):
        super().__init__(**kwargs)
        _check_compatible(teacher, student, train)
        methods = list(distillation)
        for method in methods:
            if not isinstance(method, DistillationMethod):
                raise TypeError(
                    f"distillation must hold kdtfrs.methods.DistillationMethod instances "
                    f"(e.g. kdtfrs.methods.get('rrd')), got {type(method).__name__}."
                )
        names = [method.name for method in methods]
        if len(set(names)) != len(names):
            raise ValueError(f"distillation method names must be unique, got {names}; pass "
                             "name=... to tell two instances of one method apart.")
        teacher.freeze()
        self.teacher = teacher
        self.student = student
        self.base_weight = float(base_weight)
        self.seed = int(seed)
        self.signals = signals or TeacherSignals(teacher, train)
        for method in methods:
            method.prepare(self.signals, train)
        self.methods = methods
        self._base_tracker = keras.metrics.Mean("base_loss")
        self._trackers = [keras.metrics.Mean(f"{name}_loss") for name in names]

    def call(self, inputs, training=False):
        return self.student(inputs, training=training)

    def _sampling_seed(self, index):
        """A stateless seed unique to (seed, method, step, replica)."""
        context = tf.distribute.get_replica_context()
        replica = tf.cast(context.replica_id_in_sync_group if context else 0, tf.int64)
        replicas = tf.cast(context.num_replicas_in_sync if context else 1, tf.int64)
        step = (tf.cast(self.optimizer.iterations, tf.int64) if self.optimizer
                else tf.constant(0, tf.int64))
        return tf.stack([tf.constant(self.seed * 1009 + index, tf.int64),
                         step * replicas + replica])

    def compute_loss(self, features, training=False):
        base = self.student.compute_loss(features, training=training)
        self._base_tracker.update_state(base)
        total = self.base_weight * base
        for index, (method, tracker) in enumerate(zip(self.methods, self._trackers)):
            per_row = method.weighted_loss(features, self.student, self._sampling_seed(index))
            term = tf.nn.compute_average_loss(per_row)
            tracker.update_state(term)
            total += term
        return total

    def refresh_callback(self) -> RefreshCallback:
        return RefreshCallback(self.methods, self.student)

    def fit(self, *args, callbacks=None, **kwargs):
        """``keras.Model.fit`` with the methods' per-epoch refresh prepended to ``callbacks``."""
        callbacks = list(callbacks or [])
        if not any(isinstance(callback, RefreshCallback) for callback in callbacks):
            callbacks.insert(0, self.refresh_callback())
        return super().fit(*args, callbacks=callbacks, **kwargs)


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

        ds = kdtfrs.distill.signal_dataset(kdtfrs.methods.RRD(), teacher, split.train)
        student.compile(optimizer="adam", loss=kdtfrs.losses.RRD())
        student.fit(ds, epochs=5)

    One batch per ``batch_size`` training pairs (rows are the pairs' users, as in the
    Distiller); the method's items and teacher signal are drawn in ``tf.data`` with a seed
    that differs per batch and per epoch and repeats per ``seed``. Methods that follow the
    student (``method.needs_refresh``) need ``RefreshCallback([method], student)`` in ``fit``;
    their batches are not prefetched (not even by tf.data's injected prefetch): an iterator
    kept across epochs (``fit(steps_per_epoch=...)`` on a repeated dataset) would otherwise
    hand out batches drawn from the previous epoch's state after ``on_epoch_begin``.
    """
    from kdtfrs.data import bpr_triples

    teacher.freeze()
    method.prepare(signals or TeacherSignals(teacher, train), train)
    rows = bpr_triples(train, batch_size, seed=seed)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def attach(features, pair_seed):
        items, labels = method.targets(features, pair_seed)
        return {"user": features["user"], "item": items}, labels

    dataset = tf.data.Dataset.zip((rows, seeds)).map(attach)
    if not method.needs_refresh:
        return dataset.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_optimization.inject_prefetch = False  # tf.data would add one
    return dataset.with_options(options)
