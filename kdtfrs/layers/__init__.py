"""Keras layers that distillation tasks own and train with the student: projectors and gates."""

from kdtfrs.layers.expert_projector import ExpertProjector, SelectionGate, annealed_temperature
from kdtfrs.layers.orthogonal_projector import OrthogonalProjector

__all__ = ["ExpertProjector", "OrthogonalProjector", "SelectionGate", "annealed_temperature"]
