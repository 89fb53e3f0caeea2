"""The kdtfrs TFX pipeline: interactions in, a distilled student pushed for TF Serving out.

    ExampleGen -> StatisticsGen -> ExampleValidator -> DataValidationGate
      (ImportSchemaGen: the curated schema, pipelines/schema/schema.pbtxt)
    -> TeacherTrainer -> StudentTrainer (base_model: the teacher)   [+ ScratchTrainer]
    -> FullRankingEvaluator (student vs teacher [and scratch]) -> Pusher (blessed student only)

``create_pipeline`` builds it for any orchestrator; ``pipelines.local_runner`` runs it with
``LocalDagRunner`` and ``pipelines.kubeflow_v2_runner`` compiles it for Kubeflow Pipelines v2
/ Vertex. The data root holds one folder per split (``kdtfrs.data.write_split_csv``): the
split is per user, made by kdtfrs.data, and ExampleGen reads each folder as one split.
"""

from __future__ import annotations

import dataclasses
import pathlib

from tfx import v1 as tfx

from components import DataValidationGate, FullRankingEvaluator
from components.full_ranking_evaluator import check_metric
from kdtfrs.data.split_files import SPLIT_NAMES
from kdtfrs.experiment import BackboneSpec
from kdtfrs.fitting import FitConfig

SCHEMA_FILE = pathlib.Path(__file__).resolve().with_name("schema") / "schema.pbtxt"
DATA_FORMATS = ("csv", "tfrecord")
BACKBONE_RUN_FN = "pipelines.backbone_trainer.run_fn"
DISTILLATION_RUN_FN = "pipelines.distillation_trainer.run_fn"


def split_input_config() -> tfx.proto.Input:
    """ExampleGen's input: the folders train/, eval/ and test/ of the data root, one split each
    (the per-user split of kdtfrs.data; never a hash over rows)."""
    return tfx.proto.Input(splits=[tfx.proto.Input.Split(name=name, pattern=f"{name}/*")
                                   for name in SPLIT_NAMES.values()])


def _trainer_args():
    """Train on ``train``; the run_fn reads ``eval`` (early stopping) and ``test`` too, to
    index users and items over all the data and mask them at evaluation."""
    return dict(train_args=tfx.proto.TrainArgs(splits=["train"]),
                eval_args=tfx.proto.EvalArgs(splits=["eval", "test"]))


def check_method(method: str, method_params: dict | None = None) -> None:
    """Raises ValueError when ``method`` is not a method id or refuses ``method_params``."""
    from kdtfrs import tasks

    try:
        tasks.build(method, **(method_params or {}))
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"method {method!r} with {method_params or {}}: {error}") from None


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    serving_model_dir: str,
    *,
    data_format: str = "csv",
    method: str = "rrd",
    method_params: dict | None = None,
    teacher: BackboneSpec | None = None,
    student: BackboneSpec | None = None,
    fit: FitConfig | None = None,
    scratch_baseline: bool = True,
    metric: str = "ndcg@20",
    min_value: float = 0.0,
    min_fraction_of_teacher: float = 0.5,
    serving_k: int = 100,
    beam_pipeline_args=None,
    metadata_connection_config=None,
    enable_cache: bool = True,
    trainer_resources=None,
) -> tfx.dsl.Pipeline:
    """The pipeline (module docstring).

    Args:
      pipeline_name: letters, digits and dashes (Kubeflow's rule).
      pipeline_root: where the artifacts go (a folder, gs://...).
      data_root: the split folders (``kdtfrs.data.write_split_csv``): CSV, or with
        ``data_format="tfrecord"`` tf.Example TFRecord files (ImportExampleGen).
      serving_model_dir: the Pusher's destination: ``<dir>/<version>/saved_model.pb``.
      method, method_params: a distillation method id of ``kdtfrs.method_ids`` and its
        hyperparameters, as ``kdtfrs distill --method ... --param ...``.
      teacher, student, fit: the backbones and the optimisation settings (both Trainers use
        ``fit``); defaults: BPR-MF of dim 64 and 8, ``FitConfig()``.
      scratch_baseline: also train the student's backbone without distillation, for the
        evaluator's table (off in production: it costs a training).
      metric, min_value, min_fraction_of_teacher: the blessing thresholds
        (``components.FullRankingEvaluator``).
      serving_k: how many items the served model returns per user.
      beam_pipeline_args: Beam flags of the data components (e.g. the DirectRunner's
        ``--direct_running_mode=multi_processing``, or Dataflow's; docs/pipeline.md).
      metadata_connection_config: ML Metadata store (local runs; Kubeflow brings its own).
      trainer_resources: a Kubeflow V2 ``ResourceSpec`` (CPU, memory, GPUs) for the Trainers.
    """
    if data_format not in DATA_FORMATS:
        raise ValueError(f"data_format must be one of {DATA_FORMATS}, got {data_format!r}.")
    check_metric(metric)
    method_params = dict(method_params or {})
    check_method(method, method_params)
    teacher = teacher or BackboneSpec(dim=64)
    student = student or BackboneSpec(dim=8)
    fit = fit or FitConfig()
    serving = {"k": int(serving_k)}

    def trainer_config(role, backbone, **more):
        return {"role": role, "backbone": backbone.config(),
                "fit": dataclasses.asdict(fit), "serving": serving, **more}

    example_gen_class = (tfx.components.CsvExampleGen if data_format == "csv"
                         else tfx.components.ImportExampleGen)
    example_gen = example_gen_class(input_base=str(data_root),
                                    input_config=split_input_config())
    examples = example_gen.outputs["examples"]
    schema_gen = tfx.components.ImportSchemaGen(schema_file=str(SCHEMA_FILE))
    schema = schema_gen.outputs["schema"]
    statistics_gen = tfx.components.StatisticsGen(examples=examples, schema=schema)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema)
    gate = DataValidationGate(statistics=statistics_gen.outputs["statistics"], schema=schema,
                              anomalies=example_validator.outputs["anomalies"])

    teacher_trainer = tfx.components.Trainer(
        run_fn=BACKBONE_RUN_FN, examples=examples, schema=schema,
        custom_config=trainer_config("teacher", teacher), **_trainer_args(),
    ).with_id("TeacherTrainer")
    student_trainer = tfx.components.Trainer(
        run_fn=DISTILLATION_RUN_FN, examples=examples, schema=schema,
        base_model=teacher_trainer.outputs["model"],
        custom_config=trainer_config("student", student, method=method,
                                     method_params=method_params),
        **_trainer_args(),
    ).with_id("StudentTrainer")
    trainers = [teacher_trainer, student_trainer]
    scratch_model = None
    if scratch_baseline:
        scratch_trainer = tfx.components.Trainer(
            run_fn=BACKBONE_RUN_FN, examples=examples, schema=schema,
            custom_config=trainer_config("scratch", student), **_trainer_args(),
        ).with_id("ScratchTrainer")
        trainers.insert(1, scratch_trainer)
        scratch_model = scratch_trainer.outputs["model"]
    for trainer in trainers:
        trainer.add_upstream_node(gate)
        if trainer_resources is not None:
            trainer.with_platform_config(trainer_resources)

    evaluator = FullRankingEvaluator(
        examples=examples, model=student_trainer.outputs["model"],
        baseline_model=teacher_trainer.outputs["model"], scratch_model=scratch_model,
        metric=metric, min_value=float(min_value),
        min_fraction_of_teacher=float(min_fraction_of_teacher))
    pusher = tfx.components.Pusher(
        model=student_trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=str(serving_model_dir))))

    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=str(pipeline_root),
        components=[example_gen, schema_gen, statistics_gen, example_validator, gate,
                    *trainers, evaluator, pusher],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(beam_pipeline_args or []),
    )
