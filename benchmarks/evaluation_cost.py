"""What one full evaluation costs with short lists picked by group maxima and without.

    python benchmarks/evaluation_cost.py                 # CiteULike-t and Gowalla
    python benchmarks/evaluation_cost.py --datasets citeulike-t --dim 20

``kdtfrs.evaluate`` of an untrained BPR-MF (the cost does not depend on its weights): every
test user ranked over the catalogue, training (and validation) items masked, top 50. Two
ways: ``grouped`` (``kdtfrs.grouped_top_k``, what ``top_k_items`` takes for these lists) and
``top_k`` (``tf.math.top_k`` of every row, the way before 2026-12-06), the second made by
raising ``grouped_top_k.MIN_LENGTH_RATIO`` out of reach. Both ways' metrics are checked equal.
Seconds: the fastest of ``--repeats`` calls after a warm-up. Records:
benchmarks/results/evaluation_cost.json, one per (dataset, dim, way); rerun to replace.
"""

from __future__ import annotations

import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import benchmark_parser  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402
from kdtfrs import grouped_top_k, ranking  # noqa: E402
from kdtfrs.data import load_dataset  # noqa: E402
from kdtfrs.evaluation import evaluate  # noqa: E402
from kdtfrs.models import BPRMF  # noqa: E402


def evaluation_seconds(model, split, grouped, repeats):
    """(fastest seconds, metrics) of ``evaluate`` with or without group maxima."""
    ranking._BLOCK_RANKERS.clear()  # rankers are cached per k: choose the way afresh
    ratio = grouped_top_k.MIN_LENGTH_RATIO
    if not grouped:
        grouped_top_k.MIN_LENGTH_RATIO = float("inf")
    try:
        exclude = [split.train] + ([split.valid] if split.valid.nnz else [])
        result = evaluate(model, split.test, exclude)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            evaluate(model, split.test, exclude)
            best = min(best, time.perf_counter() - start)
    finally:
        grouped_top_k.MIN_LENGTH_RATIO = ratio
        ranking._BLOCK_RANKERS.clear()
    return best, result


def main(argv=None):
    parser = benchmark_parser(__doc__, "evaluation_cost.json", trains=False, skips=False)
    parser.add_argument("--datasets", nargs="+", default=["citeulike-t", "gowalla"])
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    results = ResultsFile(args.results, ("dataset", "dim", "way"))
    for dataset in args.datasets:
        split = load_dataset(dataset)
        model = BPRMF(split.train.num_users, split.train.num_items, args.dim, seed=0)
        measured = {way: evaluation_seconds(model, split, way == "grouped", args.repeats)
                    for way in ("grouped", "top_k")}
        if measured["grouped"][1].metrics != measured["top_k"][1].metrics:
            raise SystemExit(f"{dataset}: the two ways' metrics differ: not recorded.")
        for way, (seconds, _) in measured.items():
            results.add({"dataset": dataset, "dim": args.dim, "way": way,
                         "seconds": round(seconds, 3)})
            print(f"{dataset:<12} {way:<8} {seconds:6.2f} s", flush=True)


if __name__ == "__main__":
    main()
