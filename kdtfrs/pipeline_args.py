"""The flags of ``kdtfrs pipeline run`` and ``kdtfrs pipeline compile`` (parsed without
TensorFlow or TFX; ``pipelines.commands`` runs them).

    kdtfrs pipeline run                                   # synthetic data, runs/pipeline
    kdtfrs pipeline run --data movielens-100k --method rrd --param weight=0.1
    kdtfrs pipeline compile --image IMAGE --output kdtfrs.json --pipeline-root gs://B/root \\
        --data-root gs://B/data --serving-dir gs://B/serving
"""

from __future__ import annotations

from kdtfrs.data.registry import DATASETS, SPLITS

METRICS = tuple(f"{kind}@{k}" for kind in ("ndcg", "recall") for k in (10, 20, 50))


def add_pipeline_parser(add, number, method_ids) -> None:
    """Adds ``pipeline`` with its actions ``run`` and ``compile``.

    ``add(name, **kwargs)`` makes a sub-parser of ``kdtfrs``; ``number(flag, ...)`` is the CLI's
    checked number type; ``method_ids`` the choices of ``--method``.
    """
    pipeline = add("pipeline", help="the TFX pipeline: ExampleGen -> validation -> teacher -> "
                   "distilled student -> evaluator -> pusher (docs/pipeline.md)")
    actions = pipeline.add_subparsers(dest="action", required=True, metavar="ACTION")
    formatter = pipeline.formatter_class

    run = actions.add_parser("run", formatter_class=formatter,
                             help="run the pipeline on this machine (LocalDagRunner, ML "
                                  "Metadata in OUTPUT/metadata.sqlite)")
    data = run.add_argument_group("data")
    data.add_argument("--data", default="synthetic",
                      help=f"a dataset name ({', '.join(DATASETS)}), a CSV/TSV of "
                           "user,item[,timestamp] rows, or a folder holding train/, eval/ and "
                           "test/ (kdtfrs.data.write_split_csv)")
    data.add_argument("--data-dir", help="folder holding the named datasets (default: "
                      "$KDTFRS_DATA_DIR, else ../shared/data beside the repository)")
    data.add_argument("--split", choices=SPLITS, help="per-user split of a dataset or CSV "
                      "(default: the dataset's usual one)")
    data.add_argument("--data-format", choices=("csv", "tfrecord"), default="csv",
                      help="format of the files in a --data folder (tfrecord: tf.Example "
                           "files, read by ImportExampleGen)")
    run.add_argument("--output", default="runs/pipeline",
                     help="folder of the run: data/, artifacts/, metadata.sqlite, serving/")
    run.add_argument("--no-cache", dest="cache", action="store_false",
                     help="rerun every component (default: reuse the results of unchanged "
                          "inputs, and resume a failed run where it failed)")
    beam = run.add_argument_group("Beam (data components)")
    beam.add_argument("--beam-workers", type=number("--beam-workers", integer=True, minimum=1),
                      default=1, help="DirectRunner processes (2 or more: multi_processing)")
    beam.add_argument("--beam-arg", action="append", metavar="FLAG",
                      help="another Beam pipeline flag, e.g. --beam-arg=--runner=FlinkRunner "
                           "(repeatable; default: none; docs/pipeline.md)")
    _add_job_args(run, number, method_ids)

    compile_ = actions.add_parser("compile", formatter_class=formatter,
                                  help="write a Kubeflow Pipelines v2 / Vertex pipeline spec")
    compile_.add_argument("--image", required=True, help="container image of every "
                          "component (with kdtfrs[pipeline] installed)")
    compile_.add_argument("--output", required=True, help="the pipeline spec JSON to write")
    compile_.add_argument("--name", default="kdtfrs",
                          help="pipeline name: lowercase letters, digits, dashes")
    where = compile_.add_argument_group("locations (gs://... on Vertex)")
    where.add_argument("--pipeline-root", required=True, help="where the artifacts go")
    where.add_argument("--data-root", required=True,
                       help="folder with train/, eval/, test/ (kdtfrs.data.write_split_csv)")
    where.add_argument("--serving-dir", required=True, help="the Pusher's destination")
    where.add_argument("--data-format", choices=("csv", "tfrecord"), default="csv",
                       help="format of the files under --data-root")
    resources = compile_.add_argument_group("Trainer resources")
    resources.add_argument("--gpus", type=number("--gpus", integer=True, minimum=0), default=1,
                           help="GPUs per Trainer (0: CPU only)")
    resources.add_argument("--gpu-type", default="NVIDIA_TESLA_T4", help="accelerator type")
    resources.add_argument("--cpus", type=number("--cpus", above=0), default=4,
                           help="CPU limit per Trainer")
    resources.add_argument("--memory-gb", type=number("--memory-gb", above=0), default=16,
                           help="memory limit per Trainer, GB")
    compile_.add_argument("--beam-arg", action="append", metavar="FLAG",
                          help="a Beam pipeline flag of the data components, e.g. "
                               "--beam-arg=--runner=DataflowRunner (repeatable; default: none)")
    _add_job_args(compile_, number, method_ids)


def _add_job_args(parser, number, method_ids) -> None:
    """Method, models, training and blessing flags, shared by run and compile."""
    method = parser.add_argument_group("distillation")
    method.add_argument("--method", default="rrd", choices=method_ids or None,
                        help="distillation method id, as `kdtfrs distill --method`")
    method.add_argument("--param", action="append", metavar="KEY=VALUE",
                        help="a method hyperparameter, e.g. --param weight=0.1 (repeatable; "
                             "default: the method's defaults)")
    method.add_argument("--config", help="YAML or JSON file of method hyperparameters; "
                        "--param entries override it (default: none)")
    models = parser.add_argument_group("models")
    models.add_argument("--model", choices=("bpr_mf", "lightgcn"), default="bpr_mf",
                        help="backbone of teacher and student")
    models.add_argument("--teacher-dim", type=number("--teacher-dim", integer=True, minimum=1),
                        default=64, help="teacher embedding dimension")
    models.add_argument("--student-dim", type=number("--student-dim", integer=True, minimum=1),
                        default=8, help="student embedding dimension")
    models.add_argument("--layers", type=number("--layers", integer=True, minimum=0),
                        default=3, help="LightGCN propagation layers")
    models.add_argument("--no-scratch", dest="scratch", action="store_false",
                        help="skip the student trained without distillation (by default "
                             "it is trained: the evaluator's baseline row)")
    models.add_argument("--k", type=number("--k", integer=True, minimum=1), default=100,
                        help="items the served model returns per user")
    fit = parser.add_argument_group("training (both Trainers)")
    fit.add_argument("--epochs", type=number("--epochs", integer=True, minimum=1), default=30,
                     help="maximum epochs")
    fit.add_argument("--batch-size", type=number("--batch-size", integer=True, minimum=1),
                     default=1024, help="training pairs per step and replica")
    fit.add_argument("--lr", type=number("--lr", above=0), default=5e-3,
                     help="Adam learning rate")
    fit.add_argument("--patience", type=number("--patience", integer=True, minimum=1),
                     default=5, help="evaluations without a better validation NDCG@20 "
                                     "before stopping")
    fit.add_argument("--seed", type=number("--seed", integer=True, minimum=0), default=0,
                     help="seed of the split, initialisation and sampling")
    blessing = parser.add_argument_group("blessing (the Pusher pushes a blessed student only)")
    blessing.add_argument("--metric", choices=METRICS, default="ndcg@20",
                          help="test metric the thresholds apply to")
    blessing.add_argument("--min-value", type=number("--min-value", minimum=0), default=0.0,
                          help="absolute threshold on the student's metric")
    blessing.add_argument("--min-fraction-of-teacher",
                          type=number("--min-fraction-of-teacher", minimum=0), default=0.5,
                          help="the student's metric must reach this fraction of the "
                               "teacher's")
