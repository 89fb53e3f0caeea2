"""Experiments as the CLI, the demo and the benchmarks run them: specs in, model + metrics out."""

from __future__ import annotations

import dataclasses

from kdtfrs import data, model_dir, models, tasks
from kdtfrs._keras import tf
from kdtfrs.distill import Distiller
from kdtfrs.evaluation import evaluate
from kdtfrs.fitting import FitConfig, fit_model, history_summary
from kdtfrs.provenance import DataSpec, load_verified
from kdtfrs.run_guards import RunInterrupted
from kdtfrs.strategy import describe as describe_strategy
from kdtfrs.validation import check_number


class DegenerateSplitError(data.DataFormatError):
    """A split part that a run needs is empty: its metrics would be NaN."""


@dataclasses.dataclass
class BackboneSpec:
    """Which backbone and size; teacher and student differ only in these fields."""

    model: str = "bpr_mf"
    dim: int = 64
    layers: int = 3
    l2: float = 1e-4
    loss: str = "bpr"
    l2_form: str = "rows"  # ``kdtfrs.models.Recommender``'s; written only when not "rows"

    def __post_init__(self):
        check_number("dim", self.dim, minimum=1, integer=True)
        check_number("layers", self.layers, minimum=0, integer=True)
        check_number("l2", self.l2, minimum=0)
        if self.l2_form not in models.L2_FORMS:
            raise ValueError(f"l2_form must be one of {models.L2_FORMS}, got {self.l2_form!r}.")

    def config(self) -> dict:
        """The fields as a dict, as run configs and records keep them. ``l2_form`` is named
        only when it is not the default "rows", so configs written before it existed still
        compare equal."""
        fields = dataclasses.asdict(self)
        if fields["l2_form"] == "rows":
            del fields["l2_form"]
        return fields

    def build(self, split: data.SplitData, seed: int = 0):
        common = dict(num_users=split.num_users, num_items=split.num_items,
                      embedding_dim=self.dim, loss=self.loss, l2=self.l2, seed=seed,
                      l2_form=self.l2_form)
        if self.model == "bpr_mf":
            return models.BPRMF(**common)
        if self.model == "lightgcn":
            return models.LightGCN(**common, train_matrix=split.train, num_layers=self.layers)
        raise ValueError(f"model must be 'bpr_mf' or 'lightgcn', got {self.model!r}.")


def check_split(split: data.SplitData, needs=("train", "test")) -> None:
    """Raises ``DegenerateSplitError`` if a part in ``needs`` holds no interaction.

    A run trains on ``train`` and reports metrics on ``test``: an empty one would give NaN
    metrics. (An empty ``valid`` only turns early stopping off: ``fit_model`` warns.)
    """
    for part in needs:
        if getattr(split, part).nnz == 0:
            raise DegenerateSplitError(
                f"the {part} part of {split.name} is empty ({split}): there is nothing to "
                f"{'train on' if part == 'train' else 'compute ' + part + ' metrics on'}. Use "
                f"a split that gives each user {part} items (e.g. split='random' or 'loo'), "
                f"or data with more interactions per user.")


def evaluate_split(model, split: data.SplitData, on: str = "test", ks=(10, 20, 50),
                   mask_valid: bool = True) -> dict:
    """Full-ranking metrics on ``split.test`` (train and valid masked) or ``split.valid``.

    ``mask_valid=False``: at test, only the training items are left out of the ranking and
    the validation items compete with the test items, as the reference code (KDs) evaluates;
    use it to compare with published tables (lower figures: a validation item ranked high
    takes a top slot).
    """
    if on == "test":
        truth = split.test
        exclude = (split.train, split.valid) if mask_valid else (split.train,)
    elif on == "valid":
        truth, exclude = split.valid, (split.train,)
    else:
        raise ValueError(f"on must be 'test' or 'valid', got {on!r}.")
    check_split(split, needs=(on,))
    return {key: float(value) for key, value in evaluate(model, truth, exclude, ks).metrics.items()}


def _fit(model, served, split, fit, checkpoint_dir, verbose, best_on_interrupt, save_args,
         callbacks=()):
    """``fit_model``; on an interruption, writes the best model so far to ``best_on_interrupt``."""
    try:
        return fit_model(model, served, split, fit, checkpoint_dir, verbose=verbose,
                         callbacks=callbacks)
    except RunInterrupted as interrupted:
        if best_on_interrupt is not None and interrupted.epochs_done:
            data_record, extra = save_args
            extra = {**extra, "interrupted": {"epochs_done": interrupted.epochs_done,
                                              "best_epoch": interrupted.best_epoch}}
            model_dir.save(served, best_on_interrupt, data_record, extra,
                           ids=(split.user_ids, split.item_ids))
            interrupted.saved_to = best_on_interrupt
        raise


def _finish(model, split, history, output, data_record, extra, ks=(10, 20, 50)) -> dict:
    result = {
        "test": evaluate_split(model, split, "test", ks),
        "training": history_summary(history, FitConfig(**extra["fit"]).monitor),
        **extra,
    }
    if output is not None:
        model_dir.save(model, output, data_record, extra, ids=(split.user_ids, split.item_ids),
                       metrics=result)
    return result


def train_backbone(data_spec: DataSpec, backbone: BackboneSpec, fit: FitConfig, output=None,
                   verbose=1, split=None, checkpoint_dir=None, best_on_interrupt=None,
                   extra=None, callbacks=(), strategy=None):
    """Trains a backbone from scratch; returns (model, result dict); saves it if ``output``.

    ``checkpoint_dir`` makes the run resumable (see ``kdtfrs.fitting.fit_model``);
    ``best_on_interrupt`` is where the best model so far goes if the run is interrupted;
    ``extra`` adds entries to the result and to model.json's "extra"; ``callbacks`` are
    more Keras callbacks (e.g. a progress display). ``strategy`` (a ``tf.distribute.Strategy``,
    ``kdtfrs.strategy.make_strategy``; default: the one in scope) is where the model trains;
    ``fit.batch_size`` is then per replica. Under multi-worker training every worker saves:
    give the others a scratch ``output`` (``kdtfrs.strategy.chief_output``).
    """
    split = split or data_spec.load()
    check_split(split)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = backbone.build(split, fit.seed)
    extra = {"backbone": backbone.config(), "fit": dataclasses.asdict(fit),
             "distribution": describe_strategy(strategy, fit.batch_size), **(extra or {})}
    record = data_spec.record(split)
    history = _fit(model, model, split, fit, checkpoint_dir, verbose, best_on_interrupt,
                   (record, extra), callbacks)
    return model, _finish(model, split, history, output, record, extra)


def load_teacher(teacher_dir, **data_overrides):
    """(teacher, split, data_spec) from a teacher model directory, its data verified.

    ``data_overrides`` (``dataset``, ``data_dir``, CSV options) re-point the recorded data
    (``kdtfrs.provenance.load_verified``).
    """
    description = model_dir.describe(teacher_dir)
    split, data_spec = load_verified(description["data"], teacher_dir, **data_overrides)
    return model_dir.load(teacher_dir, split.train), split, data_spec


def distill_student(teacher, split, data_spec, distillation, student: BackboneSpec,
                    fit: FitConfig, output=None, verbose=1, signals=None, checkpoint_dir=None,
                    method_id=None, best_on_interrupt=None, extra=None, callbacks=(),
                    strategy=None):
    """Trains a student with the tasks ``distillation`` (empty: from scratch).

    ``method_id`` names the run in model.json (default: the task's id, "scratch" for none);
    the other arguments as ``train_backbone``. Returns (student, result).
    """
    check_split(split)
    distillation = list(distillation)
    if method_id is None:
        method_id = "+".join(task.method_id for task in distillation) or "scratch"
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():  # the student and the tasks' variables (projectors) are mirrored
        model = student.build(split, fit.seed)
        distiller = Distiller(teacher, model, split.train, distillation, seed=fit.seed,
                              signals=signals)
    extra = {
        "backbone": student.config(),
        "fit": dataclasses.asdict(fit),
        "distribution": describe_strategy(strategy, fit.batch_size),
        "method": method_id,
        "method_config": tasks.describe(distillation) if distillation else {},
        "teacher": {"class": type(teacher).__name__, "dim": teacher.embedding_dim},
        **(extra or {}),
    }
    record = data_spec.record(split)
    history = _fit(distiller, model, split, fit, checkpoint_dir, verbose, best_on_interrupt,
                   (record, extra), callbacks)
    return model, _finish(model, split, history, output, record, extra)


__all__ = ["BackboneSpec", "DataSpec", "DegenerateSplitError", "check_split",
           "distill_student", "evaluate_split", "load_teacher", "train_backbone"]
