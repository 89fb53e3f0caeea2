"""Experiments as the CLI, the demo and the benchmarks run them: specs in, model + metrics out."""

from __future__ import annotations

import dataclasses
import json
import pathlib

from kdtfrs import data, model_dir, models, tasks
from kdtfrs.distill import Distiller
from kdtfrs.evaluation import evaluate
from kdtfrs.fitting import FitConfig, fit_model, history_summary


@dataclasses.dataclass
class DataSpec:
    """Which data and split: enough to rebuild the same ``SplitData`` anywhere."""

    dataset: str = "synthetic"
    data_dir: str | None = None
    split: str | None = None
    seed: int = 0

    def load(self) -> data.SplitData:
        return data.load_dataset(self.dataset, data_dir=self.data_dir, split=self.split,
                                 seed=self.seed)


@dataclasses.dataclass
class BackboneSpec:
    """Which backbone and size; teacher and student differ only in these fields."""

    model: str = "bpr_mf"
    dim: int = 64
    layers: int = 3
    l2: float = 1e-4
    loss: str = "bpr"

    def build(self, split: data.SplitData, seed: int = 0):
        common = dict(num_users=split.num_users, num_items=split.num_items,
                      embedding_dim=self.dim, loss=self.loss, l2=self.l2, seed=seed)
        if self.model == "bpr_mf":
            return models.BPRMF(**common)
        if self.model == "lightgcn":
            return models.LightGCN(**common, train_matrix=split.train, num_layers=self.layers)
        raise ValueError(f"model must be 'bpr_mf' or 'lightgcn', got {self.model!r}.")


def evaluate_split(model, split: data.SplitData, on: str = "test", ks=(10, 20, 50)) -> dict:
    """Full-ranking metrics on ``split.test`` (train and valid masked) or ``split.valid``."""
    if on == "test":
        truth, exclude = split.test, (split.train, split.valid)
    elif on == "valid":
        truth, exclude = split.valid, (split.train,)
    else:
        raise ValueError(f"on must be 'test' or 'valid', got {on!r}.")
    return {key: float(value) for key, value in evaluate(model, truth, exclude, ks).metrics.items()}


def _finish(model, split, history, output, data_spec, extra, ks=(10, 20, 50)) -> dict:
    result = {
        "test": evaluate_split(model, split, "test", ks),
        "training": history_summary(history),
        **extra,
    }
    if output is not None:
        model_dir.save(model, output, dataclasses.asdict(data_spec), extra)
        (pathlib.Path(output) / "metrics.json").write_text(json.dumps(result, indent=2))
    return result


def train_backbone(data_spec: DataSpec, backbone: BackboneSpec, fit: FitConfig, output=None,
                   verbose=1, split=None, checkpoint_dir=None):
    """Trains a backbone from scratch; returns (model, result dict); saves it if ``output``.

    ``checkpoint_dir`` makes the run resumable (see ``kdtfrs.fitting.fit_model``).
    """
    split = split or data_spec.load()
    model = backbone.build(split, fit.seed)
    history = fit_model(model, model, split, fit, checkpoint_dir, verbose=verbose)
    extra = {"backbone": dataclasses.asdict(backbone), "fit": dataclasses.asdict(fit)}
    return model, _finish(model, split, history, output, data_spec, extra)


def load_teacher(teacher_dir):
    """(teacher, split, data_spec) from a teacher model directory."""
    description = model_dir.describe(teacher_dir)
    data_spec = DataSpec(**description["data"])
    split = data_spec.load()
    return model_dir.load(teacher_dir, split.train), split, data_spec


def distill_student(teacher, split, data_spec, distillation, student: BackboneSpec,
                    fit: FitConfig, output=None, verbose=1, signals=None, checkpoint_dir=None,
                    method_id=None):
    """Trains a student with the tasks ``distillation`` (empty: from scratch).

    ``method_id`` names the run in model.json (default: the task's id, "scratch" for none).
    Returns (student, result).
    """
    distillation = list(distillation)
    if method_id is None:
        method_id = "+".join(task.method_id for task in distillation) or "scratch"
    model = student.build(split, fit.seed)
    distiller = Distiller(teacher, model, split.train, distillation, seed=fit.seed,
                          signals=signals)
    history = fit_model(distiller, model, split, fit, checkpoint_dir, verbose=verbose)
    extra = {
        "backbone": dataclasses.asdict(student),
        "fit": dataclasses.asdict(fit),
        "method": method_id,
        "method_config": tasks.describe(distillation) if distillation else {},
        "teacher": {"class": type(teacher).__name__, "dim": teacher.embedding_dim},
    }
    return model, _finish(model, split, history, output, data_spec, extra)
