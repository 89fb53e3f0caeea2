"""The ``kdtfrs`` command line: train a backbone, evaluate it, distil a student, run the demo.

    kdtfrs train --dataset citeulike-t --model bpr_mf --dim 400 --output runs/teacher
    kdtfrs distill --method rrd --teacher runs/teacher --dim 20 --output runs/rrd
    kdtfrs evaluate --model-dir runs/rrd
    kdtfrs demo

Every run writes ``metrics.json`` next to the model it trained or evaluated.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import yaml

from kdtfrs import data, tasks, model_dir
from kdtfrs.experiment import (BackboneSpec, DataSpec, distill_student, evaluate_split,
                               load_teacher, train_backbone)
from kdtfrs.fitting import FitConfig


def _add_data_args(parser):
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", default="synthetic",
                       help=f"a dataset name ({', '.join(data.DATASETS)}) or a path to a "
                            "CSV/TSV of user,item[,timestamp] rows (default: synthetic)")
    group.add_argument("--data-dir", default=None,
                       help="folder holding the named datasets (default: $KDTFRS_DATA_DIR, "
                            "else ../shared/data beside the repository)")
    group.add_argument("--split", choices=data.SPLITS, default=None,
                       help="per-user split; default: the dataset's usual one (given split for "
                            "gowalla, ordered 8:1:1 for citeulike, random 80/10/10 otherwise)")


def _add_fit_args(parser, epochs=50):
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=int, default=epochs, help="maximum epochs")
    group.add_argument("--batch-size", type=int, default=2048, help="training pairs per step")
    group.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    group.add_argument("--negatives", type=int, default=1, help="negatives per training pair")
    group.add_argument("--patience", type=int, default=10,
                       help="evaluations without a better validation NDCG@20 before stopping")
    group.add_argument("--eval-every", type=int, default=1, help="epochs between evaluations")
    group.add_argument("--optimizer", choices=("lazy_adam", "adam"), default="lazy_adam",
                       help="Adam updating only the batch's embedding rows (default), or dense "
                            "Adam")
    group.add_argument("--seed", type=int, default=0,
                       help="seed of initialisation and sampling (and of the split, for train)")
    group.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                       help="Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch")


def _add_backbone_args(parser, dim):
    group = parser.add_argument_group("model")
    group.add_argument("--model", choices=("bpr_mf", "lightgcn"), default="bpr_mf",
                       help="backbone (default: bpr_mf)")
    group.add_argument("--dim", type=int, default=dim, help="embedding dimension")
    group.add_argument("--layers", type=int, default=3, help="LightGCN propagation layers")
    group.add_argument("--l2", type=float, default=1e-4,
                       help="weight of the per-batch L2 penalty on the embeddings used")
    group.add_argument("--loss", choices=("bpr", "softmax"), default="bpr", help="base loss")


def _fit_config(args) -> FitConfig:
    return FitConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                     num_negatives=args.negatives, patience=args.patience,
                     eval_every=args.eval_every, seed=args.seed, optimizer=args.optimizer)


def _backbone_spec(args) -> BackboneSpec:
    return BackboneSpec(args.model, args.dim, args.layers, args.l2, args.loss)


def _data_spec(args) -> DataSpec:
    return DataSpec(args.dataset, args.data_dir, args.split, args.seed)


def _parse_params(args) -> dict:
    params = {}
    if args.config:
        text = pathlib.Path(args.config).read_text()
        loaded = yaml.safe_load(text) or {}
        if not isinstance(loaded, dict):
            raise SystemExit(f"--config {args.config}: expected a mapping of hyperparameters, "
                             f"got {type(loaded).__name__}.")
        params.update(loaded)
    for item in args.param or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--param expects KEY=VALUE, got {item!r}.")
        params[key.replace("-", "_")] = yaml.safe_load(value)
    return params


def _print_metrics(title, metrics):
    print(f"\n{title}")
    for key in sorted(metrics):
        if "/" not in key:
            print(f"  {key:>12}: {metrics[key]:.4f}")


def cmd_train(args):
    _, result = train_backbone(_data_spec(args), _backbone_spec(args), _fit_config(args),
                               args.output, verbose=args.verbose)
    _print_metrics(f"test metrics ({args.output})", result["test"])


def cmd_distill(args):
    distillation = (tasks.build(args.method, **_parse_params(args))
                    if args.method != "scratch" else [])
    teacher, split, data_spec = load_teacher(args.teacher)
    _, result = distill_student(teacher, split, data_spec, distillation, _backbone_spec(args),
                                _fit_config(args), args.output, verbose=args.verbose,
                                method_id=args.method)
    _print_metrics(f"test metrics ({args.output})", result["test"])


def cmd_evaluate(args):
    description = model_dir.describe(args.model_dir)
    split = DataSpec(**description["data"]).load()
    model = model_dir.load(args.model_dir, split.train)
    metrics = evaluate_split(model, split, args.on, tuple(args.ks))
    out = pathlib.Path(args.model_dir) / f"metrics-{args.on}.json"
    out.write_text(json.dumps(metrics, indent=2))
    _print_metrics(f"{args.on} metrics ({args.model_dir}), written to {out}", metrics)


def cmd_demo(args):
    from kdtfrs.demo import run_demo

    run_demo(args.output, epochs=args.epochs, verbose=args.verbose)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kdtfrs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a backbone (a teacher, or a student "
                                "from scratch) with early stopping on validation NDCG@20")
    _add_data_args(train)
    _add_backbone_args(train, dim=64)
    _add_fit_args(train)
    train.add_argument("--output", required=True, help="model directory to write")
    train.set_defaults(run=cmd_train)

    distill = commands.add_parser("distill", help="train a student with a teacher's knowledge")
    distill.add_argument("--teacher", required=True, help="teacher model directory (from "
                         "`kdtfrs train`); the student uses the same data and split")
    distill.add_argument("--method", required=True, choices=["scratch", *tasks.method_ids()],
                         help="distillation method id ('scratch': no distillation)")
    distill.add_argument("--param", action="append", metavar="KEY=VALUE",
                         help="a method hyperparameter, e.g. --param weight=0.1 --param "
                              "num_interesting=50 (repeatable; see help(kdtfrs.tasks.X))")
    distill.add_argument("--config", help="YAML or JSON file of method hyperparameters "
                         "(--param entries override it)")
    _add_backbone_args(distill, dim=20)
    _add_fit_args(distill)
    distill.add_argument("--output", required=True, help="student model directory to write")
    distill.set_defaults(run=cmd_distill)

    evaluate = commands.add_parser("evaluate", help="full-ranking evaluation of a saved model")
    evaluate.add_argument("--model-dir", required=True, help="model directory")
    evaluate.add_argument("--on", choices=("test", "valid"), default="test",
                          help="split to evaluate (test masks train and valid items)")
    evaluate.add_argument("--ks", type=int, nargs="+", default=[10, 20, 50], help="cut-offs")
    evaluate.set_defaults(run=cmd_evaluate)

    demo = commands.add_parser("demo", help="teacher, scratch student and RRD student on the "
                               "synthetic default; prints a metrics table")
    demo.add_argument("--output", default="runs/demo", help="folder for the three models")
    demo.add_argument("--epochs", type=int, default=30, help="maximum epochs per model")
    demo.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (data.DataError, FileNotFoundError, ValueError) as error:
        print(f"kdtfrs {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
