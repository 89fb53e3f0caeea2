"""The ``kdtfrs`` command line: train a backbone, evaluate it, distil a student, run the demo.

    kdtfrs train --dataset citeulike-t --model bpr_mf --dim 400 --output runs/teacher
    kdtfrs distill --method rrd --teacher runs/teacher --dim 20 --output runs/rrd
    kdtfrs evaluate --model-dir runs/rrd
    kdtfrs tune --teacher runs/teacher --methods scratch rrd kd --weights 0.01 0.1 1 \
        --dim 20 --output runs/weights                         # weights chosen on validation
    kdtfrs pipeline run --data movielens-100k --method rrd     # the TFX pipeline, locally
    kdtfrs demo

A run writes its model directory whole when it finishes, never over a model unless told to
(--overwrite); an interrupted run continues with the same command plus --resume. See
docs/runs.md. Exit status: 0 done, 1 training failed (non-finite loss), 2 bad input (flags,
data, model directories, output), 130 interrupted (the best model so far is kept).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings

from kdtfrs.data.registry import DATASETS, SPLITS
from kdtfrs.method_ids import METHOD_IDS, SCHEMES
from kdtfrs.pipeline_args import METRICS, add_pipeline_parser
from kdtfrs.strategy import NAMES as STRATEGIES
from kdtfrs.validation import check_number

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, unless its help already says what it is."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.default is None or action.default is False
                or action.default == argparse.SUPPRESS or "default" in text
                or not action.option_strings or action.required):
            return text
        return f"{text} (default: %(default)s)"


def _number(flag, *, integer=False, minimum=None, above=None):
    """An argparse type: a number checked by ``check_number`` under the flag's name."""

    def parse(text):
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            kind = "an integer" if integer else "a number"
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        try:
            return check_number(flag, value, minimum=minimum, above=above, integer=integer)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = "integer" if integer else "number"
    return parse


def _delimiter(text):
    value = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "space": " "}.get(text, text)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(
            f"expected one character (or tab, comma, semicolon, space), got {text!r}")
    return value


def _column(text):
    return int(text) if text.isdigit() else text


def _order_column(text):
    return False if text.lower() == "none" else _column(text)


def _add_data_args(parser, recorded=False):
    group = parser.add_argument_group(
        "data" + (" (re-point the recorded data, e.g. after it moved)" if recorded else ""))
    names = ", ".join(DATASETS)
    if recorded:
        group.add_argument("--dataset", help="the dataset name or CSV/TSV path (default: the "
                           "one recorded in model.json)")
        group.add_argument("--data-dir", help="folder holding the named datasets (default: "
                           "the one recorded in model.json)")
    else:
        group.add_argument("--dataset", default="synthetic",
                           help=f"a dataset name ({names}) or a path to a CSV/TSV of "
                                "user,item[,timestamp] rows")
        group.add_argument("--data-dir", help="folder holding the named datasets (default: "
                           "$KDTFRS_DATA_DIR, else ../shared/data beside the repository)")
        group.add_argument("--split", choices=SPLITS,
                           help="per-user split (default: the dataset's usual one: given for "
                                "gowalla, ordered 8:1:1 for citeulike, random 8:1:1 otherwise)")
    same = "the recorded one" if recorded else None
    group.add_argument("--delimiter", type=_delimiter,
                       help="CSV field separator, one character or tab/comma/semicolon/space "
                            f"(default: {same or 'tab if the first line holds one, else comma'})")
    group.add_argument("--user-column", type=_column, metavar="NAME|POS",
                       help="CSV user column, a header name or a 0-based position (default: "
                            f"{same or 'user, user_id, userId or uid; 0 with --no-header'})")
    group.add_argument("--item-column", type=_column, metavar="NAME|POS",
                       help="CSV item column (default: "
                            f"{same or 'item, item_id, itemId, movieId...; 1 with --no-header'})")
    group.add_argument("--order-column", type=_order_column, metavar="NAME|POS|none",
                       help="CSV time column for ordered splits; none: the row order (default: "
                            f"{same or 'timestamp, time, ts or order if the header has one'})")
    group.add_argument("--no-header", dest="header", action="store_false",
                       default=None if recorded else True,
                       help="the CSV's first row is data, not column names")


def _add_fit_args(parser, epochs=50, sweep=False):
    """The training flags; ``sweep``: --lr and --seed take several values, each one tried."""
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=_number("--epochs", integer=True, minimum=1),
                       default=epochs, help="maximum epochs")
    group.add_argument("--batch-size", type=_number("--batch-size", integer=True, minimum=1),
                       default=2048,
                       help="training pairs per step (per replica with --strategy mirrored or "
                            "multi_worker)")
    group.add_argument("--lr", type=_number("--lr", above=0),
                       **({"nargs": "+", "default": [1e-3], "help": "Adam learning rates to "
                           "try (each with every weight and --l2)"} if sweep else
                          {"default": 1e-3, "help": "Adam learning rate"}))
    group.add_argument("--negatives", type=_number("--negatives", integer=True, minimum=1),
                       default=1, help="negatives per training pair")
    group.add_argument("--patience", type=_number("--patience", integer=True, minimum=1),
                       default=10,
                       help="evaluations without a better validation NDCG@20 (--stop-on) "
                            "before stopping")
    if not sweep:  # tune ranks its trials on validation NDCG@20
        group.add_argument("--stop-on", choices=METRICS, default="ndcg@20",
                           help="the validation metric early stopping follows; ndcg@10 is the "
                                "reference protocol of KDs and the papers' code, to compare "
                                "with published tables (with `kdtfrs evaluate --protocol "
                                "reference`)")
    group.add_argument("--eval-every", type=_number("--eval-every", integer=True, minimum=1),
                       default=1, help="epochs between evaluations")
    group.add_argument("--optimizer", choices=("lazy_adam", "adam"), default="lazy_adam",
                       help="Adam updating only the batch's embedding rows, or dense Adam")
    group.add_argument("--seed", type=_number("--seed", integer=True, minimum=0),
                       **({"nargs": "+", "default": [0], "help": "seeds of initialisation "
                           "and sampling: each setting is trained once per seed and ranked by "
                           "its mean validation score over them"} if sweep else
                          {"default": 0, "help": "seed of initialisation and sampling (and of "
                           "the split, for train)"}))
    group.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                       help="Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch")
    group.add_argument("--strategy", choices=STRATEGIES, default="default",
                       help="tf.distribute strategy: default (one device), mirrored (every "
                            "visible GPU of this machine), multi_worker (the processes in "
                            "TF_CONFIG; only the chief writes --output). --batch-size is per "
                            "replica: a step trains on --batch-size x replicas pairs "
                            "(docs/distributed.md)")


def _add_backbone_args(parser, dim, sweep=False):
    """The model flags; ``sweep``: --l2 takes several values, each one tried."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", choices=("bpr_mf", "lightgcn"), default="bpr_mf",
                       help="backbone")
    group.add_argument("--dim", type=_number("--dim", integer=True, minimum=1), default=dim,
                       help="embedding dimension")
    group.add_argument("--layers", type=_number("--layers", integer=True, minimum=0), default=3,
                       help="LightGCN propagation layers")
    group.add_argument("--l2", type=_number("--l2", minimum=0),
                       **({"nargs": "+", "default": [1e-4], "help": "weights of the "
                           "L2 penalty to try (each with every weight and --lr; where it "
                           "applies: --l2-form)"} if sweep else
                          {"default": 1e-4, "help": "weight of the L2 penalty on the "
                           "embeddings (where it applies: --l2-form)"}))
    group.add_argument("--l2-form", choices=("rows", "tables"), default="rows",
                       help="where --l2 applies: rows (the embeddings each batch uses, the "
                            "LightGCN paper's regulariser) or tables (every row of both tables "
                            "at every step, the decay of the reference code's Adam "
                            "weight_decay; the tables' updates become dense)")
    group.add_argument("--loss", choices=("bpr", "softmax"), default="bpr", help="base loss")


def _add_output_args(parser, what):
    group = parser.add_argument_group("output")
    group.add_argument("--output", required=True,
                       help=f"{what} directory to write (a new folder, written when the run "
                            "finishes; its work area is OUTPUT.partial meanwhile)")
    group.add_argument("--overwrite", action="store_true",
                       help="replace the model already in --output (when the new one is "
                            "finished), or discard an interrupted run's work area")
    group.add_argument("--resume", action="store_true",
                       help="continue the interrupted run in OUTPUT.partial (pass the flags it "
                            "started with); without one, start a new run")


def build_parser(method_ids=METHOD_IDS) -> argparse.ArgumentParser:
    """The parser; ``method_ids`` become the choices of ``distill --method``."""
    parser = argparse.ArgumentParser(prog="kdtfrs", description=__doc__,
                                     formatter_class=_HelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, **kwargs):
        return commands.add_parser(name, formatter_class=_HelpFormatter, **kwargs)

    train = add("train", help="train a backbone (a teacher, or a student from scratch) with "
                "early stopping on validation NDCG@20")
    _add_data_args(train)
    _add_backbone_args(train, dim=64)
    _add_fit_args(train)
    _add_output_args(train, "model")
    train.add_argument("--keep-every", type=_number("--keep-every", integer=True, minimum=1),
                       metavar="N", help="also keep the model after every N epochs, in "
                       "OUTPUT/trajectory/epoch-NNNNN (model directories): the training "
                       "trajectory `kdtfrs distill --method hetcomp` learns from (default: "
                       "none kept)")

    distill = add("distill", help="train a student with a teacher's knowledge")
    teachers = distill.add_mutually_exclusive_group(required=True)
    teachers.add_argument("--teacher", help="teacher model directory (from `kdtfrs train`); "
                          "the student uses the same data and split (this or --teachers, no "
                          "default)")
    teachers.add_argument("--teachers", nargs="+", metavar="DIR",
                          help="--method hetcomp: the teachers' model directories, each trained "
                               "with `kdtfrs train --keep-every N`, on one data split (this or "
                               "--teacher, no default)")
    distill.add_argument("--method", required=True,
                         choices=["scratch", *method_ids, *SCHEMES] if method_ids else None,
                         help="distillation method id (scratch: no distillation); bd and "
                              "hetcomp are schemes beyond one frozen teacher: bd trains the "
                              "teacher too and writes it to OUTPUT/teacher, hetcomp learns "
                              "from --teachers' training trajectories (docs/methods.md)")
    distill.add_argument("--param", action="append", metavar="KEY=VALUE",
                         help="a method hyperparameter, e.g. --param weight=0.1 --param "
                              "num_interesting=50 (repeatable; default: the method's defaults, "
                              "see help(kdtfrs.tasks.X))")
    distill.add_argument("--config", help="YAML or JSON file of method hyperparameters, "
                         "--param entries override it (default: none)")
    _add_backbone_args(distill, dim=20)
    _add_fit_args(distill)
    _add_output_args(distill, "student model")
    _add_data_args(distill, recorded=True)

    tune = add("tune", help="choose distillation weights (and the student's --lr and --l2) on "
               "validation data: one student per setting, a table and a plot in OUTPUT")
    tune.add_argument("--teacher", required=True,
                      help="teacher model directory (from `kdtfrs train`); the students use its "
                           "data and split")
    tune.add_argument("--methods", nargs="+", required=True, metavar="METHOD",
                      choices=["scratch", *method_ids] if method_ids else None,
                      help="method ids to tune; scratch: the student without distillation, "
                           "once per --lr and --l2")
    tune.add_argument("--weights", nargs="+", type=_number("--weights", above=0), metavar="W",
                      help="distillation weights to try, e.g. 0.001 0.01 0.1 1 (no default; "
                           "needed unless --methods is only scratch)")
    tune.add_argument("--param", action="append", metavar="KEY=VALUE",
                      help="another hyperparameter of the method (one distillation method "
                           "only; repeatable; default: the method's defaults)")
    tune.add_argument("--config", help="YAML or JSON file of the method's other "
                      "hyperparameters (one distillation method only; default: none)")
    tune.add_argument("--hold-out", type=_number("--hold-out", above=0), default=0.1,
                      metavar="FRACTION",
                      help="data without a validation part (gowalla): hold out this fraction "
                           "of each user's training items as validation, and retrain the "
                           "teacher without them (in OUTPUT/teacher-held-out; not for "
                           "scratch students alone)")
    _add_backbone_args(tune, dim=20, sweep=True)
    _add_fit_args(tune, sweep=True)
    group = tune.add_argument_group("output")
    group.add_argument("--output", required=True,
                       help="sweep folder: trials.json, table.md, validation.svg; rerun the "
                            "same command to continue an interrupted or extended sweep")
    group.add_argument("--overwrite", action="store_true",
                       help="start the sweep in OUTPUT again (removes only the files a sweep "
                            "writes there)")
    _add_data_args(tune, recorded=True)

    evaluate = add("evaluate", help="full-ranking evaluation of a saved model")
    evaluate.add_argument("--model-dir", required=True, help="model directory")
    evaluate.add_argument("--on", choices=("test", "valid"), default="test",
                          help="split to evaluate (test masks train and valid items)")
    evaluate.add_argument("--ks", type=_number("--ks", integer=True, minimum=1), nargs="+",
                          default=[10, 20, 50], help="cut-offs")
    evaluate.add_argument("--protocol", choices=("kdtfrs", "reference"), default="kdtfrs",
                          help="test masking: kdtfrs leaves training and validation items out "
                               "of the ranking; reference leaves only training items out, as "
                               "the reference code (KDs) does, to compare with published tables "
                               "(written to metrics-test-reference.json)")
    _add_data_args(evaluate, recorded=True)

    export = add("export", help="write a model directory as a SavedModel for TF Serving, "
                 "in OUTPUT/VERSION (docs/serving.md)")
    export.add_argument("--model-dir", required=True, help="model directory to export")
    export.add_argument("--output", required=True,
                        help="export base folder (TF Serving's --model_base_path); the model "
                             "goes to OUTPUT/VERSION, written beside and renamed when complete")
    export.add_argument("--k", type=_number("--k", integer=True, minimum=1), default=100,
                        help="items per answer")
    export.add_argument("--exclude-train", action=argparse.BooleanOptionalAction, default=True,
                        help="leave each user's training items out of its list (needs the "
                             "recorded data, except for a LightGCN)")
    export.add_argument("--version", type=_number("--version", integer=True, minimum=1),
                        help="version folder (default: one above the highest in --output)")
    export.add_argument("--overwrite", action="store_true",
                        help="replace an existing SavedModel in OUTPUT/VERSION")
    export.add_argument("--search", choices=("exact", "clustered"), default="exact",
                        help="top-k search in the graph: exact, or clustered (approximate, "
                             "faster; its recall depends on the data)")
    export.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                        help="precision of the exact search's pass over every item; bfloat16 "
                             "reads half the memory and stays exact (the few blocks an error "
                             "bound cannot rule out are rescored in float32; docs/serving.md)")
    _add_data_args(export, recorded=True)

    demo = add("demo", help="the TFX pipeline on the synthetic default: teacher, scratch and "
               "RRD students, blessing, push, then one request to the pushed student")
    demo.add_argument("--output", default="runs/demo",
                      help="folder of the pipeline run (a new one, or an earlier run's)")
    demo.add_argument("--epochs", type=_number("--epochs", integer=True, minimum=1), default=30,
                      help="maximum epochs per model")
    add_pipeline_parser(add, _number, method_ids)
    return parser


_PYTHON_ARGUMENTS = {"data_dir": "--data-dir", "dataset": "--dataset", "split": "--split",
                     "delimiter": "--delimiter", "user_column": "--user-column",
                     "item_column": "--item-column", "order_column": "--order-column",
                     "overwrite": "--overwrite"}
_ARGUMENT = re.compile(r"\b(" + "|".join(_PYTHON_ARGUMENTS)
                       + r")=('[^']*'|\"[^\"]*\"|[^\s,;)]*)")


def cli_message(text: str) -> str:
    """A library message with its Python arguments (``data_dir=``) named as CLI flags."""
    text = text.replace("the data_dir argument", "--data-dir")
    text = re.sub(r"\bheader=False\b", "--no-header", text)
    text = re.sub(r"\bheader=True\b", "a header (no --no-header)", text)

    def flag(match):
        value, end = match.group(2), ""
        if value.endswith(".") and not value.startswith(("'", '"')):
            value, end = value[:-1], "."
        value = value.strip("'\"")
        value = {"None": "none", "True": "", "False": ""}.get(value, value)
        return f"{_PYTHON_ARGUMENTS[match.group(1)]}{' ' + value if value else ''}{end}"

    return _ARGUMENT.sub(flag, text)


def quiet_tensorflow() -> None:
    """Silences TensorFlow's start-up logging and third-party FutureWarnings (before TF is
    imported; TF_CPP_MIN_LOG_LEVEL set by the user wins)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    quiet_tensorflow()
    from kdtfrs import commands

    return commands.run(args)


if __name__ == "__main__":
    sys.exit(main())
