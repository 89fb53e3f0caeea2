"""Backbones: every model is a ``Recommender``; teacher and student differ only in size."""

from kdtfrs.models.base import L2_FORMS, Recommender
from kdtfrs.models.bpr_mf import BPRMF
from kdtfrs.models.lazy_adam import LazyAdam
from kdtfrs.models.lightgcn import LightGCN, normalized_adjacency

__all__ = ["BPRMF", "L2_FORMS", "LazyAdam", "LightGCN", "Recommender", "normalized_adjacency"]
