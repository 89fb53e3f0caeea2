"""Distillation weights (lambda) chosen on validation data, never on the test part.

    python benchmarks/tune_weights.py --methods unkd ir_rrd --factors 0.1 1 10
    python benchmarks/tune_weights.py --dataset gowalla --methods unkd sld --factors 0.01 0.1 1

Each method distils a student with lambda = factor x the weight benchmarks/distill.py gives
it (its SETTINGS, else the method's default), under distill.py's protocol for seed 0: same
teacher settings, student, optimiser, epochs and early-stopping patience. A record keeps the
best validation NDCG@20 and its epoch; test metrics are not recorded.

Validation data: CiteULike-t's own validation part. Gowalla's split has none, so 10% of each
user's training items are held out (seeded, as benchmarks/tune.py does) and a teacher with
distill.py's teacher settings is trained on the other 90% (early stopping on the held-out
part, kept under --work as ``teacher-held-out``); students distil from that teacher.

References, recorded first for each dataset: the teacher's validation NDCG@20 (evaluated) and
the scratch student's (method ``scratch``, weight 0). Where the validation part is the
dataset's own, a run distill.py has already made for seed 0 with the same config (factor 1,
and the scratch student) is copied from results/distill.json, not rerun. Records:
benchmarks/results/weights.json, one per dataset x method x weight (absolute, so records
stay valid when the settings move to the chosen weight); resumable like every benchmark here.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import RESULTS, benchmark_parser  # noqa: E402
from benchmarks.distill import (SETTINGS, build_method,  # noqa: E402
                                get_teacher, train_student)
from benchmarks.records import ResultsFile, plain  # noqa: E402
from kdtfrs import tasks, model_dir  # noqa: E402
from kdtfrs.data import hold_out_validation  # noqa: E402
from kdtfrs.experiment import DataSpec, evaluate_split, train_backbone  # noqa: E402
from kdtfrs.fitting import MONITOR  # noqa: E402
from kdtfrs.signals import TeacherSignals  # noqa: E402

KEY = ("dataset", "method", "weight")
HELD_OUT_TEACHER = "teacher-held-out"


def weighted_method(settings, method_id, factor):
    base, = build_method(settings, method_id)
    config = {**base.get_config(), "weight": float(f"{base.weight * factor:.6g}")}
    return tasks.get(method_id, **config)


@dataclasses.dataclass
class Validation:
    """The teacher, split (with a validation part) and signals the weights are chosen with."""

    teacher: object
    split: object
    data_spec: DataSpec
    signals: TeacherSignals


def validation_setup(dataset, settings, work, distilled, verbose) -> Validation:
    """The dataset's own validation part, or 10% of the training pairs held out (then with
    a teacher trained on the other 90%)."""
    data_spec = DataSpec(dataset)
    split = data_spec.load()
    if split.valid.nnz:
        teacher, split, data_spec, _ = get_teacher(dataset, settings, work, distilled, verbose)
        return Validation(teacher, split, data_spec, TeacherSignals(teacher, split.train))
    split = hold_out_validation(split, seed=0)
    path = pathlib.Path(work) / dataset / HELD_OUT_TEACHER
    if not (path / model_dir.MODEL_FILE).exists():
        print(f"== {dataset} teacher on the held-out split", flush=True)
        train_backbone(data_spec, settings["teacher"], settings["teacher_fit"], path,
                       verbose=verbose, split=split,
                       checkpoint_dir=pathlib.Path(work) / dataset / f"{HELD_OUT_TEACHER}-state")
    teacher = model_dir.load(path, split.train)
    return Validation(teacher, split, data_spec, TeacherSignals(teacher, split.train))


def has_own_validation(dataset):
    """Whether the dataset's split has a validation part (distill.py's runs then used it)."""
    return bool(DataSpec(dataset).load().valid.nnz)


def copied_run(distilled, dataset, method_id, config):
    """distill.py's seed-0 record of this config as a weights record, or None."""
    done = distilled.get(dataset=dataset, method=method_id, seed=0)
    if done is None or done["config"] != config:
        return None
    return {"config": config, "from": "distill.py seed 0",
            "val_ndcg@20": done["best_val_ndcg@20"], "best_epoch": done.get("best_epoch"),
            "epochs": done["epochs"], "seconds_per_epoch": done["seconds_per_epoch"]}


def trained_run(validation, method, student, fit, checkpoint, verbose):
    config = plain(method.get_config()) if method else {}
    result = train_student(validation.teacher, validation.split, validation.data_spec,
                           validation.signals, method.method_id if method else "scratch",
                           [method] if method else [], student, fit, checkpoint, verbose)
    training = result["training"]
    return {"config": config, "from": "tune_weights.py",
            "val_ndcg@20": training["best_" + MONITOR], "best_epoch": training["best_epoch"],
            "epochs": training["epochs"], "seconds_per_epoch": training["seconds_per_epoch"]}


def run(args):
    results = ResultsFile(args.results, KEY)
    distilled = ResultsFile(args.distill_results, ("dataset", "method", "seed"))
    dataset, settings = args.dataset, SETTINGS[args.dataset]
    fit = dataclasses.replace(settings["student_fit"], seed=0)
    student = settings["student"]
    work = pathlib.Path(args.work) / dataset
    validation = None
    own_validation = has_own_validation(dataset)
    runs = [("scratch", None)] + [(method_id, weighted_method(settings, method_id, factor))
                                  for method_id in args.methods for factor in args.factors]
    if not results.has(dataset=dataset, method="teacher", weight=None):
        validation = validation_setup(dataset, settings, args.work, distilled, args.verbose)
        metrics = evaluate_split(validation.teacher, validation.split, "valid", ks=(20,))
        results.add({"dataset": dataset, "method": "teacher", "weight": None,
                     "from": "evaluated", "val_ndcg@20": metrics["ndcg@20"]})
    for method_id, method in runs:
        fields = dict(dataset=dataset, method=method_id, weight=method.weight if method else 0.0)
        if results.has(**fields):
            continue
        config = plain(method.get_config()) if method else {}
        if own_validation:
            record = copied_run(distilled, dataset, method_id, config)
            if record is not None:
                results.add({**fields, **record})
                continue
        if validation is None:
            validation = validation_setup(dataset, settings, args.work, distilled, args.verbose)
        print(f"== {fields}", flush=True)
        name = f"weight-{method_id}-{method.weight:g}" if method else "weight-scratch"
        results.add({**fields, **trained_run(validation, method, student, fit, work / name,
                                             args.verbose)})


def main(argv=None):
    parser = benchmark_parser(__doc__, "weights.json")
    parser.add_argument("--dataset", default="citeulike-t", choices=list(SETTINGS))
    parser.add_argument("--methods", nargs="+", required=True, choices=list(tasks.METHODS))
    parser.add_argument("--factors", nargs="+", type=float, default=[0.1, 1.0, 10.0],
                        help="multiples of the weight distill.py uses")
    parser.add_argument("--distill-results", default=str(RESULTS / "distill.json"),
                        help="distill.py's records: its seed-0 runs, and the teacher's record "
                             "if the teacher is trained here")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
