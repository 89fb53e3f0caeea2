"""DE's projector: experts chosen per entity by a Gumbel-softmax gate on the teacher's vector.

Kang, Hwang, Kweon, Yu, "DE-RRD: A Knowledge Distillation Framework for Recommender System"
(CIKM 2020), "Distillation Experts": E small MLPs ("experts") map the student's embedding of
an entity to the teacher's space; a selection network reads the *teacher's* embedding of the
same entity and picks (softly at first, then hard as its temperature anneals) which expert
serves it, so entities of different preference groups get different projections. PCKD
(Zhu & Zhang, TKDE 2025) uses the same projector; HTD (Kang et al., KDD 2021) uses the gate
alone to assign entities to groups. References: SeongKu-Kang/DE-RRD_CIKM20 ``Models/DE.py``,
woriazzc/KDs ``DE``.
"""

from __future__ import annotations

import math

from kdtfrs import samplers
from kdtfrs._keras import keras, tf
from kdtfrs.validation import check_number

#: Added to the gate probabilities before the log, as in the reference code.
LOG_EPSILON = 1e-10

#: The dtypes the experts can compute in. Their weights, the gate and the outputs stay float32.
EXPERT_DTYPES = ("float32", "bfloat16")


def check_expert_dtype(expert_dtype: str) -> str:
    """``expert_dtype`` if it is one of ``EXPERT_DTYPES``, else a ValueError saying why."""
    if expert_dtype not in EXPERT_DTYPES:
        raise ValueError(f"`expert_dtype` must be one of {EXPERT_DTYPES}; received "
                         f"expert_dtype={expert_dtype!r}. float16 would need loss scaling: "
                         "use bfloat16, which keeps float32's range.")
    return expert_dtype


def annealed_temperature(epoch, max_epochs, end=1e-10, start=1.0) -> float:
    """DE's gate temperature at ``epoch``: ``max(end, start · (end/start)^(epoch/max_epochs))``.

    DE's schedule (DE-RRD repository; woriazzc/KDs with ``end_T = 1e-10``, ``anneal = 1e10``,
    ``epochs = 1000``): ``T_t = 10^(-10 t / 1000)``, i.e. 1 at epoch 0, 0.1 at epoch 100, 1e-10
    from epoch ``max_epochs`` on. In kdtfrs the tasks set it at every epoch start from their
    ``refresh`` (``kdtfrs.distill.RefreshCallback``, which ``Distiller.fit`` adds), i.e. the
    annealing is per epoch, as in both references.

    Args:
      epoch: the epoch t >= 0.
      max_epochs: the epoch at which the temperature reaches ``end``.
      end: the final temperature (> 0).
      start: the temperature at epoch 0 (>= end).
    """
    epoch = check_number("epoch", epoch, minimum=0)
    max_epochs = check_number("max_epochs", max_epochs, above=0)
    end = check_number("end", end, above=0)
    start = check_number("start", start, minimum=end)
    return max(end, start * (end / start) ** (epoch / max_epochs))


def linear_initializer(fan_in: int):
    """PyTorch's ``nn.Linear`` default: weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    A new initializer for every weight: one unseeded Keras initializer gives the same values
    at every call.
    """
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


class SelectionGate(keras.layers.Layer):
    """Gumbel-softmax choice among ``num_choices`` options, read from the teacher's vector.

        g(e^T) = softmax(W e^T + b)                            (probabilities, [N, E])
        z      = softmax((log(g + 1e-10) + G) / T),  G ~ Gumbel(0, 1)^E    (selection)

    ``z = 1`` when E = 1. ``T`` is the non-trainable variable ``temperature`` (1.0 at first;
    ``annealed_temperature`` gives DE's schedule): at T = 1 ``z`` is a soft mixture, as T -> 0
    it becomes the one-hot vector of a sample from ``g``. The gate never passes a gradient to
    the teacher's vectors; ``W`` and ``b`` learn through ``z`` (DE) or a loss on ``g`` (HTD).
    Weights are initialised as PyTorch's ``nn.Linear`` (the references' framework).

    Example::

        gate = SelectionGate(4)
        probabilities, selection = gate(teacher_vectors, seed=tf.constant([0, 1]))

    Args:
      num_choices: E, the number of experts (or groups).
      name: layer name.
    """

    def __init__(self, num_choices: int, name: str | None = None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_choices = check_number("num_choices", num_choices, above=0, integer=True)
        self.temperature = tf.Variable(1.0, trainable=False, dtype=tf.float32,
                                       name="temperature")

    def build(self, input_shape):
        teacher_dim = int(input_shape[-1])
        self.kernel = self.add_weight("kernel", [teacher_dim, self.num_choices],
                                      initializer=linear_initializer(teacher_dim))
        self.bias = self.add_weight("bias", [self.num_choices],
                                    initializer=linear_initializer(teacher_dim))
        super().build(input_shape)

    def probabilities(self, teacher_vectors):
        """float32 [N, E]: ``softmax(W e^T + b)``."""
        teacher_vectors = tf.stop_gradient(tf.convert_to_tensor(teacher_vectors, tf.float32))
        return tf.nn.softmax(tf.matmul(teacher_vectors, self.kernel) + self.bias, axis=-1)

    def call(self, teacher_vectors, seed):
        """(probabilities float32 [N, E], selection float32 [N, E]); ``seed``: stateless int [2]."""
        probabilities = self.probabilities(teacher_vectors)
        if self.num_choices == 1:
            return probabilities, tf.ones_like(probabilities)
        noise = samplers.gumbel_noise(tf.shape(probabilities), seed)
        logits = (tf.math.log(probabilities + LOG_EPSILON) + noise) / self.temperature
        return probabilities, tf.nn.softmax(logits, axis=-1)

    def get_config(self):
        return {"num_choices": self.num_choices, "name": self.name}


class ExpertProjector(keras.layers.Layer):
    """``P(e^S) = Σ_k z_k f_k(e^S)``: E experts mixed by a ``SelectionGate`` on ``e^T``.

    Each expert is ``f_k(x) = ReLU(x A_k + a_k) C_k + c_k``, a d_S -> ⌊(d_S + d_T)/2⌋ -> d_T
    MLP; ``z`` is the gate's selection for the teacher's vector of the same entity. The E
    experts are held as stacked kernels ([E, d_S, h] and [E, h, d_T]) and evaluated together.
    DE (Kang et al., CIKM 2020) and PCKD (Zhu & Zhang, TKDE 2025) project the student's users
    and items with one projector each. Cost per entity: ``E (d_S h + h d_T)`` multiply-adds.

    ``expert_dtype="bfloat16"`` runs the experts' products in bfloat16 (inputs and weights
    rounded to 8 significant bits; outputs and gradients within a few parts in 100 of
    float32's, tests/layers/test_expert_projector.py): a third to two-fifths off a DE, PCKD
    or HTD step on a CPU with bfloat16 instructions (benchmarks/step_profile.py
    ``--expert-dtype``). The weights stay float32 and take float32 gradients, as under
    Keras' ``mixed_bfloat16`` policy; the gate and the outputs are float32.

    Weights exist once the student's width is known: call ``build_for(student_dim)`` (the
    tasks do it in ``prepare``, inside the distribution strategy's scope where there is one),
    or let the first call build them.

    Example::

        projector = ExpertProjector(num_experts=5, teacher_dim=64).build_for(8)
        projected = projector(student_vectors, teacher_vectors, seed)     # [N, 64]

    Args:
      num_experts: E.
      teacher_dim: d_T, the width of the teacher's (and the output) vectors.
      expert_dtype: the experts' products, "float32" (default) or "bfloat16".
      name: layer name.
    """

    def __init__(self, num_experts: int, teacher_dim: int, expert_dtype: str = "float32",
                 name: str | None = None, **kwargs):
        # The layer's own policy stays float32 (no autocast of its float32 weights under a
        # global mixed policy): the experts' dtype is ``expert_dtype`` alone.
        super().__init__(name=name, dtype="float32", **kwargs)
        self.num_experts = check_number("num_experts", num_experts, above=0, integer=True)
        self.teacher_dim = check_number("teacher_dim", teacher_dim, above=0, integer=True)
        self.expert_dtype = check_expert_dtype(expert_dtype)
        self.gate = SelectionGate(self.num_experts, name="gate", dtype="float32")
        self.student_dim = None

    def build(self, input_shape):
        self.student_dim = int(input_shape[-1])
        hidden = (self.student_dim + self.teacher_dim) // 2
        experts = self.num_experts
        self.hidden_kernel = self.add_weight(
            "hidden_kernel", [experts, self.student_dim, hidden],
            initializer=linear_initializer(self.student_dim))
        self.hidden_bias = self.add_weight(
            "hidden_bias", [experts, hidden], initializer=linear_initializer(self.student_dim))
        self.output_kernel = self.add_weight(
            "output_kernel", [experts, hidden, self.teacher_dim],
            initializer=linear_initializer(hidden))
        self.output_bias = self.add_weight(
            "output_bias", [experts, self.teacher_dim], initializer=linear_initializer(hidden))
        self.gate.build(tf.TensorShape([None, self.teacher_dim]))
        super().build(input_shape)

    def build_for(self, student_dim: int) -> "ExpertProjector":
        """Creates the weights for students of width ``student_dim``; returns the projector."""
        student_dim = check_number("student_dim", student_dim, above=0, integer=True)
        if not self.built:
            self.build(tf.TensorShape([None, student_dim]))
        elif student_dim != self.student_dim:
            raise ValueError(f"{self.name} is built for students of width {self.student_dim}; "
                             f"received student_dim={student_dim}.")
        return self

    @property
    def temperature(self) -> tf.Variable:
        """The gate's temperature variable."""
        return self.gate.temperature

    def _in_expert_dtype(self, value):
        return tf.cast(value, self.expert_dtype)

    def hidden(self, student_vectors):
        """[N, E, h] in the experts' dtype: every expert's hidden layer ``ReLU(x A_k + a_k)``."""
        student_vectors = tf.convert_to_tensor(student_vectors, tf.float32)
        return tf.nn.relu(
            tf.einsum("nd,edh->neh", self._in_expert_dtype(student_vectors),
                      self._in_expert_dtype(self.hidden_kernel))
            + self._in_expert_dtype(self.hidden_bias))

    def call(self, student_vectors, teacher_vectors, seed):
        """float32 [N, d_T]: ``Σ_k z_k f_k(student_vectors)``, ``z`` from ``teacher_vectors``."""
        _, selection = self.gate(teacher_vectors, seed)
        mixed = self.hidden(student_vectors) * self._in_expert_dtype(selection)[:, :, None]
        outputs = tf.einsum("neh,eht->nt", mixed, self._in_expert_dtype(self.output_kernel))
        return tf.cast(outputs, tf.float32) + tf.matmul(selection, self.output_bias)

    def inner_products(self, queries, student_vectors, teacher_vectors, seed):
        """float32 [B, n]: ``<q_b, P(s_bn)>``, equal to projecting the B x n entities and
        taking their inner products with ``queries``, without forming the projections.

            <q, P(s)> = Σ_k z_k (<C_k q, h_k(s)> + <q, c_k>),    h_k(s) = ReLU(s A_k + a_k)

        Pulling each query through the output kernels once (``C_k q``: B·E·h·d_T
        multiply-adds) replaces pushing every one of the B·n entities through them
        (B·n·E·h·d_T), so it pays off when each query meets several entities (PCKD's
        regulariser scores Q items per row). The gate draws the same selection as ``call`` on
        the flattened entities with the same ``seed``.

        Args:
          queries: float32 [B, d_T], e.g. the projected users.
          student_vectors: float32 [B, n, d_S].
          teacher_vectors: float32 [B, n, d_T], the same entities' teacher vectors.
          seed: stateless int [2], as ``call``'s.
        """
        queries = tf.convert_to_tensor(queries, tf.float32)
        student_vectors = tf.convert_to_tensor(student_vectors, tf.float32)
        shape = tf.shape(student_vectors)
        experts = self.num_experts
        _, selection = self.gate(tf.reshape(teacher_vectors, [-1, self.teacher_dim]), seed)
        selection = tf.reshape(selection, [shape[0], shape[1], experts])
        hidden = self.hidden(tf.reshape(student_vectors, [-1, shape[2]]))
        # Sizes spelt out: a replica's batch may be empty, where -1 is ambiguous.
        hidden = tf.reshape(hidden, [shape[0], shape[1], experts,
                                     self.hidden_kernel.shape[-1]])
        pulled = tf.einsum("bt,eht->beh", self._in_expert_dtype(queries),
                           self._in_expert_dtype(self.output_kernel))
        per_expert = (tf.cast(tf.einsum("bneh,beh->bne", hidden, pulled), tf.float32)
                      + tf.matmul(queries, self.output_bias, transpose_b=True)[:, None, :])
        return tf.reduce_sum(selection * per_expert, axis=-1)

    def get_config(self):
        return {"num_experts": self.num_experts, "teacher_dim": self.teacher_dim,
                "expert_dtype": self.expert_dtype, "name": self.name}
