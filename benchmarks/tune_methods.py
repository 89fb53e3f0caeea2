"""Each method's distillation weight swept with `kdtfrs tune`, under distill.py's protocol.

    python benchmarks/tune_methods.py --dataset citeulike-t --methods kd blackd rd
    python benchmarks/tune_methods.py --dataset gowalla --methods kd --factors 0.1 1 10 --seeds 0 1
    python benchmarks/tune_methods.py --dataset gowalla --methods mse --student l2_form=tables \
        --student l2=1e-7

For each method, `kdtfrs tune` trains distill.py's student (its dimension, learning rate, L2,
batch, epochs and patience) from distill.py's teacher at the weights factor x the weight
distill.py gives the method, with the method's other hyperparameters as distill.py sets them;
the scratch student runs once as the reference. ``--student KEY=VALUE`` changes the student
of every trial, the scratch one included, as distill.py's ``--student`` does (e.g. the
whole-table decay of the tuned scratch student). The test part is never read: CiteULike-t is
tuned on its validation part, Gowalla on 10% of each user's training pairs held out (`kdtfrs
tune` trains the teacher again without them, once, in OUTPUT/teacher-held-out).

The sweep goes to benchmarks/results/tune-<dataset>-methods/ (with ``--student``,
tune-<dataset>-methods-<key>-<value>... in a fixed key order, so two student settings never
share a sweep): trials.json, table.md and validation.svg (validation NDCG@20 against the
weight, a line per method). It resumes like
every benchmark here: a rerun skips finished trials and continues the interrupted one; more
methods, factors or seeds extend it. benchmarks/report.py sets each method's best weight beside
the one distill.py runs (``weights_against_sweep``), so a table row not yet rerun at the
sweep's choice shows.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import CHECKPOINTS, RESULTS  # noqa: E402
from benchmarks.distill import (BACKBONE_KEYS, SETTINGS, STUDENT_KEYS,  # noqa: E402
                                build_method, get_teacher, parse_student, teacher_dir,
                                with_student)
from benchmarks.records import ResultsFile  # noqa: E402
from kdtfrs import cli, tasks, tuning  # noqa: E402


def tune_arguments(settings, method, factors, seeds) -> list[str]:
    """The `kdtfrs tune` options that sweep ``method`` (or the scratch student) under
    ``settings`` (a dataset's distill.py SETTINGS), without --teacher and --output."""
    student, fit = settings["student"], settings["student_fit"]
    argv = ["--methods", method, "--model", student.model, "--dim", student.dim,
            "--layers", student.layers, "--loss", student.loss, "--l2", student.l2,
            "--l2-form", student.l2_form,
            "--lr", fit.learning_rate, "--epochs", fit.epochs, "--batch-size", fit.batch_size,
            "--negatives", fit.num_negatives, "--patience", fit.patience,
            "--eval-every", fit.eval_every, "--optimizer", fit.optimizer,
            "--seed", *seeds]
    if method == "scratch":
        return [str(arg) for arg in argv]
    task, = build_method(settings, method)
    argv += ["--weights", *(f"{factor * task.weight:.6g}" for factor in factors)]
    for key, value in settings["params"].get(method, {}).items():
        if key != "weight":
            argv += ["--param", f"{key}={value}"]
    return [str(arg) for arg in argv]


def sweep_name(dataset, overrides) -> str:
    """The default sweep folder's name: tune-<dataset>-methods, and each ``--student``
    override ({key: value}) as -<key>-<value>, in ``STUDENT_KEYS`` order."""
    return "-".join([f"tune-{dataset}-methods", *(
        f"{key}-{overrides[key]}" for key in STUDENT_KEYS if key in overrides)])


def student_overrides_of(dataset, trials, sweep) -> dict:
    """The ``--student`` overrides ({key: value}) that give a methods sweep's student:
    its recorded settings (``sweep``, a sweep.json; lr and l2 from its ``trials``) where
    they differ from distill.py's SETTINGS, in ``STUDENT_KEYS`` order."""
    student, fit = SETTINGS[dataset]["student"], SETTINGS[dataset]["student_fit"]
    recorded = {**sweep.get("fit", {}),
                "l2_form": sweep.get("student", {}).get("l2_form", "rows")}
    for key in ("learning_rate", "l2"):
        values = {trial[key] for trial in trials if key in trial}
        recorded[key] = values.pop() if len(values) == 1 else None
    overrides = {}
    for key in STUDENT_KEYS:
        in_use = getattr(student if key in BACKBONE_KEYS else fit, key)
        if key in recorded and recorded[key] is not None and recorded[key] != in_use:
            overrides[key] = recorded[key]
    return overrides


def weights_against_sweep(dataset, trials) -> list[dict]:
    """Per method a sweep of ``dataset`` tuned (``trials``, a trials.json): ``weight`` in
    distill.py's SETTINGS, the sweep's ``best`` weight and its validation NDCG@20, and
    whether they agree (distill.py's rows already run at the sweep's choice)."""
    best = tuning.best_settings(tuning.settings(trials))
    rows = []
    for method, row in best.items():
        if method == "scratch":
            continue
        weight = weight_in_use(dataset, method)
        rows.append({"method": method, "weight": weight, "best": row["weight"],
                     "score": row[tuning.MONITOR],
                     "agrees": math.isclose(weight, row["weight"], rel_tol=1e-5)})
    return rows


def weight_in_use(dataset, method) -> float:
    """The weight benchmarks/distill.py gives ``method`` (one task) on ``dataset``."""
    task, = build_method(SETTINGS[dataset], method)
    return task.weight


def held_out_at_weights_in_use(dataset, sources, weights=None) -> dict:
    """{method: (its held-out NDCG@20, the scratch student's)}, seed 0, at the weight
    distill.py runs, for a dataset tuned on held-out pairs. ``sources`` are lists of records
    (``method``, ``weight``, ``val_ndcg@20``, optional ``seed``), each with its own scratch
    record, later sources first: a method is compared with the scratch of its own source.
    ``weights`` ({method: weight}) replaces distill.py's weights, for a table run at others."""
    scores = {}
    for records in sources:
        records = [r for r in records if r.get("seed", 0) == 0 and r.get("val_ndcg@20")]
        scratch = next((r["val_ndcg@20"] for r in records if r["method"] == "scratch"), None)
        if scratch is None:
            continue
        for r in records:
            if (r["method"] not in scores and r["method"] in single_weight_methods()
                    and math.isclose(r["weight"], (weights or {}).get(
                        r["method"], weight_in_use(dataset, r["method"])),
                                     rel_tol=1e-5)):
                scores[r["method"]] = (r["val_ndcg@20"], scratch)
    return scores


def single_weight_methods() -> list[str]:
    """Method ids distilled by one task (one weight to sweep): all but the presets."""
    return [method for method in tasks.method_ids() if len(tasks.build(method)) == 1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="citeulike-t", choices=list(SETTINGS))
    parser.add_argument("--methods", nargs="+", required=True, choices=single_weight_methods())
    parser.add_argument("--factors", nargs="+", type=float, default=[0.1, 1.0, 10.0],
                        help="weights to try, as multiples of distill.py's weight")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--output", help="the sweep folder (default: "
                        "benchmarks/results/tune-<dataset>-methods)")
    parser.add_argument("--work", default=str(CHECKPOINTS),
                        help="distill.py's teachers (trained there if missing)")
    parser.add_argument("--student", action="append", default=[], metavar="KEY=VALUE",
                        help="change every trial's student as distill.py's --student does "
                             "(repeatable, e.g. l2_form=tables)")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    args = parser.parse_args(argv)
    if any(factor <= 0 for factor in args.factors):
        parser.error("--factors must be positive multiples of distill.py's weight")
    overrides = dict(map(parse_student, args.student))
    if "stop_on" in overrides:
        parser.error("--student stop_on: `kdtfrs tune` ranks and stops its trials on validation "
                     "NDCG@20; leave stop_on out of a sweep")
    try:
        settings = with_student(SETTINGS[args.dataset], overrides)
    except (TypeError, ValueError) as error:
        parser.error(f"--student: {error}")
    output = args.output or str(RESULTS / sweep_name(args.dataset, overrides))
    get_teacher(args.dataset, settings, args.work,
                ResultsFile(RESULTS / "distill.json", ("dataset", "method", "seed")), args.verbose)
    common = ["--teacher", str(teacher_dir(args.work, args.dataset)), "--output", output,
              "--verbose", str(args.verbose)]
    for method in ["scratch", *dict.fromkeys(args.methods)]:
        print(f"== {args.dataset} {method}", flush=True)
        status = cli.main(["tune", *common,
                           *tune_arguments(settings, method, args.factors, args.seeds)])
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
