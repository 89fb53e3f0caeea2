"""Teacher vs scratch student vs every ranking-distillation method, same protocol.

    python benchmarks/distill.py --datasets citeulike-t --seeds 0            # one seed
    python benchmarks/distill.py                                             # full sweep
    python benchmarks/distill.py --datasets citeulike-t --methods           # scratch only

Per dataset: a BPR-MF teacher (400-d on CiteULike-t, 300-d on Gowalla, METHODS.md 1.4) is
trained once (seed 0) and kept under --work; then, per seed, a 20-d BPR-MF student from
scratch and one per method, all with the same optimiser, epochs and early stopping on
validation NDCG@20 (Gowalla's given split has no validation part: the epochs and l2 chosen by
benchmarks/tune.py on held-out training pairs). Test metrics
mask training (and validation) items. Records go to benchmarks/results/distill.json, one per
dataset x method x seed; finished records are skipped, and a run in progress resumes from
its checkpoint. A record or checkpoint made with other settings (e.g. a retuned weight) stops
the run with what to move aside, so results of two settings never mix.
``python benchmarks/report.py`` turns the records into docs/benchmarks.md.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import benchmark_parser  # noqa: E402
from benchmarks.records import (ResultsFile, claim_checkpoint, plain,  # noqa: E402
                                stale_record_error)
from kdtfrs import tasks, model_dir  # noqa: E402
from kdtfrs.experiment import (BackboneSpec, DataSpec, distill_student,  # noqa: E402
                               train_backbone)
from kdtfrs.fitting import FitConfig  # noqa: E402
from kdtfrs.signals import TeacherSignals  # noqa: E402

METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
ALL_METHODS = tasks.method_ids()

# Teacher size and per-dataset settings (METHODS.md 1.4; KDs configs where they differ).
SETTINGS = {
    "citeulike-t": {
        # L2 tuned on validation NDCG@20 over {1e-3, 1e-2, 3e-2, 1e-1} (teacher) and
        # {1e-3, 1e-2} (student): 1e-2 for both. Patience 20: with 5, validation noise
        # stopped the scratch student at 12-16 epochs on two seeds of three (test NDCG@20
        # 0.0104 +- 0.0025, results/distill-patience5.json; 0.0130 +- 0.0004 with 20).
        "teacher": BackboneSpec("bpr_mf", 400, l2=1e-2),
        "student": BackboneSpec("bpr_mf", 20, l2=1e-2),
        "teacher_fit": FitConfig(epochs=200, batch_size=2048, learning_rate=5e-3, patience=20),
        "student_fit": FitConfig(epochs=200, batch_size=2048, learning_rate=5e-3, patience=20),
        # Weights chosen on validation NDCG@20 (benchmarks/tune_weights.py, seed 0).
        "params": {
            "unkd": {"weight": 0.05},
        },
    },
    "gowalla": {
        # l2 and epochs chosen on 10% of the training pairs held out (benchmarks/tune.py,
        # docs/benchmarks.md): the best held-out NDCG@20 of l2 in {1e-4, 1e-3, 1e-2} and
        # the epoch it was reached at; both then train on all the training pairs.
        "teacher": BackboneSpec("bpr_mf", 300, l2=1e-3),
        "student": BackboneSpec("bpr_mf", 20, l2=1e-4),
        "teacher_fit": FitConfig(epochs=90, batch_size=4096, learning_rate=5e-3),
        "student_fit": FitConfig(epochs=25, batch_size=4096, learning_rate=5e-3),
        # KDs gowalla/bpr values where they differ from the CiteULike defaults, except
        # BlackD's weight: chosen on the held-out pairs (benchmarks/tune_weights.py, seed 0;
        # 0.0725 at 0.05 against 0.0715 at KDs' 0.5, 0.0645 at 0.005, scratch 0.0673).
        "params": {
            "rrd": {"weight": 0.005, "temperature": 100.0},
            "rce_kd": {"weight": 10.0, "num_top": 100, "num_closure": 50, "max_rank": 150,
                       "beta": 5.0},
            "blackd": {"weight": 0.05},
        },
    },
}


def build_method(settings, method_id):
    """The tasks of ``method_id`` with this dataset's settings; [] for the scratch student."""
    if method_id == "scratch":
        return []
    return tasks.build(method_id, **settings["params"].get(method_id, {}))


def method_config(distillation):
    """The config a record keeps of a list of tasks ({} for scratch)."""
    return plain(tasks.describe(distillation)) if distillation else {}


def teacher_dir(work, dataset):
    return pathlib.Path(work) / dataset / "teacher"


def record_of(dataset, method, seed, result, teacher_name, student_dim, seconds):
    metrics = result["test"]
    training = result["training"]
    return {
        "dataset": dataset, "method": method, "teacher": teacher_name,
        "student_dim": student_dim, "seed": seed,
        **{metric: metrics[metric] for metric in METRICS},
        "seconds_per_epoch": training["seconds_per_epoch"],
        "refresh_seconds": training["refresh_seconds"],
        "epochs": training["epochs"], "wall_seconds": round(seconds, 1),
        # The early-stopping metric (None on Gowalla, which has no validation part).
        "best_val_ndcg@20": training.get("best_val_ndcg@20"),
        "best_epoch": training.get("best_epoch"),
        "config": result.get("method_config", {}),
    }


def train_student(teacher, split, data_spec, signals, method_id, distillation, student, fit,
                  checkpoint, verbose):
    """Distils with the tasks ``distillation`` (or, with none, trains) one student, resuming
    from ``checkpoint``.

    The directory is claimed for this exact run (``claim_checkpoint``), so the state of a run
    with other settings is never resumed. Returns ``distill_student``'s result.
    """
    claim_checkpoint(checkpoint, {"method": method_id, "config": method_config(distillation),
                                  "student": dataclasses.asdict(student),
                                  "fit": dataclasses.asdict(fit)})
    _, result = distill_student(teacher, split, data_spec, distillation, student, fit,
                                verbose=verbose, signals=signals, checkpoint_dir=checkpoint,
                                method_id=method_id)
    return result


def get_teacher(dataset, settings, work, results, verbose):
    data_spec = DataSpec(dataset)
    split = data_spec.load()
    spec = settings["teacher"]
    name = f"{spec.model}-{spec.dim}"
    path = teacher_dir(work, dataset)
    if not (path / model_dir.MODEL_FILE).exists():
        start = time.perf_counter()
        _, result = train_backbone(data_spec, spec, settings["teacher_fit"], path,
                                   verbose=verbose, split=split,
                                   checkpoint_dir=pathlib.Path(work) / dataset / "teacher-state")
        results.add(record_of(dataset, "teacher", 0, result, name, spec.dim,
                              time.perf_counter() - start))
    return model_dir.load(path, split.train), split, data_spec, name


def run(args):
    results = ResultsFile(args.results, ("dataset", "method", "seed"))
    for dataset in args.datasets:
        settings = SETTINGS[dataset]
        teacher, split, data_spec, teacher_name = get_teacher(
            dataset, settings, args.work, results, args.verbose)
        signals = TeacherSignals(teacher, split.train)
        student = settings["student"]
        for seed in args.seeds:
            for method_id in ["scratch", *args.methods]:
                distillation = build_method(settings, method_id)
                config = method_config(distillation)
                record = results.get(dataset=dataset, method=method_id, seed=seed)
                if record is not None:
                    if record["config"] != config:
                        raise SystemExit(stale_record_error(results.path, record, config))
                    continue
                fit = dataclasses.replace(settings["student_fit"], seed=seed)
                print(f"== {dataset} {method_id} seed {seed}", flush=True)
                start = time.perf_counter()
                result = train_student(teacher, split, data_spec, signals, method_id,
                                       distillation, student, fit,
                                       pathlib.Path(args.work) / dataset / f"{method_id}-{seed}",
                                       args.verbose)
                results.add(record_of(dataset, method_id, seed, result, teacher_name,
                                      student.dim, time.perf_counter() - start))


def main(argv=None):
    parser = benchmark_parser(__doc__, "distill.json")
    parser.add_argument("--datasets", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--methods", nargs="*", default=list(ALL_METHODS), choices=ALL_METHODS,
                        help="the scratch student always runs; none: only it")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
