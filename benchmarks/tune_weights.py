"""Distillation weights (lambda) chosen on CiteULike-t's validation part.

    python benchmarks/tune_weights.py --methods unkd ir_rrd --factors 0.1 1 10

Each method distils a student with lambda = factor x the weight benchmarks/distill.py gives
it (its SETTINGS, else the method's default), under distill.py's protocol for seed 0: same
teacher, student, optimiser, at most 200 epochs, early stopping on validation NDCG@20 with
patience 20. A record keeps the best validation NDCG@20 and its epoch; the test metrics
are not recorded, so the choice never sees the test part. A weight that distill.py has
already run for seed 0 (factor 1, until the settings change) is copied from its record in
results/distill.json, not rerun. Records: benchmarks/results/weights.json, one per dataset x
method x weight (absolute, so records stay valid when the settings move to the chosen
weight); resumable like every benchmark here.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import RESULTS, benchmark_parser  # noqa: E402
from benchmarks.distill import (ALL_METHODS, SETTINGS, build_method,  # noqa: E402
                                get_teacher, train_student)
from benchmarks.records import ResultsFile, plain  # noqa: E402
from kdtfrs import methods  # noqa: E402
from kdtfrs.fitting import MONITOR  # noqa: E402
from kdtfrs.signals import TeacherSignals  # noqa: E402

KEY = ("dataset", "method", "weight")
DATASET = "citeulike-t"  # the dataset of the sweep with a validation part


def weighted_method(settings, method_id, factor):
    base = build_method(settings, method_id)
    config = {**base.get_config(), "weight": float(f"{base.weight * factor:.6g}")}
    return methods.get(method_id, **config)


def run(args):
    results = ResultsFile(args.results, KEY)
    settings = SETTINGS[DATASET]
    fit = dataclasses.replace(settings["student_fit"], seed=0)
    student = settings["student"]
    distilled = ResultsFile(args.distill_results, ("dataset", "method", "seed"))
    teacher = signals = None
    for method_id in args.methods:
        for factor in args.factors:
            method = weighted_method(settings, method_id, factor)
            fields = dict(dataset=DATASET, method=method_id, weight=method.weight)
            if results.has(**fields):
                continue
            config = plain(method.get_config())
            done = distilled.get(dataset=DATASET, method=method_id, seed=0)
            if done is not None and done["config"] == config:
                results.add({**fields, "config": config, "from": "distill.py seed 0",
                             "val_ndcg@20": done["best_val_ndcg@20"],
                             "best_epoch": done.get("best_epoch"),
                             "epochs": done["epochs"],
                             "seconds_per_epoch": done["seconds_per_epoch"]})
                continue
            if teacher is None:
                teacher, split, data_spec, _ = get_teacher(
                    DATASET, settings, args.work, distilled, args.verbose)
                signals = TeacherSignals(teacher, split.train)
            print(f"== {fields}", flush=True)
            result = train_student(teacher, split, data_spec, signals, method, student, fit,
                                   pathlib.Path(args.work) / DATASET
                                   / f"weight-{method_id}-{method.weight:g}", args.verbose)
            training = result["training"]
            results.add({**fields, "config": config, "from": "tune_weights.py",
                         "val_ndcg@20": training["best_" + MONITOR],
                         "best_epoch": training["best_epoch"], "epochs": training["epochs"],
                         "seconds_per_epoch": training["seconds_per_epoch"]})


def main(argv=None):
    parser = benchmark_parser(__doc__, "weights.json")
    parser.add_argument("--methods", nargs="+", required=True, choices=ALL_METHODS)
    parser.add_argument("--factors", nargs="+", type=float, default=[0.1, 1.0, 10.0],
                        help="multiples of the weight distill.py uses")
    parser.add_argument("--distill-results", default=str(RESULTS / "distill.json"),
                        help="distill.py's records: its seed-0 runs, and the teacher's record "
                             "if the teacher is trained here")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
