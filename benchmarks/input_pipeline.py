"""What the BPR input pipeline costs a training epoch.

    python benchmarks/input_pipeline.py                       # CiteULike-t, batch 2048
    python benchmarks/input_pipeline.py --dataset gowalla --batch-size 4096

Four timings of one epoch of ``kdtfrs.data.bpr_triples`` (the pipeline every training path
reads), each the median over ``--epochs`` epochs after a first one left out (tracing, and the
cache's filling); the median, as single epochs of this machine's VM now and then take twice as
long:

- ``pipeline s``: the dataset iterated alone, nothing trained: what producing an epoch's
  batches costs (shuffle, gathers, negative sampling) when it has the machine to itself;
- ``train s, live``: a BPR-MF model of ``--dim`` trained on it, as every run trains;
- ``train s, cached``: the same model trained on the same pipeline followed by
  ``Dataset.cache()``, so every epoch after the first reads finished batches from memory;
- ``grouped``: trained on the cached batches again, compiled with
  ``steps_per_execution=--steps-per-execution`` (16), so Keras runs that many steps per call
  of its compiled function and its per-step Python work (the step loop, the batch callbacks)
  happens once per group.

``live - cached`` is what producing the batches adds to an epoch (the pipeline runs beside the
steps, on the same cores); ``cached - grouped`` is what Keras's per-step loop adds. Records:
benchmarks/results/input_pipeline.json, one per (dataset, batch size, dim); rerun to
replace.
"""

from __future__ import annotations

import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import benchmark_parser  # noqa: E402
from benchmarks.epoch_boundary import EpochClock  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402
from kdtfrs._keras import keras  # noqa: E402
from kdtfrs.data import bpr_triples, load_dataset  # noqa: E402
from kdtfrs.models import BPRMF, LazyAdam  # noqa: E402


def iterate_seconds(dataset, epochs) -> float:
    """Median seconds of one pass over ``dataset`` (the first of ``epochs + 1`` left out)."""
    seconds = []
    for _ in range(epochs + 1):
        start = time.perf_counter()
        for _ in dataset:
            pass
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds[1:])


def train_seconds(split, dataset, dim, epochs, seed=0, steps_per_execution=1) -> float:
    """Median training seconds of an epoch of BPR-MF on ``dataset`` (the first left out)."""
    keras.utils.set_random_seed(seed)
    model = BPRMF(split.num_users, split.num_items, embedding_dim=dim, seed=seed)
    model.compile(optimizer=LazyAdam(1e-3), steps_per_execution=steps_per_execution)
    clock = EpochClock()
    model.fit(dataset, epochs=epochs + 1, callbacks=[clock], verbose=0)
    return statistics.median(clock.train[1:])


def main(argv=None):
    parser = benchmark_parser(__doc__, "input_pipeline.json", trains=False, skips=False)
    parser.add_argument("--dataset", default="citeulike-t")
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=9, help="epochs timed per way")
    parser.add_argument("--steps-per-execution", type=int, default=16,
                        help="steps per call of the compiled function, for `grouped`")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.steps_per_execution < 1:
        parser.error("--steps-per-execution must be at least 1")
    split = load_dataset(args.dataset)

    def pipeline():
        return bpr_triples(split.train, args.batch_size, seed=0)

    results = ResultsFile(args.results, ("dataset", "batch_size", "dim"))
    record = {"dataset": args.dataset, "batch_size": args.batch_size, "dim": args.dim,
              "epochs": args.epochs,
              "batches": int(pipeline().cardinality()),
              "pipeline_seconds": iterate_seconds(pipeline(), args.epochs),
              "train_live_seconds": train_seconds(split, pipeline(), args.dim, args.epochs),
              "train_cached_seconds": train_seconds(split, pipeline().cache(), args.dim,
                                                    args.epochs),
              "steps_per_execution": args.steps_per_execution,
              "train_grouped_seconds": train_seconds(split, pipeline().cache(), args.dim,
                                                     args.epochs,
                                                     steps_per_execution=args.steps_per_execution)}
    record = {key: round(value, 3) if isinstance(value, float) else value
              for key, value in record.items()}
    results.add(record)
    print(f"{'dataset':<12}{'batches':>8}{'pipeline s':>12}{'train s, live':>15}"
          f"{'cached':>8}{'grouped':>9}")
    print(f"{args.dataset:<12}{record['batches']:>8}{record['pipeline_seconds']:>12.2f}"
          f"{record['train_live_seconds']:>15.2f}{record['train_cached_seconds']:>8.2f}"
          f"{record['train_grouped_seconds']:>9.2f}")


if __name__ == "__main__":
    main()
