"""DE: distillation experts (Kang et al., "DE-RRD", CIKM 2020)."""

from __future__ import annotations

from kdtfrs import samplers
from kdtfrs._keras import tf
from kdtfrs.embeddings import Embeddings
from kdtfrs.layers.expert_projector import (ExpertProjector, annealed_temperature,
                                            check_expert_dtype)
from kdtfrs.tasks.base import DistillationTask
from kdtfrs.tasks.unique_entities import sum_on_rows, unique_with_rows
from kdtfrs.validation import check_number


class DE(DistillationTask):
    """Distillation experts: the projected student regressed onto the teacher's embeddings.

        L_DE = Σ_{u ∈ U_B} ||e^T_u − P_U(e^S_u)||²
               + ½ ( Σ_{i ∈ I⁺_B} ||e^T_i − P_I(e^S_i)||² + Σ_{j ∈ I⁻_B} ||e^T_j − P_I(e^S_j)||² )

    ``U_B``, ``I⁺_B``, ``I⁻_B`` are the batch's *unique* users, positives and negatives (an
    item both positive and negative counts in both sums). ``P_U`` and ``P_I`` are
    ``kdtfrs.layers.ExpertProjector``s (``num_experts`` MLP experts d_S -> ⌊(d_S+d_T)/2⌋ -> d_T,
    picked per entity by a Gumbel-softmax gate on the teacher's embedding), built in
    ``prepare`` with the student's width and trained with the student; the teacher gets no
    gradient. Kang, Hwang, Kweon, Yu, "DE-RRD: A Knowledge Distillation Framework for
    Recommender System" (CIKM 2020); SeongKu-Kang/DE-RRD_CIKM20 ``Models/DE.py``, woriazzc/KDs
    ``DE``.

    Gate temperature: ``refresh`` sets ``T_t = annealed_temperature(t, max_epochs,
    end_temperature)`` = ``max(1e-10, 10^(-10 t / max_epochs))`` at the start of every epoch t
    (``kdtfrs.distill.RefreshCallback`` calls it; without it the temperature stays at 1).

    Reduction: each unique entity's term sits on the row where it first appears
    (``kdtfrs.tasks.unique_entities``), so the task's value is ``weight · L_DE / B``: the
    reference's summed ``L_BPR + λ L_DE`` divided by B, hence ``weight`` = its λ unchanged.
    Under ``tf.distribute`` each replica counts the unique entities of its own sub-batch (an
    entity in two sub-batches counts twice) and draws its own Gumbel noise.

    Example::

        task = DE(weight=0.05, num_experts=30)
        distiller = kdtfrs.Distiller(teacher, student, train, distillation=[task])

    Args:
      weight: λ; default 0.05 from KDs citeulike/bpr (the DE-RRD paper: 0.01).
      num_experts: E, experts per projector; default 30 (KDs citeulike/bpr and DE-RRD).
      max_epochs: the epoch at which the temperature reaches ``end_temperature``; default
        1000 (both references anneal over their epoch budget of 1000).
      end_temperature: the final gate temperature; default 1e-10.
      exclude_train: unused (no item lists); kept for the shared configuration.
      name: metric name; default "de".
      expert_dtype: the experts' products, "float32" (default) or "bfloat16"
        (``ExpertProjector``; a third to two-fifths off the step on a CPU with bfloat16
        instructions, at bfloat16's 8 significant bits). ``get_config`` names it only when not
        float32, so configs written before it existed still compare equal.
    """

    method_id = "de"

    def __init__(self, weight: float = 0.05, num_experts: int = 30, max_epochs: int = 1000,
                 end_temperature: float = 1e-10, exclude_train: bool = True,
                 name: str | None = None, expert_dtype: str = "float32"):
        super().__init__(weight, exclude_train, name)
        self.num_experts = check_number("num_experts", num_experts, above=0, integer=True)
        self.expert_dtype = check_expert_dtype(expert_dtype)
        self.max_epochs = check_number("max_epochs", max_epochs, above=0, integer=True)
        self.end_temperature = check_number("end_temperature", end_temperature, above=0)
        if self.end_temperature > 1.0:
            raise ValueError("`end_temperature` must not exceed the start temperature 1.0; "
                             f"received end_temperature={end_temperature!r}.")
        self.user_projector = self.item_projector = None

    # -- once and per epoch --------------------------------------------------------------------
    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        if student is None:
            raise ValueError(f"{type(self).__name__} builds projectors of the student's width: "
                             "pass the student to prepare(signals, train, student) "
                             "(kdtfrs.Distiller does).")
        student_dim = Embeddings.of(student).dim
        if (self.user_projector is None or self.user_projector.student_dim != student_dim
                or self.user_projector.teacher_dim != self.teacher.dim):
            self.user_projector, self.item_projector = (
                ExpertProjector(self.num_experts, self.teacher.dim, self.expert_dtype,
                                name=f"{side}_projector").build_for(student_dim)
                for side in ("user", "item"))
        self.set_temperature(int(self.epoch.numpy()))

    def update_for_epoch(self, student, epoch):
        if self.user_projector is not None:
            self.set_temperature(epoch)

    def set_temperature(self, epoch) -> float:
        """Sets both gates to the annealed temperature of ``epoch``; returns it."""
        temperature = annealed_temperature(epoch, self.max_epochs, self.end_temperature)
        for projector in (self.user_projector, self.item_projector):
            projector.temperature.assign(temperature)
        return temperature

    # -- per batch -------------------------------------------------------------------------------
    def project(self, side, ids, student, seed):
        """(teacher float32 [N, d_T], projected student float32 [N, d_T]) of entities ``ids``.

        ``side`` is "users" or "items"; the teacher's vectors are constants.
        """
        self._require_prepared()
        teacher = tf.stop_gradient(getattr(self.teacher, side)(ids))
        projector = self.user_projector if side == "users" else self.item_projector
        return teacher, projector(getattr(student, side)(ids), teacher, seed)

    def unique_errors(self, side, ids, student, seed):
        """float32 [B]: ``Σ ||e^T − P(e^S)||²`` over the unique ``ids`` [B] or [B, n], by row."""
        unique, rows = unique_with_rows(ids)
        teacher, projected = self.project(side, unique, student, seed)
        errors = tf.reduce_sum(tf.square(teacher - projected), axis=-1)
        return sum_on_rows(errors, rows, tf.shape(ids)[0])

    def de_loss(self, features, student, seed):
        """float32 [B]: ``L_DE`` (unweighted) written per row; its row sum is ``L_DE``."""
        user_seed, positive_seed, negative_seed = tf.unstack(samplers.split_seed(seed, 3))
        users = self.unique_errors("users", features["user"], student, user_seed)
        positives = self.unique_errors("items", features["pos_item"], student, positive_seed)
        negatives = self.unique_errors("items", features["neg_item"], student, negative_seed)
        return users + 0.5 * (positives + negatives)

    def per_row_loss(self, features, student, seed):
        return self.de_loss(features, student, seed)

    def get_config(self):
        config = {**super().get_config(), "num_experts": self.num_experts,
                  "max_epochs": self.max_epochs, "end_temperature": self.end_temperature}
        if self.expert_dtype != "float32":
            config["expert_dtype"] = self.expert_dtype
        return config
