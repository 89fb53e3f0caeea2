"""Presets: methods that are several tasks trained together, as the list a Distiller takes.

    distiller = kdtfrs.Distiller(teacher, student, train, distillation=de_rrd())
"""

from __future__ import annotations

import inspect

from kdtfrs.tasks.de import DE
from kdtfrs.tasks.rrd import RRD

#: RRD's sampling in the DE-RRD repository (K = 40 interesting, L = 40 uninteresting items,
#: T = 10, teacher top-500), where ``kdtfrs.tasks.RRD``'s own defaults are KDs' (100, 200).
DE_RRD_SAMPLING = {"num_interesting": 40, "num_uninteresting": 40, "temperature": 10.0,
                   "max_rank": 500}


def split_hyperparameters(hyperparameters, classes):
    """``{prefix: kwargs}`` for tasks given as ``{prefix: class}``.

    ``<prefix>_<argument>`` goes to that class only; a plain ``<argument>`` goes to every class
    whose constructor takes it (e.g. ``exclude_train`` to both). Anything else is a TypeError.
    """
    accepted = {prefix: set(inspect.signature(cls.__init__).parameters) - {"self"}
                for prefix, cls in classes.items()}
    routed = {prefix: {} for prefix in classes}
    for key, value in hyperparameters.items():
        targets = [prefix for prefix in classes
                   if key.startswith(prefix + "_") and key[len(prefix) + 1:] in accepted[prefix]]
        if targets:
            routed[targets[0]][key[len(targets[0]) + 1:]] = value
            continue
        targets = [prefix for prefix in classes if key in accepted[prefix]]
        if not targets:
            raise TypeError(f"unexpected hyperparameter {key!r}; give an argument of "
                            f"{' or '.join(cls.__name__ for cls in classes.values())}, "
                            f"optionally prefixed ({', '.join(p + '_' for p in classes)}).")
        for prefix in targets:
            routed[prefix][key] = value
    return routed


def de_rrd(de_weight: float = 0.01, rrd_weight: float = 0.001, **hyperparameters):
    """DE-RRD: ``L = L_base + λ_DE · L_DE + λ_RRD · L_RRD`` as ``[DE(...), RRD(...)]``.

    Kang, Hwang, Kweon, Yu, "DE-RRD: A Knowledge Distillation Framework for Recommender System"
    (CIKM 2020): distillation experts on the embeddings (``kdtfrs.tasks.DE``) and relaxed
    ranking distillation on the teacher's top lists (``kdtfrs.tasks.RRD``), trained together.
    Defaults are the paper's / DE-RRD repository's CiteULike values: λ_DE = 0.01, E = 30,
    λ_RRD = 0.001, RRD with K = 40, L = 40, T = 10 over the teacher's top-500. The paper sums
    RRD over the batch's unique users (convert λ_RRD as docs/methods.md §4 says); DE's λ
    carries over unchanged.

    Example::

        tasks = de_rrd(num_experts=5, rrd_num_interesting=20)

    Args:
      de_weight: λ_DE.
      rrd_weight: λ_RRD.
      **hyperparameters: other arguments of ``DE`` or ``RRD``; ``de_<name>`` or
        ``rrd_<name>`` sends one to that task only, a plain name to every task that takes it.
    """
    routed = split_hyperparameters(hyperparameters, {"de": DE, "rrd": RRD})
    return [DE(weight=de_weight, **routed["de"]),
            RRD(weight=rrd_weight, **{**DE_RRD_SAMPLING, **routed["rrd"]})]


PRESETS = {"de_rrd": de_rrd}
"""Method id -> function returning the tasks of the preset."""
