"""Ranking-distillation methods: teacher signals + seeded samplers + a ``kdtfrs.losses`` loss.

``get(method_id, **hyperparameters)`` builds a method from its id, the ids used by the CLI and
the benchmarks. Defaults follow METHODS.md (woriazzc/KDs CiteULike / BPR configurations).
"""

from kdtfrs.methods.base import DistillationMethod
from kdtfrs.methods.blackd import BlackD
from kdtfrs.methods.cd import CD
from kdtfrs.methods.dcd import DCD
from kdtfrs.methods.ir_rrd import IRRRD
from kdtfrs.methods.kd import KD
from kdtfrs.methods.pointwise import BCE, MSE
from kdtfrs.methods.rce_kd import RCEKD
from kdtfrs.methods.rd import RD
from kdtfrs.methods.rrd import RRD, SLD
from kdtfrs.methods.unkd import UnKD

METHODS = {
    cls.method_id: cls
    for cls in (KD, BlackD, MSE, BCE, RD, CD, RRD, IRRRD, SLD, DCD, UnKD, RCEKD)
}


def get(method_id: str, **hyperparameters) -> DistillationMethod:
    """Builds the method ``method_id`` (e.g. "rrd") with ``hyperparameters`` over its defaults."""
    if method_id not in METHODS:
        raise ValueError(
            f"unknown distillation method {method_id!r}; choose one of {sorted(METHODS)}."
        )
    cls = METHODS[method_id]
    try:
        return cls(**hyperparameters)
    except TypeError as error:
        raise ValueError(
            f"bad hyperparameters for method {method_id!r}: {error}. "
            f"See help(kdtfrs.methods.{cls.__name__})."
        ) from None


__all__ = ["DistillationMethod", "METHODS", "get"] + [cls.__name__ for cls in METHODS.values()]
