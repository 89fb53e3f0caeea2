"""The one registry of methods: every id the CLI, the benchmarks and the pipeline know.

A method id names either one task (``get``) or a preset, several tasks trained together
(``kdtfrs.tasks.presets``); ``build`` takes both and returns the list a ``Distiller`` takes.
"""

from __future__ import annotations

from kdtfrs import method_ids as known_ids
from kdtfrs.tasks.base import DistillationTask
from kdtfrs.tasks.blackd import BlackD
from kdtfrs.tasks.cd import CD
from kdtfrs.tasks.dcd import DCD
from kdtfrs.tasks.de import DE
from kdtfrs.tasks.fitnet import FitNet
from kdtfrs.tasks.htd import HTD
from kdtfrs.tasks.ir_rrd import IRRRD
from kdtfrs.tasks.kd import KD
from kdtfrs.tasks.pckd import PCKDHybrid, PCKDList, PCKDPair
from kdtfrs.tasks.pointwise import BCE, MSE
from kdtfrs.tasks.presets import PRESETS
from kdtfrs.tasks.rce_kd import RCEKD
from kdtfrs.tasks.rd import RD
from kdtfrs.tasks.rrd import RRD, SLD
from kdtfrs.tasks.topology import FTD
from kdtfrs.tasks.unkd import UnKD
from kdtfrs.tasks.vkd import VkD

RANKING = (KD, BlackD, MSE, BCE, RD, CD, RRD, IRRRD, SLD, DCD, UnKD, RCEKD)
"""The ranking methods: distilled on the teacher's scores and ranked lists."""

FEATURE = (FitNet, DE, PCKDPair, PCKDList, PCKDHybrid, FTD, HTD, VkD)
"""The feature and relational methods: distilled on embeddings, through projectors."""

METHODS = {cls.method_id: cls for cls in RANKING + FEATURE}
"""Method id -> task class, for every method that is one task. ``PRESETS`` (from
``kdtfrs.tasks.presets``) maps the ids made of several tasks to the function building them."""


if (*METHODS, *PRESETS) != known_ids.METHOD_IDS:
    raise ImportError(
        f"kdtfrs.method_ids.METHOD_IDS {known_ids.METHOD_IDS} does not list the registered "
        f"methods {(*METHODS, *PRESETS)}: add the new id there (the CLI reads it)."
    )
if set(known_ids.SCHEMES) & set(known_ids.METHOD_IDS):
    raise ImportError(f"kdtfrs.method_ids.SCHEMES {known_ids.SCHEMES} repeats a task id: a "
                      "scheme is not a task of this registry.")

_SCHEME_ADVICE = {
    "bd": "kdtfrs.BidirectionalDistiller(teacher, student, train) trains both models",
    "hetcomp": "kdtfrs.tasks.HetComp(knowledge=kdtfrs.hetcomp.TrajectoryKnowledge."
               "from_directories(teacher_dirs, train)) learns from several teachers",
}


def method_ids() -> tuple[str, ...]:
    """Every id ``build`` accepts: the tasks', then the presets'."""
    return (*METHODS, *PRESETS)


def get(method_id: str, **hyperparameters) -> DistillationTask:
    """The task ``method_id`` (e.g. "rrd") with ``hyperparameters`` over its defaults."""
    if method_id in PRESETS:
        raise ValueError(
            f"{method_id!r} is a preset of several tasks: build it with "
            f"kdtfrs.tasks.build({method_id!r}), which returns the list of its tasks."
        )
    return _construct(METHODS, method_id, hyperparameters)


def build(method_id: str, **hyperparameters) -> list[DistillationTask]:
    """The tasks of ``method_id``: ``[get(method_id, ...)]``, or a preset's list."""
    if method_id in PRESETS:
        return list(_construct(PRESETS, method_id, hyperparameters))
    return [get(method_id, **hyperparameters)]


def describe(distillation) -> dict:
    """The hyperparameters of a list of tasks: one task's config, or ``{name: config}``."""
    distillation = list(distillation)
    if len(distillation) == 1:
        return distillation[0].get_config()
    return {task.name: task.get_config() for task in distillation}


def _construct(table, method_id, hyperparameters):
    if method_id in _SCHEME_ADVICE:
        raise ValueError(f"{method_id!r} is a training scheme, not a single-teacher task: "
                         f"{_SCHEME_ADVICE[method_id]}.")
    if method_id not in table:
        raise ValueError(
            f"unknown distillation method {method_id!r}; choose one of {sorted(method_ids())}."
        )
    factory = table[method_id]
    try:
        return factory(**hyperparameters)
    except TypeError as error:
        raise ValueError(
            f"bad hyperparameters for method {method_id!r}: {error}. "
            f"See help(kdtfrs.tasks.{factory.__name__})."
        ) from None
