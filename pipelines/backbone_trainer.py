"""run_fn of the Trainers that train a backbone from scratch: the teacher, and the student
trained without distillation (the scratch baseline).

Reads the examples back as a kdtfrs split, trains the backbone of ``custom_config`` with
early stopping on the eval split under the distribution strategy (``pipelines.training``),
and writes the kdtfrs model directory and the SavedModel into the Model artifact.
"""

from __future__ import annotations

from kdtfrs.experiment import train_backbone
from pipelines import training


def run_fn(fn_args) -> None:
    config = fn_args.custom_config
    backbone, fit = training.settings(config)
    split, source = training.read_split(fn_args)
    model_dir, serving_dir = training.output_dirs(fn_args)
    label = config["role"]
    training.detail(f"{label}: {backbone.model} dim {backbone.dim}")
    model, result = train_backbone(
        source, backbone, fit, model_dir, verbose=0, split=split,
        extra={"pipeline": {"role": label}}, strategy=training.distribution_strategy(),
        callbacks=[training.EpochProgress(label, fit.epochs)])
    training.report(label, result)
    training.write_serving_model(model, split, model_dir, serving_dir, config)
