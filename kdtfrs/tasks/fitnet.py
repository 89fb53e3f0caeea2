"""FitNet: hint (feature) distillation through an MLP projector (Romero et al., ICLR 2015)."""

from __future__ import annotations

from kdtfrs import samplers
from kdtfrs._keras import keras, tf
from kdtfrs.embeddings import Embeddings
from kdtfrs.layers.expert_projector import linear_initializer
from kdtfrs.tasks.base import DistillationTask
from kdtfrs.tasks.unique_entities import sum_on_rows, unique_with_rows
from kdtfrs.validation import check_number

ENTITIES = ("batch", "sampled")


def seeded_dropout(inputs, rate, seed, training):
    """``inputs`` with entries zeroed with probability ``rate`` (the rest scaled by 1/(1-rate)).

    Stateless (``tf.nn.experimental.stateless_dropout``): the same ``seed`` drops the same
    entries, eagerly, in a ``tf.function`` and on every replica. Identity unless ``training``.
    """
    if not rate:
        return inputs
    if isinstance(training, bool) or training is None:
        if not training:
            return inputs
        return tf.nn.experimental.stateless_dropout(inputs, rate, seed)
    return tf.cond(tf.cast(training, tf.bool),
                   lambda: tf.nn.experimental.stateless_dropout(inputs, rate, seed),
                   lambda: tf.identity(inputs))


class HintProjector(keras.layers.Layer):
    """FitNet's regressor: ``Dropout → Dense(h) → ReLU → Dropout → Dense(d_T)``.

        P(x) = D(ReLU(D(x) W_1 + b_1)) W_2 + b_2      (``linear``: P(x) = D(x) W + b)

    with ``D`` a seeded dropout of rate ``dropout`` active only in training. As woriazzc/KDs
    ``Fit`` (one expert), weights initialised as PyTorch's ``nn.Linear``.

    Args:
      output_dim: d_T.
      hidden_dim: h; None for the single linear map.
      dropout: the dropout rate, in [0, 1).
      name: layer name.
    """

    def __init__(self, output_dim: int, hidden_dim: int | None = None, dropout: float = 0.0,
                 name: str | None = None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.output_dim = check_number("output_dim", output_dim, above=0, integer=True)
        self.hidden_dim = (None if hidden_dim is None
                           else check_number("hidden_dim", hidden_dim, above=0, integer=True))
        self.dropout = check_number("dropout", dropout, minimum=0)
        if self.dropout >= 1:
            raise ValueError(f"`dropout` must be below 1; received dropout={dropout!r}.")
        self.input_dim = None

    def build(self, input_shape):
        self.input_dim = int(input_shape[-1])
        widths = [self.input_dim] + ([self.hidden_dim] if self.hidden_dim else [])
        widths.append(self.output_dim)
        self.kernels, self.biases = [], []
        for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            self.kernels.append(self.add_weight(f"kernel_{index}", [fan_in, fan_out],
                                                initializer=linear_initializer(fan_in)))
            self.biases.append(self.add_weight(f"bias_{index}", [fan_out],
                                               initializer=linear_initializer(fan_in)))
        super().build(input_shape)

    def call(self, inputs, seed, training=False):
        """float32 [N, d_T] of ``inputs`` [N, d_S]; ``seed`` (int [2]) draws the dropouts."""
        seeds = tf.unstack(samplers.split_seed(seed, len(self.kernels)))
        outputs = tf.convert_to_tensor(inputs, tf.float32)
        for index, (kernel, bias) in enumerate(zip(self.kernels, self.biases)):
            if index:
                outputs = tf.nn.relu(outputs)
            outputs = seeded_dropout(outputs, self.dropout, seeds[index], training)
            outputs = tf.matmul(outputs, kernel) + bias
        return outputs

    def get_config(self):
        return {"output_dim": self.output_dim, "hidden_dim": self.hidden_dim,
                "dropout": self.dropout, "name": self.name}


class FitNet(DistillationTask):
    """FitNet / hint: regress the projected student onto the teacher's embeddings.

        L = Σ_{u ∈ R_U} ℓ(e^T_u, P_U(e^S_u)) + Σ_{i ∈ R_I} ℓ(e^T_i, P_I(e^S_i))

    with ``ℓ(t, p) = ||t − p||²`` or, with ``cosine``, ``1 − cos(t, p)``. ``P_U`` and ``P_I``
    are ``HintProjector``s (``Dropout → Dense(hidden_ratio·d_T) → ReLU → Dropout → Dense(d_T)``,
    or one Dense with ``linear``), built in ``prepare`` with the student's width and trained
    with it; dropout is active when the task is called with ``training=True`` (the Distiller
    does in ``fit``). The teacher gets no gradient. Romero et al., "FitNets: Hints for Thin
    Deep Nets" (ICLR 2015) as woriazzc/KDs ports it to recommenders (``Fit``, ``mm/FitNet``).

    Entities:

    - ``"batch"`` (default): R_U the batch's unique users, R_I its unique items (positives and
      negatives together), as ``mm/FitNet``; each entity's term sits on the row where it first
      appears, so the task's value is ``weight · L / B``.
    - ``"sampled"``: B users and B items drawn uniformly without replacement from the step's
      seed, one of each per row (KDs ``Fit``); per row ``ℓ(u_b) + ℓ(i_b)``.

    Both are the reference's sum divided by B: ``weight`` is its λ unchanged.

    Example::

        task = FitNet(weight=0.05)
        distiller = kdtfrs.Distiller(teacher, student, train, distillation=[task])

    Args:
      weight: λ; default 0.05 (KDs citeulike).
      entities: "batch" or "sampled".
      dropout: the projector's dropout rate; default 0.2 (KDs citeulike).
      hidden_ratio: the hidden width as a multiple of d_T; default 5 (KDs citeulike).
      linear: a single Dense projector (KDs ``fit_linear``).
      cosine: ``1 − cos`` in place of the squared distance (KDs ``fit_norm``-like).
      exclude_train: unused (no item lists); kept for the shared configuration.
      name: metric name; default "fitnet".
    """

    method_id = "fitnet"

    def __init__(self, weight: float = 0.05, entities: str = "batch", dropout: float = 0.2,
                 hidden_ratio: float = 5.0, linear: bool = False, cosine: bool = False,
                 exclude_train: bool = True, name: str | None = None):
        super().__init__(weight, exclude_train, name)
        if entities not in ENTITIES:
            raise ValueError(f"`entities` must be one of {ENTITIES}; received "
                             f"entities={entities!r}.")
        for argument, value in (("linear", linear), ("cosine", cosine)):
            if not isinstance(value, bool):
                raise ValueError(f"`{argument}` must be True or False; received "
                                 f"{argument}={value!r}.")
        self.entities = entities
        self.dropout = check_number("dropout", dropout, minimum=0)
        if self.dropout >= 1:
            raise ValueError(f"`dropout` must be below 1; received dropout={dropout!r}.")
        self.hidden_ratio = check_number("hidden_ratio", hidden_ratio, above=0)
        self.linear = linear
        self.cosine = cosine
        self.user_projector = self.item_projector = None
        self._training = False

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        if student is None:
            raise ValueError("FitNet builds projectors of the student's width: pass the student "
                             "to prepare(signals, train, student) (kdtfrs.Distiller does).")
        student_dim, teacher_dim = Embeddings.of(student).dim, self.teacher.dim
        hidden = None if self.linear else max(1, round(self.hidden_ratio * teacher_dim))
        if (self.user_projector is None or self.user_projector.input_dim != student_dim
                or self.user_projector.output_dim != teacher_dim):
            self.user_projector, self.item_projector = (
                HintProjector(teacher_dim, hidden, self.dropout, name=f"{side}_projector")
                for side in ("user", "item"))
            for projector in (self.user_projector, self.item_projector):
                projector.build(tf.TensorShape([None, student_dim]))

    def call(self, features, student, seed=None, training=False):
        """As ``DistillationTask.call``; ``training`` switches the projectors' dropout on."""
        self._training = training
        try:
            return super().call(features, student, seed, training)
        finally:
            self._training = False

    def sampled_entities(self, features, seed):
        """(users int32 [B], items int32 [B]): the entities of ``entities="sampled"``."""
        self._require_prepared()
        rows = tf.shape(features["user"])[0]
        user_seed, item_seed = tf.unstack(samplers.split_seed(seed, 2))
        return (samplers.draws_without_replacement(rows, self.user_count, user_seed),
                samplers.draws_without_replacement(rows, self.item_count, item_seed))

    def errors(self, side, ids, student, seed, training):
        """float32 [N]: ``ℓ(e^T, P(e^S))`` of the entities ``ids`` [N] of ``side``."""
        teacher = tf.stop_gradient(getattr(self.teacher, side)(ids))
        projector = self.user_projector if side == "users" else self.item_projector
        projected = projector(getattr(student, side)(ids), seed, training=training)
        if self.cosine:
            return 1.0 - tf.reduce_sum(tf.math.l2_normalize(teacher, axis=-1)
                                       * tf.math.l2_normalize(projected, axis=-1), axis=-1)
        return tf.reduce_sum(tf.square(teacher - projected), axis=-1)

    def per_row_loss(self, features, student, seed, training=None):
        """float32 [B]; ``training`` (default: as the task was called) turns dropout on."""
        self._require_prepared()
        training = self._training if training is None else training
        user_seed, item_seed, entity_seed = tf.unstack(samplers.split_seed(seed, 3))
        if self.entities == "sampled":
            users, items = self.sampled_entities(features, entity_seed)
            return (self.errors("users", users, student, user_seed, training)
                    + self.errors("items", items, student, item_seed, training))
        rows = tf.shape(features["user"])[0]
        users, user_rows = unique_with_rows(features["user"])
        items, item_rows = unique_with_rows(tf.concat(
            [features["pos_item"][:, None], features["neg_item"]], axis=1))
        return (sum_on_rows(self.errors("users", users, student, user_seed, training),
                            user_rows, rows)
                + sum_on_rows(self.errors("items", items, student, item_seed, training),
                              item_rows, rows))

    def get_config(self):
        return {**super().get_config(), "entities": self.entities, "dropout": self.dropout,
                "hidden_ratio": self.hidden_ratio, "linear": self.linear,
                "cosine": self.cosine}
