"""What ranking one block of users costs, by list length k and the way the top k is picked.

    python benchmarks/long_top_k.py                        # CiteULike-t's and Gowalla's items
    python benchmarks/long_top_k.py --items 25181 --ks 500 3000 --repeats 3

The per-epoch refreshes (CD's student top-3,000, DCD's and RCE-KD's lists) and the teacher
lists of RRD, DCD and the others (top-500) rank every item for each user with
``kdtfrs.ranking.top_k_items``: blocks of 2,048 users, scores with the excluded items at -inf,
then the top k. Four ways to pick it, timed on one block of random 20-d embeddings (the cost
does not depend on the values), with the same -inf slots (2% of the block's entries):

- ``xla``: scores and ``tf.math.top_k`` in one XLA-compiled function (the way for every k
  before 2026-12-04);
- ``top_k``: XLA-compiled scores, then ``tf.math.top_k`` outside XLA (the way now for k
  below ``candidate_top_k.MIN_K``);
- ``candidates``: XLA-compiled scores, then ``kdtfrs.candidate_top_k`` on the host (a
  threshold from maxima of groups of columns, then one NumPy sort of the entries not below it,
  rows split over the cores), at every k with groups of at least 2 columns
  (``candidate_top_k.group_size``), so the table shows where ``candidate_top_k.MIN_K``
  belongs;
- ``grouped``: XLA-compiled scores over the item table padded to a multiple of
  ``grouped_top_k.GROUP`` rows (the padding masked), then ``kdtfrs.grouped_top_k`` (the top k
  of the groups of columns with the best maxima), where ``grouped_top_k.worthwhile`` allows it.

Beside them, ``scores``: the XLA-compiled masked scores alone, brought to the host, which every
way but ``xla`` starts with. And a floor for the ways on the host, where ``candidates`` is
timed: ``sort_floor``, one NumPy sort of exactly k int64 keys per row (random ones, the
rows split over the cores as ``candidate_top_k`` splits them), with no scores, threshold or
selection: what an exact list sorted on the host costs at least, whatever finds its k entries.
It is not a top k, so its lists are not checked. Where ``candidates`` is worthwhile, its host
part is also split into its phases on one thread (``phase:`` records, ``threads`` 1): the
threshold, the candidates' packed keys, their sort and the decoding of each row's first k,
each timed alone on the same block, and ``phase:total``, ``candidate_top_k`` itself on one
thread; ``phase:candidate_keys`` also records how many candidates a row has, over k
(``candidates_per_k``, the block's mean). Beside them, the threshold ``candidate_top_k`` took
before 2026-12-07's fifteenth session, kept as a baseline (``sampled_threshold``):
``phase:sampled_threshold`` alone and ``phase:sampled_total``, the same steps after it (its
lists checked equal to ``candidate_top_k``'s; its ``candidates_per_k`` recorded).

Each way's lists are checked equal to ``xla``'s. ``used`` names the way ``top_k_items`` takes
now (``candidates`` where ``candidate_top_k.worthwhile``, else ``grouped`` where
``grouped_top_k.worthwhile``, else ``top_k``). Fastest of 5 rounds of ``--repeats`` calls.
Records: benchmarks/results/long_top_k.json, one per (items, k, way); rerun to replace.
"""

from __future__ import annotations

import math
import pathlib
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import benchmark_parser  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402
from benchmarks.step_cost import milliseconds_per_call  # noqa: E402
from kdtfrs import candidate_top_k, grouped_top_k  # noqa: E402
from kdtfrs._keras import tf  # noqa: E402
from kdtfrs.ranking import _masked_scores  # noqa: E402

MASKED_SHARE = 0.02
SAMPLE_STRIDE, SAMPLE_MARGIN = 8, 7.0  # the baseline threshold's design
UNCHECKED = ("scores", "sort_floor")  # not top-k lists


def ways(num_items, k, batch, dim, seed=0):
    """{way: a function of no argument returning NumPy (values, indices)} for one block."""
    rng = np.random.default_rng(seed)
    users = tf.constant(rng.normal(size=(batch, dim)).astype(np.float32))
    items = tf.constant(rng.normal(size=(num_items, dim)).astype(np.float32))
    rows = tf.range(batch)
    count = int(MASKED_SHARE * batch * num_items)
    slots = tf.constant(np.stack([rng.integers(0, batch, count),
                                  rng.integers(0, num_items, count)], 1).astype(np.int32))
    scores_of = tf.function(_masked_scores, jit_compile=True)

    @tf.function(jit_compile=True)
    def in_xla():
        top = tf.math.top_k(_masked_scores(users, items, rows, slots), k)
        return top.values, top.indices

    @tf.function
    def top_k(scores):
        top = tf.math.top_k(scores, k)
        return top.values, top.indices

    def on_host(function):
        return lambda: tuple(tensor.numpy() for tensor in function())

    found = {"xla": on_host(in_xla),
             "scores": lambda: (scores_of(users, items, rows, slots).numpy(), None),
             "top_k": on_host(lambda: top_k(scores_of(users, items, rows, slots)))}
    if candidate_top_k.group_size(k, num_items) >= 2:
        found["candidates"] = lambda: candidate_top_k.candidate_top_k(
            scores_of(users, items, rows, slots).numpy(), k)
        keys = rng.integers(0, 1 << 62, size=(batch, k))
        found["sort_floor"] = lambda: sorted_rows(keys)
    if grouped_top_k.worthwhile(k, num_items):
        padding = np.arange(num_items, grouped_top_k.padded_length(num_items))
        padded_items = tf.pad(items, [[0, padding.size], [0, 0]])
        padded_slots = tf.concat([slots, tf.constant(np.stack(
            [np.repeat(np.arange(batch), padding.size), np.tile(padding, batch)], 1),
            tf.int32)], 0)
        by_groups = tf.function(lambda scores: grouped_top_k.grouped_top_k(scores, k))
        found["grouped"] = on_host(
            lambda: by_groups(scores_of(users, padded_items, rows, padded_slots)))
    return found


def host_phases(scores, k):
    """({phase: a function of no argument}, candidates per row over k): ``candidate_top_k``'s
    steps on one thread, each alone on its inputs, and the whole (module docstring)."""
    column_bits = (scores.shape[1] - 1).bit_length()
    thresholds = candidate_top_k.threshold(scores, k)
    keys, starts = candidate_top_k.candidate_keys(scores, thresholds, column_bits)
    sorted_keys = np.sort(keys)
    return {
        "threshold": lambda: candidate_top_k.threshold(scores, k),
        "candidate_keys": lambda: candidate_top_k.candidate_keys(scores, thresholds,
                                                                 column_bits),
        "sort": lambda: np.sort(keys),
        "decode": lambda: candidate_top_k.decoded_top(sorted_keys, starts, k, column_bits),
        "total": lambda: candidate_top_k.candidate_top_k(scores, k, workers=1),
    }, len(keys) / (len(starts) * k)


def sampled_threshold(num_columns, k, seed=0):
    """The baseline threshold, a function of scores [b, n] -> float32 [b]: each row's j-th
    best score among a fixed random 1 / ``SAMPLE_STRIDE`` of its columns, j =
    ceil(k / STRIDE + MARGIN sqrt(k / STRIDE)), ``MARGIN`` standard deviations above where the
    k-th best falls among them (``candidate_top_k`` before 2026-12-07's fifteenth session,
    which ranked a whole block where a row had fewer than k entries not below it)."""
    count = -(-num_columns // SAMPLE_STRIDE)
    columns = np.sort(np.random.default_rng(seed).choice(num_columns, count, replace=False))
    expected = k / SAMPLE_STRIDE
    position = count - math.ceil(expected + SAMPLE_MARGIN * math.sqrt(expected))
    return lambda scores: np.partition(scores[:, columns], position, axis=1)[:, position]


def sampled_phases(scores, k):
    """({phase: a function of no argument}, candidates per row over k): the baseline
    threshold alone, and its top k through ``candidate_top_k``'s later steps, on one thread;
    None where some row has fewer than k candidates (the baseline's fallback is not kept)."""
    column_bits = (scores.shape[1] - 1).bit_length()
    threshold = sampled_threshold(scores.shape[1], k)

    def top_k():
        keys, starts = candidate_top_k.candidate_keys(scores, threshold(scores), column_bits)
        keys.sort()
        return candidate_top_k.decoded_top(keys, starts, k, column_bits)

    keys, starts = candidate_top_k.candidate_keys(scores, threshold(scores), column_bits)
    if np.diff(starts, append=len(keys)).min() < k:
        return None
    expected = candidate_top_k.candidate_top_k(scores, k, workers=1)
    if not all(np.array_equal(a, b) for a, b in zip(top_k(), expected)):
        raise SystemExit(f"the sampled threshold ranked k {k} differently: not recorded.")
    return ({"sampled_threshold": lambda: threshold(scores), "sampled_total": top_k},
            len(keys) / (len(starts) * k))


def sorted_rows(keys, workers=None):
    """``keys`` [b, k] sorted along each row, the rows split over the cores (``sort_floor``)."""
    workers = workers or candidate_top_k.available_cores()
    chunk = -(-len(keys) // workers)
    with ThreadPoolExecutor(workers) as pool:
        return np.concatenate(list(pool.map(
            lambda start: np.sort(keys[start : start + chunk], axis=1),
            range(0, len(keys), chunk))))


def main(argv=None):
    parser = benchmark_parser(__doc__, "long_top_k.json", trains=False, skips=False)
    parser.add_argument("--items", type=int, nargs="+", default=[25181, 40981])
    parser.add_argument("--ks", type=int, nargs="+", default=[20, 50, 100, 200, 500, 1000, 3000])
    parser.add_argument("--batch", type=int, default=2048, help="users per block")
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    results = ResultsFile(args.results, ("items", "k", "way", "batch", "dim"))
    for num_items in args.items:
        for k in args.ks:
            measured = ways(num_items, k, args.batch, args.dim)
            used = ("candidates" if candidate_top_k.worthwhile(k, num_items) else
                    "grouped" if grouped_top_k.worthwhile(k, num_items) else "top_k")
            expected = measured["xla"]()[1]
            for way, function in measured.items():
                if way not in UNCHECKED and not np.array_equal(function()[1], expected):
                    raise SystemExit(f"{way} ranked {num_items} items, k {k}, differently "
                                     "from xla: not recorded.")
                ms = milliseconds_per_call(function, args.repeats)
                results.add({"items": num_items, "k": k, "way": way, "batch": args.batch,
                             "dim": args.dim, "ms": round(ms, 1), "used": way == used})
                print(f"items {num_items:>6}  k {k:>5}  {way:<11}{ms:>9.1f} ms"
                      f"{'  (used)' if way == used else ''}", flush=True)
            if used != "candidates":
                continue
            scores = measured["scores"]()[0]
            phases, candidates_per_k = host_phases(scores, k)
            baseline = sampled_phases(scores, k)
            if baseline is not None:
                phases.update(baseline[0])
            for phase, function in phases.items():
                ms = milliseconds_per_call(function, args.repeats)
                count = ({"candidates_per_k": round(candidates_per_k, 3)}
                         if phase == "candidate_keys" else
                         {"candidates_per_k": round(baseline[1], 3)}
                         if phase == "sampled_total" else {})
                results.add({"items": num_items, "k": k, "way": f"phase:{phase}",
                             "batch": args.batch, "dim": args.dim, "ms": round(ms, 1),
                             "used": False, "threads": 1, **count})
                print(f"items {num_items:>6}  k {k:>5}  {phase:<18}{ms:>6.1f} ms (one thread)"
                      + (f", {count['candidates_per_k']:.2f} k candidates a row" if count
                         else ""),
                      flush=True)


if __name__ == "__main__":
    main()
