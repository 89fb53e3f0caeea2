"""How large each distillation term is against the student's own loss, before training.

    python benchmarks/loss_scale.py --work /path/to/distill/work --methods ftd htd

For a method's weight, what matters is the size of its term next to BPR's: a term many times
the student's loss drowns it. On the first batch (``bpr_triples``, seed 0, distill.py's batch
size: 2048 on CiteULike-t, 4096 on Gowalla) of benchmarks/distill.py's dataset, with its
trained teacher (``--work``, trained there if missing) and an untrained 20-d student, this
records the BPR loss and each method's term at weight 1 (``task(batch, student, seed)``:
kdtfrs' per-row mean). Records:
benchmarks/results/loss_scale.json, one per dataset x method (rerun to replace).
"""

from __future__ import annotations

import math
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import RESULTS, benchmark_parser  # noqa: E402
from benchmarks.distill import SETTINGS, get_teacher  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402
from kdtfrs import tasks  # noqa: E402
from kdtfrs._keras import tf  # noqa: E402
from kdtfrs.data import bpr_triples  # noqa: E402
from kdtfrs.signals import TeacherSignals  # noqa: E402


def main(argv=None):
    parser = benchmark_parser(__doc__, "loss_scale.json", skips=False)
    parser.add_argument("--dataset", default="citeulike-t", choices=list(SETTINGS))
    parser.add_argument("--methods", nargs="+", default=["ftd", "htd"],
                        choices=tasks.method_ids())
    args = parser.parse_args(argv)
    settings = SETTINGS[args.dataset]
    distill_results = ResultsFile(RESULTS / "distill.json", ("dataset", "method", "seed"))
    teacher, split, _, _ = get_teacher(args.dataset, settings, args.work, distill_results,
                                       args.verbose)
    signals = TeacherSignals(teacher, split.train)
    student = settings["student"].build(split, 0)
    batch = next(iter(bpr_triples(split.train, settings["student_fit"].batch_size, 1, seed=0)))
    bpr = float(student.compute_loss(batch))
    results = ResultsFile(args.results, ("dataset", "method"))
    for method_id in args.methods:
        task = tasks.get(method_id, weight=1.0)
        task.prepare(signals, split.train, student)
        term = float(task(batch, student, tf.constant([0, 1])))
        if not (math.isfinite(term) and math.isfinite(bpr)):
            raise SystemExit(f"{method_id}: a non-finite loss ({term}, BPR {bpr}); nothing "
                             "recorded for it.")
        results.add({"dataset": args.dataset, "method": method_id, "bpr_loss": round(bpr, 4),
                     "term_at_weight_1": round(term, 4), "ratio": round(term / bpr, 1)})
        print(f"{method_id:<8} term at weight 1 {term:10.4f}   BPR {bpr:.4f}   "
              f"ratio {term / bpr:.1f}", flush=True)


if __name__ == "__main__":
    main()
