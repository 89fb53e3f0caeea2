"""kdtfrs: knowledge distillation for top-K recommender systems on TensorFlow.

    import kdtfrs
    split = kdtfrs.data.load_dataset("synthetic")
    teacher = kdtfrs.models.BPRMF(split.num_users, split.num_items, embedding_dim=64)
    ...  # teacher.compile(...); teacher.fit(kdtfrs.data.bpr_triples(split.train, 2048))
    student = kdtfrs.models.BPRMF(split.num_users, split.num_items, embedding_dim=8)
    distiller = kdtfrs.Distiller(teacher, student, split.train,
                                 distillation=[kdtfrs.tasks.RRD(weight=0.1)])

Importing kdtfrs selects Keras 2 (tf-keras) for TensorFlow: see ``kdtfrs._keras``. The
subpackages load on first use (``kdtfrs.tasks`` imports TensorFlow, ``import kdtfrs`` does
not), so that the command line answers ``--help`` without starting TensorFlow.
"""

import importlib
import os
import sys

if "tensorflow" not in sys.modules:  # the same choice kdtfrs._keras makes, without importing TF
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

__version__ = "0.1.0"

_SUBMODULES = ("data", "embeddings", "evaluation", "losses", "models", "ranking", "samplers",
               "signals", "tasks")
_FROM_DISTILL = ("Distiller", "RefreshCallback", "signal_dataset")

__all__ = [*_FROM_DISTILL, "BidirectionalDistiller", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"kdtfrs.{name}")
    if name in _FROM_DISTILL:
        return getattr(importlib.import_module("kdtfrs.distill"), name)
    if name == "BidirectionalDistiller":
        return importlib.import_module("kdtfrs.bidirectional").BidirectionalDistiller
    raise AttributeError(f"module 'kdtfrs' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
