"""Serving speed of exported SavedModels: latency on one CPU thread, batched throughput, recall.

    python benchmarks/serving.py                      # every catalogue, model and search
    python benchmarks/serving.py --catalogues gowalla-svd --probes 8 16 32
    python benchmarks/serving.py --catalogues synthetic-1m --models student --again exact

Each variant is exported with ``kdtfrs.serving.export_saved_model`` (top-100, nothing
excluded), loaded back with ``tf.saved_model.load`` and asked through its ``recommend``
signature, as a client in this process would: latency is one query at a time (``--queries``
known users, after 20 warm-up calls), p50 and p99 of each call; throughput is ``--batch``
users per call. Latency is recorded twice: wall time (what a client waits, including any
wait for a core that other processes hold) and the process's CPU time per call (``cpu_*``:
the work itself on the one core). TensorFlow runs on ONE thread (intra- and inter-op
parallelism 1, set before any op). Recall@100 is measured against NumPy's exact top-100 on
200 users (1.0 for the exact search: a check; the clustered search's is its real recall).
``exact_bfloat16``: the exact search with its pass over every item in bfloat16 (exact lists:
the blocks an error bound cannot rule out are rescored in float32; ``ExactSearch``).
``plain`` is the reference the exact search replaces: ``tf.math.top_k`` over
``tf.matmul(user, items^T)`` in a ``tf.function`` (not exported). ``floor``: a SavedModel
whose signature only gathers from a 16-entry table, the cost of a call itself. What sets the
exact search's cost, in ``tf.function`` s on the same thread (student only, not exported):
``read`` sums the item table stored as the exact search stores it (E^T, [dim, items]), one
pass over its bytes and nothing else; ``product`` is one user's scores ``tf.matmul(user, E^T)``
without any top-k.

Catalogues (``--catalogues``):
  gowalla        random N(0, 1) tables of Gowalla's shape: 29,858 users x 40,981 items
  gowalla-svd    a 20-d PureSVD model of Gowalla's training matrix (user and item factors
                 U S^1/2, V S^1/2): trained embeddings, for a recall that means something;
                 student only (needs ../shared/data/gowalla)
  synthetic-1m   random N(0, 1) tables: 10,000 users x 1,000,000 items
  gowalla-svd-1m gowalla-svd's users and 1,000,000 items, each a random Gowalla item vector
                 plus Gaussian noise of 0.25 times the per-dimension spread: a million-item
                 catalogue shaped like a trained one; student only

Models: the student (20-d) and the teacher (300-d). The clustered search (approximate) is
measured for the student at each ``--probes`` value. Records: benchmarks/results/serving.json
(resumable: records already there are skipped; the machine's load average is kept with each,
since other processes share its two cores). Exports go to ``--work`` and are deleted after
each record.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.arguments import benchmark_parser  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402

K = 100
CATALOGUES = {"gowalla": (29_858, 40_981), "gowalla-svd": (29_858, 40_981),
              "synthetic-1m": (10_000, 1_000_000), "gowalla-svd-1m": (29_858, 1_000_000)}
TRAINED = ("gowalla-svd", "gowalla-svd-1m")  # student only
MODELS = {"student": 20, "teacher": 300}
RECALL_USERS = 200


def parse_args():
    parser = benchmark_parser(__doc__, "serving.json", trains=False)
    parser.add_argument("--catalogues", nargs="+", choices=tuple(CATALOGUES),
                        default=list(CATALOGUES))
    parser.add_argument("--models", nargs="+", choices=tuple(MODELS), default=list(MODELS))
    parser.add_argument("--probes", nargs="+", type=int, default=[8, 16, 32, 64, 128],
                        help="clusters scanned per query by the clustered search (of about "
                             "sqrt(items) clusters)")
    parser.add_argument("--queries", type=int, default=300,
                        help="single-user queries timed per variant (the 300-d teacher on "
                             "1M items: a third of them)")
    parser.add_argument("--batch", type=int, default=256, help="users per batched call")
    parser.add_argument("--again", nargs="+", default=[], metavar="SEARCH",
                        help="measure these searches again where recorded (e.g. exact after "
                             "a change to it): the new record replaces the old")
    parser.add_argument("--work", default="/tmp/kdtfrs-serving-benchmark",
                        help="where the exports are written (deleted after each record)")
    return parser.parse_args()


def one_thread():
    """TensorFlow on one thread: must run before any op."""
    from kdtfrs._keras import tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf


def tables(catalogue: str, dim: int):
    """(user table, item table) float32 of a catalogue at width ``dim``."""
    num_users, num_items = CATALOGUES[catalogue]
    if catalogue in TRAINED:
        user_table, item_table = svd_tables(dim)
        if num_items == len(item_table):
            return user_table, item_table
        rng = np.random.default_rng(num_items)
        source = rng.integers(len(item_table), size=num_items)
        noise = rng.standard_normal((num_items, dim)) * (0.25 * item_table.std(axis=0))
        return user_table, (item_table[source] + noise).astype(np.float32)
    rng = np.random.default_rng([dim, num_items])
    return (rng.standard_normal((num_users, dim), np.float32),
            rng.standard_normal((num_items, dim), np.float32))


def svd_tables(dim: int):
    """PureSVD of Gowalla's training matrix: ``R ~ U S V^T``, users U S^1/2, items V S^1/2."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.linalg import svds

    from kdtfrs.data import load_dataset

    train = load_dataset("gowalla").train
    matrix = csr_matrix((np.ones(train.nnz, np.float32), train.indices, train.indptr),
                        shape=(train.num_users, train.num_items))
    left, singular, right_t = svds(matrix, k=dim, random_state=0)
    root = np.sqrt(singular)
    return (left * root).astype(np.float32), (right_t.T * root).astype(np.float32)


def exact_top(user_table, item_table, users) -> np.ndarray:
    """NumPy's exact top-K item sets of ``users`` (the recall reference)."""
    scores = user_table[users] @ item_table.T
    return np.argpartition(-scores, K, axis=1)[:, :K]


def percentile_ms(seconds, q) -> float:
    return round(float(np.percentile(np.asarray(seconds) * 1000.0, q)), 3)


def time_calls(call, requests, warmup=20):
    """(wall seconds, CPU seconds) of each call: the wall time a client waits, and the
    process's CPU time (``time.process_time``: every thread of this process, so TensorFlow's
    one worker thread included), which leaves out the time spent waiting for a core that
    other processes hold."""
    for request in requests[:warmup]:
        call(request)
    wall, cpu = [], []
    for request in requests:
        start, start_cpu = time.perf_counter(), time.process_time()
        call(request)
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return wall, cpu


def latency_fields(wall, cpu) -> dict:
    return {"p50_ms": percentile_ms(wall, 50), "p99_ms": percentile_ms(wall, 99),
            "cpu_p50_ms": percentile_ms(cpu, 50), "cpu_p99_ms": percentile_ms(cpu, 99),
            "queries": len(wall)}


def measure(tf, call, user_table, item_table, user_ids, item_ids, queries, batch, rng):
    """Latency, throughput and recall of ``call`` (raw user ids [B] -> item ids [B, K])."""
    single = [tf.constant(user_ids[[user]]) for user in rng.integers(len(user_ids), size=queries)]
    wall, cpu = time_calls(lambda request: call(request).numpy(), single)
    batches = [tf.constant(user_ids[rng.integers(len(user_ids), size=batch)]) for _ in range(4)]
    call(batches[0]).numpy()
    start = time.perf_counter()
    for request in batches:
        call(request).numpy()
    throughput = len(batches) * batch / (time.perf_counter() - start)
    users = rng.choice(len(user_ids), size=RECALL_USERS, replace=False)
    found = call(tf.constant(user_ids[users])).numpy()
    position = np.empty(item_ids.max() + 1, np.int64)
    position[item_ids] = np.arange(len(item_ids))
    expected = exact_top(user_table, item_table, users)
    recall = np.mean([np.isin(position[row], want).mean() for row, want in zip(found, expected)])
    return {**latency_fields(wall, cpu), "queries_per_s": round(throughput, 1),
            "batch": batch, "recall_at_100": round(float(recall), 4)}


FLOOR_KERNELS = ("read", "product")  # measured, not exported: no recall, no throughput


def variants(model: str, probes):
    yield "plain", None
    yield "exact", None
    if model == "student":
        for kernel in FLOOR_KERNELS:
            yield kernel, None
        yield "exact_bfloat16", None
        for count in probes:
            yield "clustered", count


def run_variant(tf, search, probes, user_table, item_table, work, queries, batch):
    """The measurements of one search over one pair of tables."""
    from kdtfrs import serving
    from kdtfrs.embeddings import Embeddings

    rng = np.random.default_rng(0)
    user_ids = np.arange(len(user_table), dtype=np.int64)
    item_ids = np.arange(len(item_table), dtype=np.int64)
    if search in FLOOR_KERNELS:
        return floor_kernel(tf, search, user_table, item_table, queries, rng)
    if search == "plain":
        users, items = tf.constant(user_table), tf.constant(item_table)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
        def plain(ids):
            scores = tf.matmul(tf.gather(users, ids), items, transpose_b=True)
            return tf.math.top_k(scores, K).indices

        record = measure(tf, plain, user_table, item_table, user_ids, item_ids, queries, batch,
                         rng)
        return {**record, "saved_model_bytes": None, "export_seconds": None}
    shutil.rmtree(work, ignore_errors=True)
    model = Embeddings.from_tables(tf.constant(user_table), tf.constant(item_table))
    options = ({"probes": probes} if search == "clustered" else
               {"precision": "bfloat16"} if search == "exact_bfloat16" else {})
    start = time.perf_counter()
    path = serving.export_saved_model(model, work, ids=(user_ids, item_ids), k=K,
                                      search=search.split("_")[0], search_options=options,
                                      warmup_users=0)
    export_seconds = time.perf_counter() - start
    card = (path / "assets.extra" / "model_card.json").read_text()
    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures["recommend"]
    record = measure(tf, lambda ids: signature(user_id=ids)["item_ids"], user_table,
                     item_table, user_ids, item_ids, queries, batch, rng)
    serving_card = json.loads(card)["serving"]
    record.update(saved_model_bytes=json.loads(card)["sizes"]["saved_model_bytes"],
                  export_seconds=round(export_seconds, 1),
                  search_settings={key: serving_card[key] for key in
                                   ("block_size", "blocks", "clusters", "probes")
                                   if key in serving_card})
    del loaded, signature
    shutil.rmtree(work, ignore_errors=True)
    return record


def floor_kernel(tf, kernel, user_table, item_table, queries, rng):
    """Latency of ``read`` or ``product`` (module docstring) for ``queries`` users."""
    users = tf.Variable(user_table)  # variables, as in the SavedModel: nothing to fold
    items_t = tf.Variable(np.ascontiguousarray(item_table.T))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
    def read(ids):
        return tf.reduce_sum(items_t) + tf.cast(tf.reduce_sum(ids), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
    def product(ids):
        return tf.matmul(tf.gather(users, ids), items_t)

    call = {"read": read, "product": product}[kernel]
    requests = [tf.constant([user], tf.int64)
                for user in rng.integers(len(user_table), size=queries)]
    wall, cpu = time_calls(lambda ids: call(ids).numpy(), requests)
    return {**latency_fields(wall, cpu), "queries_per_s": None, "batch": 1,
            "recall_at_100": None, "saved_model_bytes": None, "export_seconds": None}


def call_floor(tf, work, queries):
    """p50 / p99 of a SavedModel signature that only looks its input up in a table: what a
    call through ``tf.saved_model.load`` costs on this machine whatever the search."""
    class Floor(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.Variable(tf.zeros([16], tf.int64))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="user_id")])
        def recommend(self, user_id):
            return {"item_ids": tf.gather(self.table, user_id % 16)}

    shutil.rmtree(work, ignore_errors=True)
    module = Floor()
    tf.saved_model.save(module, str(work), signatures={"recommend": module.recommend})
    signature = tf.saved_model.load(str(work)).signatures["recommend"]
    requests = [tf.constant([user], tf.int64) for user in range(queries)]
    wall, cpu = time_calls(lambda ids: signature(user_id=ids)["item_ids"].numpy(), requests)
    shutil.rmtree(work, ignore_errors=True)
    return {"catalogue": "-", "model": "-", "dim": 0, "catalogue_size": 0, "search": "floor",
            "probes": None, **latency_fields(wall, cpu), "queries_per_s": 0.0, "batch": 1,
            "recall_at_100": 0.0, "saved_model_bytes": None, "threads": 1}


def main():
    args = parse_args()
    tf = one_thread()
    results = ResultsFile(args.results, ("catalogue", "model", "search", "probes"))
    if not results.has(catalogue="-", model="-", search="floor", probes=None):
        load_before = os.getloadavg()[0]
        record = call_floor(tf, pathlib.Path(args.work) / "floor", args.queries)
        results.add({**record, "load_average": [round(load_before, 2),
                                                round(os.getloadavg()[0], 2)]})
        print(f"call floor: p50 {record['p50_ms']} ms, p99 {record['p99_ms']} ms", flush=True)
    for catalogue in args.catalogues:
        for model in args.models:
            if catalogue in TRAINED and model != "student":
                continue
            dim = MODELS[model]
            pending = [(search, probes) for search, probes in variants(model, args.probes)
                       if search in args.again or not results.has(
                           catalogue=catalogue, model=model, search=search, probes=probes)]
            if not pending:
                continue
            user_table, item_table = tables(catalogue, dim)
            for search, probes in pending:
                queries = args.queries // 3 if dim * len(item_table) > 1e8 else args.queries
                load_before = os.getloadavg()[0]
                record = run_variant(tf, search, probes, user_table, item_table,
                                     pathlib.Path(args.work) / f"{catalogue}-{model}", queries,
                                     args.batch if len(item_table) < 1e6 else args.batch // 4)
                record = {"catalogue": catalogue, "model": model, "dim": dim,
                          "catalogue_size": len(item_table), "search": search,
                          "probes": probes, **record, "threads": 1, "k": K,
                          "load_average": [round(load_before, 2),
                                           round(os.getloadavg()[0], 2)]}
                results.add(record)
                print(f"{catalogue} {model} {search}{'' if probes is None else probes}: "
                      f"p50 {record['p50_ms']} ms, p99 {record['p99_ms']} ms (CPU "
                      f"{record['cpu_p50_ms']} / {record['cpu_p99_ms']} ms), "
                      f"{record['queries_per_s']} q/s, recall {record['recall_at_100']}",
                      flush=True)


if __name__ == "__main__":
    main()
