"""The exact search's block size, measured: latency of ``ExactSearch`` at each block size.

    python benchmarks/exact_block_size.py                      # 1M random 20-d items, k 100
    python benchmarks/exact_block_size.py --block-sizes 64 128 --rounds 5

``kdtfrs.serving.ExactSearch`` scores every item, takes each block's maximum, keeps the k
best blocks and ranks their items: small blocks make the last step cheap and the block
maxima many. This times one user per call (``--queries`` users, after 20 warm-up calls) on
ONE TensorFlow thread, the search in a ``tf.function`` with the user table (as the exported
signature runs it, without the SavedModel's id maps), CPU time per call (the work on the one
core). The block sizes are interleaved over ``--rounds`` rounds, so that a slow spell of the
shared machine falls on all of them; each record keeps every round's p50 / p99 and their
medians. Random N(0, 1) tables of benchmarks/serving.py's ``synthetic-1m`` catalogue.
Records: benchmarks/results/exact_block_size.json (one per precision and block size;
records already there are skipped).
"""

from __future__ import annotations

import os
import pathlib
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.arguments import benchmark_parser  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402
from benchmarks.serving import K, one_thread, percentile_ms, tables  # noqa: E402

CATALOGUE = "synthetic-1m"
DIM = 20


def parse_args():
    parser = benchmark_parser(__doc__, "exact_block_size.json", trains=False)
    parser.add_argument("--block-sizes", nargs="+", type=int,
                        default=[32, 64, 128, 256, 512, 1024])
    parser.add_argument("--precisions", nargs="+", choices=("float32", "bfloat16"),
                        default=["float32"])
    parser.add_argument("--queries", type=int, default=300, help="timed calls per round")
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


def cpu_seconds(call, requests, warmup=20) -> list:
    """CPU time of each call after ``warmup`` untimed ones."""
    for request in requests[:warmup]:
        call(request).numpy()
    seconds = []
    for request in requests:
        start = time.process_time()
        call(request).numpy()
        seconds.append(time.process_time() - start)
    return seconds


def main():
    args = parse_args()
    tf = one_thread()
    from kdtfrs.serving import ExactSearch

    results = ResultsFile(args.results, ("catalogue", "precision", "block_size", "k"))
    pending = [(precision, size) for precision in args.precisions for size in args.block_sizes
               if not results.has(catalogue=CATALOGUE, precision=precision, block_size=size,
                                  k=K)]
    if not pending:
        print("every block size is recorded already")
        return
    user_table, item_table = tables(CATALOGUE, DIM)
    users = tf.Variable(user_table)
    calls = {}
    for precision, size in pending:
        search = ExactSearch(item_table, K, block_size=size, precision=precision)
        calls[precision, size] = tf.function(
            lambda ids, search=search: search(tf.gather(users, ids))[0],
            input_signature=[tf.TensorSpec([None], tf.int64)])
    rng = np.random.default_rng(0)
    rounds = {key: [] for key in calls}
    for round_index in range(args.rounds):
        for key, call in calls.items():
            requests = [tf.constant([user], tf.int64)
                        for user in rng.integers(len(user_table), size=args.queries)]
            seconds = cpu_seconds(call, requests)
            rounds[key].append((percentile_ms(seconds, 50), percentile_ms(seconds, 99)))
            print(f"round {round_index + 1}/{args.rounds} {key[0]} block {key[1]}: CPU p50 "
                  f"{rounds[key][-1][0]} ms, p99 {rounds[key][-1][1]} ms", flush=True)
    for (precision, size), measured in rounds.items():
        p50s, p99s = zip(*measured)
        results.add({"catalogue": CATALOGUE, "precision": precision, "block_size": size, "k": K,
                     "items": len(item_table), "dim": DIM, "queries": args.queries,
                     "cpu_p50_ms": float(np.median(p50s)), "cpu_p99_ms": float(np.median(p99s)),
                     "rounds": [list(pair) for pair in measured],
                     "load_average": round(os.getloadavg()[0], 2)})


if __name__ == "__main__":
    main()
