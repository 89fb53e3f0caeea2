"""BPR-MF hyperparameters on a part held out of Gowalla's training pairs.

    python benchmarks/tune.py --dims 300 --l2 1e-3 1e-2        # resumable, one record per run
    python benchmarks/tune.py --dims 20 --l2 1e-4 1e-3 1e-2

Gowalla's given split has no validation part, so 10% of each user's training items (seeded,
``kdtfrs.data.hold_out_validation``) are held out. Each (dimension, l2, learning rate) trains
on the other 90% with early stopping on the held-out NDCG@20, evaluated every --eval-every
epochs. A record keeps the best held-out NDCG@20 and the epoch it was reached at; the chosen
setting then trains on the whole training part for that many epochs (SETTINGS in
benchmarks/distill.py), so the test part is never used for a choice. Records:
benchmarks/results/tuning.json, one per dataset x dim x l2 x learning rate x batch size.
"""

from __future__ import annotations

import itertools
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import benchmark_parser  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402
from kdtfrs.data import hold_out_validation  # noqa: E402
from kdtfrs.experiment import BackboneSpec, DataSpec  # noqa: E402
from kdtfrs.fitting import MONITOR, FitConfig, fit_model, history_summary  # noqa: E402

KEY = ("dataset", "dim", "l2", "learning_rate", "batch_size")


def tune_one(split, dataset, dim, l2, learning_rate, args, work):
    fit = FitConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=learning_rate,
                    patience=args.patience, eval_every=args.eval_every)
    model = BackboneSpec("bpr_mf", dim, l2=l2).build(split, fit.seed)
    summary = history_summary(fit_model(model, model, split, fit, work, verbose=args.verbose))
    return {
        "dataset": dataset, "dim": dim, "l2": l2, "learning_rate": learning_rate,
        "batch_size": args.batch_size, "held_out_ndcg@20": summary["best_" + MONITOR],
        "best_epoch": summary["best_epoch"], "epochs_run": summary["epochs"],
        "seconds_per_epoch": summary["seconds_per_epoch"],
    }


def run(args):
    results = ResultsFile(args.results, KEY)
    split = None
    for dim, l2, learning_rate in itertools.product(args.dims, args.l2, args.learning_rates):
        fields = dict(dataset=args.dataset, dim=dim, l2=l2, learning_rate=learning_rate,
                      batch_size=args.batch_size)
        if results.has(**fields):
            continue
        if split is None:
            split = hold_out_validation(DataSpec(args.dataset).load(), seed=0)
        print(f"== {fields}", flush=True)
        work = pathlib.Path(args.work) / args.dataset / f"tune-{dim}-{l2}-{learning_rate}"
        results.add(tune_one(split, args.dataset, dim, l2, learning_rate, args, work))


def main(argv=None):
    parser = benchmark_parser(__doc__, "tuning.json")
    parser.add_argument("--dataset", default="gowalla")
    parser.add_argument("--dims", nargs="+", type=int, default=[300, 20])
    parser.add_argument("--l2", nargs="+", type=float, default=[1e-4, 1e-3, 1e-2])
    parser.add_argument("--learning-rates", nargs="+", type=float, default=[5e-3])
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=150, help="at most this many epochs")
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--patience", type=int, default=2, help="evaluations without gain")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
