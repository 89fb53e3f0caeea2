"""BPR-MF and LightGCN on the LightGCN Gowalla split, next to the LightGCN paper's numbers.

    python benchmarks/backbones.py --epochs 100          # resumable; raise --epochs later

Gowalla's given split has no validation part, so each model trains a fixed number of epochs
and is evaluated once on the test part (full ranking over all 40,981 items, training items
masked), as in the paper. A rerun with a larger --epochs continues from the saved model
(optimizer state restarts) and replaces the record; an interrupted run resumes from its
checkpoint. Records: benchmarks/results/backbones.json, one per dataset x model.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import benchmark_parser  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402
from kdtfrs import model_dir  # noqa: E402
from kdtfrs.experiment import BackboneSpec, DataSpec, evaluate_split  # noqa: E402
from kdtfrs.fitting import FitConfig, fit_model, history_summary  # noqa: E402


# The LightGCN paper (He et al., SIGIR 2020), Gowalla, dimension 64 (MF row from NGCF).
PUBLISHED = {"bpr_mf": (0.1291, 0.1109), "lightgcn": (0.1830, 0.1554)}

SETTINGS = {
    "bpr_mf": (BackboneSpec("bpr_mf", 64, l2=1e-4),
               FitConfig(batch_size=2048, learning_rate=5e-3)),
    # Full-graph propagation costs ~0.3 s per step whatever the batch (COMPUTE-NOTES):
    # 8x the paper's batch of 2048 with 10x its learning rate of 1e-3.
    "lightgcn": (BackboneSpec("lightgcn", 64, layers=3, l2=1e-4),
                 FitConfig(batch_size=16384, learning_rate=1e-2)),
}


def run_one(dataset, kind, epochs, results, work, verbose):
    record = results.get(dataset=dataset, model=kind)
    done = record["epochs"] if record else 0
    if done >= epochs:
        return
    data_spec = DataSpec(dataset)
    split = data_spec.load()
    spec, fit = SETTINGS[kind]
    saved = pathlib.Path(work) / dataset / kind
    model = (model_dir.load(saved, split.train) if done else spec.build(split, fit.seed))
    print(f"== {dataset} {kind}: epochs {done} -> {epochs}", flush=True)
    fit = dataclasses.replace(fit, epochs=epochs - done)
    history = fit_model(model, model, split, fit, pathlib.Path(work) / dataset / f"{kind}-state",
                        verbose=verbose)
    start = time.perf_counter()
    metrics = evaluate_split(model, split, "test", ks=(20,))
    eval_seconds = time.perf_counter() - start
    model_dir.save(model, saved, dataclasses.asdict(data_spec))
    summary = history_summary(history)
    previous_seconds = record["seconds_per_epoch"] if record else None
    seconds = summary["seconds_per_epoch"] or previous_seconds
    recall, ndcg = PUBLISHED[kind]
    results.add({
        "dataset": dataset, "model": kind, "dim": spec.dim,
        "recall@20": metrics["recall@20"], "ndcg@20": metrics["ndcg@20"],
        "seconds_per_epoch": seconds, "epochs": epochs,
        "eval_seconds": round(eval_seconds, 2),
        "eval_users": int((split.test.row_lengths() > 0).sum()),
        "published_recall@20": recall, "published_ndcg@20": ndcg,
        "batch_size": fit.batch_size, "learning_rate": fit.learning_rate, "l2": spec.l2,
    })


def main(argv=None):
    parser = benchmark_parser(__doc__, "backbones.json")
    parser.add_argument("--models", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--epochs", type=int, default=100, help="total epochs per model")
    args = parser.parse_args(argv)
    results = ResultsFile(args.results, ("dataset", "model"))
    for kind in args.models:
        run_one("gowalla", kind, args.epochs, results, args.work, args.verbose)


if __name__ == "__main__":
    main()
