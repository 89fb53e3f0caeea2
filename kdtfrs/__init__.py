"""kdtfrs: knowledge distillation for top-K recommender systems on TensorFlow.

    import kdtfrs
    split = kdtfrs.data.load_dataset("synthetic")
    teacher = kdtfrs.models.BPRMF(split.num_users, split.num_items, embedding_dim=64)
    ...  # teacher.compile(...); teacher.fit(kdtfrs.data.bpr_triples(split.train, 2048))
    student = kdtfrs.models.BPRMF(split.num_users, split.num_items, embedding_dim=8)
    distiller = kdtfrs.Distiller(teacher, student, split.train,
                                 distillation=[kdtfrs.tasks.RRD(weight=0.1)])

Importing kdtfrs selects Keras 2 (tf-keras) for TensorFlow: see ``kdtfrs._keras``.
"""

from kdtfrs import _keras  # noqa: F401  (selects Keras 2 before anything imports TensorFlow)
from kdtfrs import data, embeddings, evaluation, losses, models, ranking, samplers, signals, tasks
from kdtfrs.distill import Distiller, RefreshCallback, signal_dataset

__version__ = "0.1.0"

__all__ = [
    "Distiller",
    "RefreshCallback",
    "data",
    "evaluation",
    "losses",
    "tasks",
    "models",
    "ranking",
    "samplers",
    "signal_dataset",
    "signals",
]
