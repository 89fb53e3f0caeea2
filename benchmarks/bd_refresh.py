"""What BD's refresh of its sampling pools costs, phase by phase and whole.

    python benchmarks/bd_refresh.py                                     # CiteULike-t
    python benchmarks/bd_refresh.py --dataset gowalla --teacher-dim 300

Every ``refresh_every`` epochs ``kdtfrs.BidirectionalDistiller`` ranks every item for every
user under both models and redraws each user's pools (``kdtfrs.rank_discrepancy``). Timed
here on the dataset's training interactions with random N(0, 1) embeddings of the teacher's
and the student's widths (the cost does not depend on the values), BD's default pool size and
scales:

- one block of users as the refresh makes them, phase by phase, fastest of ``--repeats``:
  both models' scores, their ranks (``ranks_of``, and NumPy's argsort of the scores with its
  inverse permutation, the way before 2026-12-07's eighteenth session), the log weights of
  both learners, and both pools' draws;
- the whole refresh, every user, once on one thread and once split over the cores this
  process may use (``workers``).

Records: benchmarks/results/bd_refresh.json, one per (dataset, measure); rerun to replace.
"""

from __future__ import annotations

import inspect
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import benchmark_parser  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402
from kdtfrs import samplers  # noqa: E402
from kdtfrs._keras import tf  # noqa: E402
from kdtfrs.bidirectional import BidirectionalDistiller  # noqa: E402
from kdtfrs.candidate_top_k import available_cores  # noqa: E402
from kdtfrs.data import load_dataset  # noqa: E402
from kdtfrs.embeddings import Embeddings  # noqa: E402
from kdtfrs.rank_discrepancy import (  # noqa: E402
    BLOCK_ENTRIES,
    discrepancy_log_weights,
    rank_discrepancy_pools,
    ranks_of,
)
from kdtfrs.ranking import csr_row_entries  # noqa: E402

DEFAULTS = {name: parameter.default for name, parameter
            in inspect.signature(BidirectionalDistiller.__init__).parameters.items()}


def argsort_ranks(scores):
    """ranks_of's result by NumPy's argsort of the scores and its inverse permutation."""
    rows, width = scores.shape
    order = np.argsort(-scores, axis=1)
    order += (np.arange(rows) * width)[:, None]
    ranks = np.empty((rows, width), np.int32)
    ranks.reshape(-1)[order.reshape(-1)] = np.tile(np.arange(width, dtype=np.int32), rows)
    return ranks


def scores_in_rank_order(scores, ranks):
    """Each row's scores listed by ``ranks``, best first."""
    ordered = np.empty_like(scores)
    np.put_along_axis(ordered, ranks, scores, axis=1)
    return ordered


def fastest_ms(function, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def block_phases(tables, train, repeats, rng):
    """{phase: ms} of the refresh's first block of users (module docstring)."""
    block = max(1, min(train.num_users, BLOCK_ENTRIES // train.num_items))
    users = np.arange(block)
    rows, items = csr_row_entries(train, users)

    def scores():
        out = []
        for user_table, item_table in tables:
            block_scores = user_table[users] @ item_table.T
            block_scores[rows, items] = -np.inf
            out.append(block_scores)
        return out

    teacher_scores, student_scores = scores()
    ranks = [ranks_of(s) for s in (teacher_scores, student_scores)]
    for block_scores, block_ranks in zip((teacher_scores, student_scores), ranks):
        if not np.array_equal(scores_in_rank_order(block_scores, block_ranks),
                              scores_in_rank_order(block_scores, argsort_ranks(block_scores))):
            raise SystemExit("ranks_of and the argsort order the scores differently; nothing "
                             "was recorded.")

    def weights():
        return (discrepancy_log_weights(*ranks, "exp", DEFAULTS["teacher_rank_scale"]),
                discrepancy_log_weights(*ranks[::-1], "tanh", DEFAULTS["student_rank_scale"]))

    log_weights = weights()
    for each in log_weights:
        each[rows, items] = -np.inf
    return block, {
        "scores": fastest_ms(scores, repeats),
        "ranks": fastest_ms(lambda: [ranks_of(s) for s in (teacher_scores, student_scores)],
                            repeats),
        "ranks by argsort": fastest_ms(
            lambda: [argsort_ranks(s) for s in (teacher_scores, student_scores)], repeats),
        "log weights": fastest_ms(weights, repeats),
        "draws": fastest_ms(lambda: [samplers.draw_rows(each, DEFAULTS["pool_size"], rng)
                                     for each in log_weights], repeats),
    }


def whole_refresh_seconds(models, train, workers):
    start = time.perf_counter()
    rank_discrepancy_pools(*models, train, DEFAULTS["pool_size"], DEFAULTS["teacher_rank_scale"],
                           DEFAULTS["student_rank_scale"], seed=(0, 0), workers=workers)
    return time.perf_counter() - start


def main(argv=None):
    parser = benchmark_parser(__doc__, "bd_refresh.json", trains=False, skips=False)
    parser.add_argument("--dataset", default="citeulike-t")
    parser.add_argument("--teacher-dim", type=int, default=400)
    parser.add_argument("--student-dim", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of each block phase")
    args = parser.parse_args(argv)
    train = load_dataset(args.dataset).train
    rng = np.random.default_rng(0)
    tables = [(rng.standard_normal((train.num_users, dim), np.float32),
               rng.standard_normal((train.num_items, dim), np.float32))
              for dim in (args.teacher_dim, args.student_dim)]
    models = [Embeddings.from_tables(tf.constant(users), tf.constant(items))
              for users, items in tables]
    results = ResultsFile(args.results, ("dataset", "measure"))
    shape = {"dataset": args.dataset, "users": train.num_users, "items": train.num_items,
             "teacher_dim": args.teacher_dim, "student_dim": args.student_dim}
    block, phases = block_phases(tables, train, args.repeats, rng)
    for phase, ms in phases.items():
        results.add({**shape, "measure": f"block: {phase}", "block_users": block,
                     "ms": round(ms, 1)})
        print(f"block of {block} users, {phase:<20}{ms:>9.1f} ms", flush=True)
    cores = available_cores()
    for workers in sorted({1, cores}):
        seconds = whole_refresh_seconds(models, train, workers)
        measure = f"refresh: {workers} thread{'s' if workers > 1 else ''}"
        results.add({**shape, "measure": measure, "workers": workers, "seconds": round(seconds, 2)})
        print(f"whole {measure:<35}{seconds:>9.2f} s", flush=True)


if __name__ == "__main__":
    main()
