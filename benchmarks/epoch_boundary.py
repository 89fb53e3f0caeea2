"""What the step from one Keras epoch to the next costs, with tf.data's autotuning on and off.

    python benchmarks/epoch_boundary.py                      # CiteULike-t, BPR-MF 20-d and 400-d
    python benchmarks/epoch_boundary.py --dataset gowalla --dims 20 300 --batch-size 4096

Keras' ``fit`` deletes the dataset's iterator at the end of every epoch and makes a new one.
With autotuning on, the deleted iterator's root waits for its autotuning thread, which TF 2.16
does not wake when an iterator read inside a train function is deleted: the wait lasts until
the thread's next optimisation, a period that doubles from milliseconds towards a minute, so
the pause grows with the epoch's length. ``kdtfrs.data.bpr_triples`` turns autotuning off for
this reason (``autotune=False``, the default).

Per dimension, a BPR-MF model trains ``--epochs`` epochs on ``bpr_triples(autotune=...)``
with autotuning on, then off (same seed, so the same batches). ``train s``: the mean time from
an epoch's first step to its last; ``boundary s``: the mean (and longest) time from the end of
one epoch to the start of the next, which holds nothing but the iterator's replacement here
(no evaluation, no checkpoint). The first epoch (tracing) is left out. Records:
benchmarks/results/epoch_boundary.json, one per (dataset, dim, batch size, autotune); rerun
to replace.
"""

from __future__ import annotations

import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import benchmark_parser  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402
from kdtfrs._keras import keras  # noqa: E402
from kdtfrs.data import bpr_triples, load_dataset  # noqa: E402
from kdtfrs.models import BPRMF, LazyAdam  # noqa: E402


class EpochClock(keras.callbacks.Callback):
    """Each epoch's training seconds and the seconds between an epoch's end and the next
    epoch's start."""

    def __init__(self):
        super().__init__()
        self.train, self.boundary = [], []
        self._begin = self._end = None

    def on_epoch_begin(self, epoch, logs=None):
        self._begin = time.perf_counter()
        if self._end is not None:
            self.boundary.append(self._begin - self._end)

    def on_epoch_end(self, epoch, logs=None):
        self._end = time.perf_counter()
        self.train.append(self._end - self._begin)


def measure(split, dim, batch_size, epochs, autotune, seed=0) -> dict:
    """Trains a BPR-MF model ``epochs`` epochs; its mean epoch and boundary seconds (the first
    epoch and the boundary after it left out)."""
    keras.utils.set_random_seed(seed)
    model = BPRMF(split.num_users, split.num_items, embedding_dim=dim, seed=seed)
    model.compile(optimizer=LazyAdam(1e-3))
    clock = EpochClock()
    model.fit(bpr_triples(split.train, batch_size, seed=seed, autotune=autotune),
              epochs=epochs, callbacks=[clock], verbose=0)
    train, boundary = clock.train[1:], clock.boundary[1:]
    return {"train_seconds": round(sum(train) / len(train), 3),
            "boundary_seconds": round(sum(boundary) / len(boundary), 3),
            "boundary_max_seconds": round(max(boundary), 3)}


def main(argv=None):
    parser = benchmark_parser(__doc__, "epoch_boundary.json", trains=False, skips=False)
    parser.add_argument("--dataset", default="citeulike-t")
    parser.add_argument("--dims", type=int, nargs="+", default=[20, 400])
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    if args.epochs < 3:
        parser.error("--epochs must be at least 3: the first epoch and boundary are left out")
    split = load_dataset(args.dataset)
    results = ResultsFile(args.results, ("dataset", "dim", "batch_size", "autotune"))
    print(f"{'dim':>5}  {'autotune':<9}{'train s':>9}{'boundary s':>12}{'longest':>9}")
    for dim in args.dims:
        for autotune in (True, False):
            record = {"dataset": args.dataset, "dim": dim, "batch_size": args.batch_size,
                      "autotune": autotune, "epochs": args.epochs,
                      **measure(split, dim, args.batch_size, args.epochs, autotune)}
            results.add(record)
            print(f"{dim:>5}  {'on' if autotune else 'off':<9}{record['train_seconds']:>9.2f}"
                  f"{record['boundary_seconds']:>12.2f}{record['boundary_max_seconds']:>9.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
