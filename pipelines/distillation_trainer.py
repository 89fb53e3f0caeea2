"""run_fn of the distillation Trainer: the student, distilled from the teacher Trainer's model.

The teacher arrives as ``base_model`` (the teacher Trainer's serving directory; its kdtfrs
model directory lies beside it, ``components.model_layout``) and must have been trained on
the same examples. ``custom_config["method"]`` is a method id of ``kdtfrs.method_ids`` (as
``kdtfrs distill --method``) and ``custom_config["method_params"]`` its hyperparameters
(``--param``); the student's backbone and fit settings as ``pipelines.training``.
"""

from __future__ import annotations

from components.model_layout import load_kdtfrs_model, model_uri_of_serving_dir
from kdtfrs import tasks
from kdtfrs.experiment import distill_student
from pipelines import training


def run_fn(fn_args) -> None:
    config = fn_args.custom_config
    if not fn_args.base_model:
        raise ValueError("the distillation Trainer needs the teacher: pass the teacher "
                         "Trainer's model as base_model.")
    backbone, fit = training.settings(config)
    split, source = training.read_split(fn_args)
    model_dir, serving_dir = training.output_dirs(fn_args)
    method, params = config["method"], config.get("method_params") or {}
    training.detail(f"student: {backbone.model} dim {backbone.dim}, distilled with {method} "
                    f"{params or '(defaults)'}")
    # The Distiller reads the teacher once, as constants (kdtfrs.signals.TeacherSignals).
    teacher = load_kdtfrs_model(model_uri_of_serving_dir(fn_args.base_model), split)
    strategy = training.distribution_strategy()
    with strategy.scope():  # the tasks' variables and metrics, mirrored
        distillation = tasks.build(method, **params)
    model, result = distill_student(
        teacher, split, source, distillation, backbone, fit, model_dir, verbose=0,
        method_id=method, extra={"pipeline": {"role": "student"}}, strategy=strategy,
        callbacks=[training.EpochProgress("student", fit.epochs)])
    training.report("student", result)
    training.write_serving_model(model, split, model_dir, serving_dir, config)
