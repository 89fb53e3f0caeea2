"""Distillation tasks: every method of the library as a TFRS-style Keras layer.

A task returns its weighted loss from ``task(features, student_embeddings, seed)`` and logs
it as ``<name>_loss`` (see ``kdtfrs.tasks.base``). ``get(method_id, **hyperparameters)``
builds a task from its id, the ids used by the CLI and the benchmarks. Defaults follow
METHODS.md (woriazzc/KDs CiteULike / BPR configurations). ``HetComp`` is a task too, but
it is built from several teachers' trajectories (``kdtfrs.hetcomp``), so it is not in the
registry of single-teacher ids (``kdtfrs.method_ids.SCHEMES``).
"""

from kdtfrs.tasks.base import DistillationTask, step_seed
from kdtfrs.tasks.blackd import BlackD
from kdtfrs.tasks.cd import CD
from kdtfrs.tasks.dcd import DCD
from kdtfrs.tasks.de import DE
from kdtfrs.tasks.fitnet import FitNet
from kdtfrs.tasks.hetcomp import HetComp
from kdtfrs.tasks.htd import HTD
from kdtfrs.tasks.ir_rrd import IRRRD
from kdtfrs.tasks.kd import KD
from kdtfrs.tasks.pckd import PCKD, PCKDHybrid, PCKDList, PCKDPair
from kdtfrs.tasks.pointwise import BCE, MSE
from kdtfrs.tasks.presets import de_rrd
from kdtfrs.tasks.rce_kd import RCEKD
from kdtfrs.tasks.rd import RD
from kdtfrs.tasks.registry import METHODS, PRESETS, build, describe, get, method_ids
from kdtfrs.tasks.rrd import RRD, SLD
from kdtfrs.tasks.topology import FTD
from kdtfrs.tasks.unkd import UnKD
from kdtfrs.tasks.vkd import VkD

__all__ = (["DistillationTask", "HetComp", "METHODS", "PCKD", "PRESETS", "build", "de_rrd",
            "describe", "get", "method_ids", "step_seed"]
           + [cls.__name__ for cls in METHODS.values()])
