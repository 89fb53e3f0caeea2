"""``kdtfrs pipeline run`` and ``kdtfrs pipeline compile`` (flags: ``kdtfrs.pipeline_args``).

``run_locally`` is also what ``kdtfrs demo`` runs; ``print_outcome`` prints the teacher /
scratch / distilled table, the blessing and where the student was pushed.
"""

from __future__ import annotations

import os
import pathlib
import sys

from kdtfrs import data
from kdtfrs.data.split_files import SPLIT_NAMES
from kdtfrs.experiment import BackboneSpec
from kdtfrs.fitting import FitConfig
from pipelines import kubeflow_v2_runner, local_runner
from pipelines.pipeline import check_method, create_pipeline

METHOD_NAMES = {"scratch": "scratch student"}


def job_options(args, method_params: dict) -> dict:
    """``create_pipeline`` keywords from the method, model, training and blessing flags."""
    fit = FitConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                    patience=args.patience, seed=args.seed)
    return dict(
        method=args.method, method_params=method_params,
        teacher=BackboneSpec(args.model, args.teacher_dim, args.layers),
        student=BackboneSpec(args.model, args.student_dim, args.layers),
        fit=fit, scratch_baseline=args.scratch, metric=args.metric, min_value=args.min_value,
        min_fraction_of_teacher=args.min_fraction_of_teacher, serving_k=args.k)


def stage_data(layout: local_runner.LocalLayout, source, data_dir=None, split=None,
               seed: int = 0) -> pathlib.Path:
    """The data root: a folder holding train/, eval/ and test/ as it is; a dataset name or a
    CSV split per user (``kdtfrs.data``) and written under ``OUTPUT/data/<name>``."""
    folder = pathlib.Path(source)
    if folder.is_dir():
        missing = [name for name in SPLIT_NAMES.values() if not (folder / name).is_dir()]
        if missing:
            raise ValueError(f"--data {folder}: a data folder holds train/, eval/ and test/ "
                             f"(kdtfrs.data.write_split_csv); {', '.join(missing)} missing.")
        return folder.absolute()
    interactions = data.load_dataset(source, data_dir=data_dir, split=split, seed=seed)
    if not interactions.valid.nnz:
        print(f"{interactions.name} has no validation part: 10% of each user's training items "
              "are held out for early stopping (kdtfrs.data.hold_out_validation)")
        interactions = data.hold_out_validation(interactions, seed=seed)
    print(f"data: {interactions}")
    name = source if source in data.DATASETS else folder.stem
    return local_runner.stage_split(interactions, layout.data(name))


def run_locally(output, source="synthetic", *, data_dir=None, split=None, seed=0,
                data_format="csv", beam_workers=1, beam_args=(), cache=True,
                **pipeline_options):
    """Runs the pipeline on ``source`` (``stage_data``) in the folder ``output``
    (``local_runner.LocalLayout``); ``pipeline_options`` go to ``create_pipeline``.

    Returns (summary, seconds per component, layout).
    """
    layout = local_runner.LocalLayout(output)
    local_runner.check_output(layout)
    check_method(pipeline_options.get("method", "rrd"), pipeline_options.get("method_params"))
    data_root = stage_data(layout, source, data_dir, split, seed)
    if not pathlib.Path(source).is_dir():
        data_format = "csv"  # stage_data wrote CSV
    pipeline = create_pipeline(
        local_runner.PIPELINE_NAME, layout.pipeline_root, data_root, layout.serving,
        data_format=data_format, metadata_connection_config=local_runner.metadata_config(layout),
        beam_pipeline_args=[*local_runner.beam_args(beam_workers), *beam_args],
        enable_cache=cache, **pipeline_options)
    start_xla_quietly()
    summary, seconds = local_runner.run(pipeline, layout.metadata)
    return summary, seconds, layout


def print_outcome(summary, method: str) -> None:
    """The metrics table, the blessing and where the student went."""
    from kdtfrs.demo import format_table, gap_recovered

    report = summary.report
    if report is None:
        print("the evaluator did not run: no metrics, nothing pushed.")
        return
    metrics, models = report["metrics"], report["models"]
    teacher = metrics["teacher"]["ndcg@20"]
    rows = [("teacher", models["teacher"]["dim"], metrics["teacher"], None)]
    scratch = metrics.get("scratch")
    if scratch is not None:
        rows.append(("scratch student", models["scratch"]["dim"], scratch, None))
    gap = (gap_recovered(metrics["student"]["ndcg@20"], scratch["ndcg@20"], teacher)
           if scratch is not None else None)
    rows.append((f"{METHOD_NAMES.get(method, method.upper() + ' student')}",
                 models["student"]["dim"], metrics["student"], gap))
    print(f"\n{report['data']}\ntest metrics (full ranking, train and eval items masked):")
    print(format_table(rows))
    metric, thresholds = report["metric"], report["thresholds"]
    verdict = "BLESSED" if report["blessed"] else "NOT BLESSED"
    floor = (f"{thresholds['min_value']:g} and " if thresholds["min_value"] > 0 else "")
    why = "; ".join(report["reasons"]) or (
        f"student {metric} {metrics['student'][metric]:.4f} is at least {floor}"
        f"{thresholds['min_fraction_of_teacher']:.0%} of the teacher's "
        f"{metrics['teacher'][metric]:.4f}")
    print(f"\nblessing: {verdict} ({why})")
    if summary.pushed_to is not None:
        print(f"pushed: {summary.pushed_to} (TF Serving layout: <base>/<version>/)")
    else:
        print("pushed: nothing (the Pusher pushes a blessed student only)")


def cmd_run(args, method_params: dict) -> None:
    summary, _, layout = run_locally(
        args.output, args.data, data_dir=args.data_dir, split=args.split, seed=args.seed,
        data_format=args.data_format, beam_workers=args.beam_workers,
        beam_args=args.beam_arg or [], cache=args.cache, **job_options(args, method_params))
    print_outcome(summary, args.method)
    print(f"\nrun folder: {layout.output} (artifacts/, metadata.sqlite, serving/)")


def cmd_compile(args, method_params: dict) -> None:
    resources = kubeflow_v2_runner.trainer_resources(args.gpus, args.gpu_type, args.cpus,
                                                     args.memory_gb)
    spec = kubeflow_v2_runner.compile_pipeline(
        args.output, image=args.image, pipeline_root=args.pipeline_root,
        data_root=args.data_root, serving_model_dir=args.serving_dir, pipeline_name=args.name,
        resources=resources, beam_pipeline_args=args.beam_arg or [],
        data_format=args.data_format, **job_options(args, method_params))
    tasks = sorted(spec["pipelineSpec"]["root"]["dag"]["tasks"])
    print(f"wrote {args.output}: pipeline {args.name!r}, {len(tasks)} components "
          f"({', '.join(tasks)}), image {args.image}")


def start_xla_quietly() -> None:
    """XLA announces itself on stderr the first time a function is compiled ("XLA service
    ... initialized", through absl's C++ logging, which TF_CPP_MIN_LOG_LEVEL does not reach):
    compile a trivial one with stderr closed first, so the run's output stays readable."""
    from kdtfrs._keras import tf

    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        tf.function(lambda x: x + 1, jit_compile=True)(tf.constant(1.0))
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
