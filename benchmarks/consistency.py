"""PCKD's central claim, measured: does its regulariser keep the projected ranking consistent?

    python benchmarks/consistency.py --datasets citeulike-t --work /path/to/distill/work
    python benchmarks/consistency.py --methods de pckd_list --epochs 8

Zhu & Zhang (TKDE 2025) say DE's projectors rank a user's items differently from the student
they project, and that PCKD's preference-consistency regulariser fixes it. Here each method
(DE, PCKD pair-wise, list-wise, hybrid: benchmarks/distill.py's settings, teacher and
student) trains one student for ``--epochs`` epochs (8 by default: where every one of them
peaked on CiteULike-t's validation in distill.py), and after every epoch
``kdtfrs.consistency.preference_consistency`` compares the student's own scores with those of
the projected student for a fixed sample of users, on two item sets: the teacher's top-50 of
each user (where the ranking matters) and 50 items drawn uniformly. Records (one per dataset x
method x seed x epoch, added as each epoch ends; finished ones are skipped and a run resumes
from its checkpoint): benchmarks/results/consistency.json with the mean top-10 overlap and
Spearman's rho of each item set, and the epoch's validation NDCG@20.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import RESULTS, benchmark_parser  # noqa: E402
from benchmarks.distill import SETTINGS, build_method, get_teacher  # noqa: E402
from benchmarks.records import ResultsFile, claim_checkpoint, plain  # noqa: E402
from kdtfrs import tasks  # noqa: E402
from kdtfrs._keras import keras, tf  # noqa: E402
from kdtfrs.consistency import preference_consistency  # noqa: E402
from kdtfrs.experiment import distill_student  # noqa: E402
from kdtfrs.signals import TeacherSignals  # noqa: E402

METHODS = ("de", "pckd_pair", "pckd_list", "pckd_hybrid")
USERS = 500  # users measured, drawn once per dataset
ITEMS = 50  # items per user in each item set
TOP_K = 10  # the overlap's K


class ConsistencyRecorder(keras.callbacks.Callback):
    """After each epoch, the preference consistency of the task's projectors (one record)."""

    def __init__(self, task, item_sets, users, results, key):
        super().__init__()
        self.task, self.item_sets, self.users = task, item_sets, users
        self.results, self.key = results, key

    def on_epoch_end(self, epoch, logs=None):
        if self.results.has(**self.key, epoch=epoch + 1):
            return
        validation = (logs or {}).get("val_ndcg@20")
        if validation is None:
            raise RuntimeError(f"epoch {epoch + 1} logged no val_ndcg@20 (the dataset needs a "
                               "validation part, evaluated every epoch): nothing recorded.")
        record = {**self.key, "epoch": epoch + 1, "val_ndcg@20": float(validation)}
        for name, items in self.item_sets.items():
            measured = preference_consistency(self.model.student, self.task, self.users, items,
                                              k=TOP_K, seed=tf.constant([0, epoch]))
            for metric, values in measured.items():
                value = float(tf.reduce_mean(values))
                if not np.isfinite(value):
                    raise FloatingPointError(f"{metric} on {name} is {value} at epoch "
                                             f"{epoch + 1}: nothing recorded for it.")
                record[f"{metric}_{name}"] = round(value, 4)
        self.results.add(record)
        print(f"   epoch {epoch + 1}: overlap@{TOP_K} top {record['overlap_teacher_top']:.3f} "
              f"uniform {record['overlap_uniform']:.3f}, spearman top "
              f"{record['spearman_teacher_top']:.3f} uniform {record['spearman_uniform']:.3f}",
              flush=True)


def item_sets(signals, num_users, num_items, seed):
    """(users int32 [U], {"teacher_top": [U, ITEMS], "uniform": [U, ITEMS]}), fixed per seed."""
    rng = np.random.default_rng(seed)
    users = np.sort(rng.choice(num_users, size=min(USERS, num_users), replace=False))
    top = signals.top_items(ITEMS, True)[users].astype(np.int32)
    uniform = np.stack([rng.choice(num_items, size=ITEMS, replace=False) for _ in users])
    return users.astype(np.int32), {"teacher_top": top, "uniform": uniform.astype(np.int32)}


def run(args):
    results = ResultsFile(args.results, ("dataset", "method", "seed", "epoch"))
    distill_results = ResultsFile(RESULTS / "distill.json", ("dataset", "method", "seed"))
    for dataset in args.datasets:
        settings = SETTINGS[dataset]
        teacher, split, data_spec, _ = get_teacher(dataset, settings, args.work,
                                                   distill_results, args.verbose)
        signals = TeacherSignals(teacher, split.train)
        users, items = item_sets(signals, split.train.num_users, split.train.num_items, 0)
        for method_id in args.methods:
            for seed in args.seeds:
                key = {"dataset": dataset, "method": method_id, "seed": seed}
                if all(results.has(**key, epoch=e) for e in range(1, args.epochs + 1)):
                    continue
                distillation = build_method(settings, method_id)
                fit = dataclasses.replace(settings["student_fit"], seed=seed, epochs=args.epochs,
                                          patience=args.epochs)  # no early stop
                checkpoint = claim_checkpoint(
                    pathlib.Path(args.work) / dataset / f"consistency-{method_id}-{seed}",
                    {"method": method_id, "config": plain(tasks.describe(distillation)),
                     "student": settings["student"].config(),
                     "fit": dataclasses.asdict(fit)})
                recorder = ConsistencyRecorder(distillation[0], items, users, results, key)
                print(f"== {dataset} {method_id} seed {seed}: {args.epochs} epochs", flush=True)
                start = time.perf_counter()
                distill_student(teacher, split, data_spec, distillation, settings["student"],
                                fit, verbose=args.verbose, signals=signals,
                                checkpoint_dir=checkpoint, method_id=method_id,
                                callbacks=[recorder])
                print(f"   {time.perf_counter() - start:.0f} s", flush=True)


def main(argv=None):
    parser = benchmark_parser(__doc__, "consistency.json")
    parser.add_argument("--datasets", nargs="+", default=["citeulike-t"], choices=list(SETTINGS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=8)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
