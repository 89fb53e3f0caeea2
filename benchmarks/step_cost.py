"""What one training step of each distillation method costs next to a scratch (BPR) step.

    python benchmarks/step_cost.py --touch 2 8 50 150 300 # CiteULike-t, batch 2048
    python benchmarks/step_cost.py --dataset synthetic --teacher-dim 64 --student-dim 8
    python benchmarks/step_cost.py --methods kd --bd     # BD's step against its two models'

Isolates the per-step cost from the epoch times of ``benchmarks/distill.py`` (which also hold
evaluation, the input pipeline and whatever else the machine runs): one fixed batch, the
student's BPR step alone and with each method's weighted term, each step a compiled
``tf.function`` (loss, gradients, LazyAdam update), timed as the fastest of 5 rounds of
``--repeats`` calls after a warm-up. The teacher is untrained: cost does not depend on its
weights. Also reports the once-per-run ``prepare`` (teacher lists, computed afresh per
method), the per-epoch ``refresh`` (student lists; its second call, as in every epoch after
the first, so no tracing or compilation) and, in the scratch record, one full evaluation of
the student to compare a refresh with (every user with a test item ranked, training items
masked, NDCG@20; second call). ``--touch N ...`` adds a floor per N:
the BPR step plus a term that only scores N fixed items per example with the student (a dot
product through ``Embeddings.score``, as the methods score, no loss math), i.e. the gather of
B x N item rows and the gradient into them that any method distilling N items per example
pays. Each method runs with benchmarks/distill.py's hyperparameters for the dataset where it
has them (``SETTINGS[dataset]["params"]``, e.g. Gowalla's per-epoch draws), the class defaults
elsewhere: a method drawn once per epoch reads its step's targets from that draw, and its
``refresh`` holds the draw of every user. Run it on a quiet machine.
Records: benchmarks/results/step_cost.json, one per dataset x method (rerun to replace).
"""

from __future__ import annotations

import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import benchmark_parser  # noqa: E402
from benchmarks.distill import SETTINGS  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402
from kdtfrs import method_ids, tasks  # noqa: E402
from kdtfrs._keras import tf  # noqa: E402
from kdtfrs.bidirectional import BidirectionalDistiller  # noqa: E402
from kdtfrs.data import bpr_triples, load_dataset  # noqa: E402
from kdtfrs.embeddings import Embeddings  # noqa: E402
from kdtfrs.evaluation import evaluate  # noqa: E402
from kdtfrs.models import BPRMF, LazyAdam  # noqa: E402
from kdtfrs.signals import TeacherSignals  # noqa: E402


def milliseconds_per_call(function, repeats, rounds=5):
    """Mean time of ``repeats`` calls, the fastest of ``rounds`` rounds (as ``timeit``)."""
    function()
    means = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            function()
        means.append((time.perf_counter() - start) / repeats * 1000.0)
    return min(means)


def training_step(student, optimizer, batch, method=None):
    seed = tf.constant([1, 2], tf.int64)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = student.compute_loss(batch, training=True)
            if method is not None:  # given the student's embeddings, as the Distiller does
                view = Embeddings.of(student, training=True)
                loss += tf.reduce_mean(method.weighted_loss(batch, view, seed))
        variables = student.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

    return step


def seconds_of_second_call(function):
    """Wall seconds of ``function()``'s second call (the first traces and compiles)."""
    function()
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def touch_items(num_items, batch_size, count):
    """A stand-in term scoring ``count`` fixed random items per example (method "touch-N")."""
    items = tf.random.stateless_uniform([batch_size, count], [3, count], 0, num_items, tf.int32)

    class Touch:
        def weighted_loss(self, batch, student, seed):
            return 1e-3 * tf.reduce_mean(student.score(batch["user"], items), axis=1)

    return Touch()


def bd_steps(split, batch, teacher_dim, student_dim, params):
    """(the teacher's BPR step alone, BD's step): compiled steps of a trainable ``teacher_dim``
    BPR-MF teacher, and of ``BidirectionalDistiller`` training it and a student together (both
    base losses and both BCE terms, two LazyAdam updates), its pools filled with random items
    and its epoch past the warm-up."""
    user = {"user": tf.constant([0]), "item": tf.constant([0])}
    teacher = BPRMF(split.num_users, split.num_items, teacher_dim, seed=0)
    teacher(user)
    teacher_step = training_step(teacher, LazyAdam(1e-3), batch)
    models = [BPRMF(split.num_users, split.num_items, dim, seed=seed)
              for dim, seed in ((teacher_dim, 0), (student_dim, 1))]
    for model in models:
        model(user)
    distiller = BidirectionalDistiller(*models, split.train, **params)
    distiller.compile(LazyAdam(1e-3))
    for pool in (distiller.teacher_pool, distiller.student_pool):
        pool.assign(tf.random.stateless_uniform(pool.shape, [5, 6], 0, split.num_items,
                                                tf.int32))
    distiller.epoch.assign(distiller.warmup_epochs)
    return teacher_step, tf.function(lambda: distiller.train_step(batch))


def main(argv=None):
    parser = benchmark_parser(__doc__, "step_cost.json", trains=False, skips=False)
    parser.add_argument("--dataset", default="citeulike-t")
    parser.add_argument("--teacher-dim", type=int, default=400)
    parser.add_argument("--student-dim", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--methods", nargs="+", default=list(method_ids.RANKING),
                        choices=method_ids.RANKING,
                        help="ranking methods (the feature methods: step_profile.py)")
    parser.add_argument("--touch", nargs="*", type=int, default=[], metavar="N",
                        help="also time the gather/scatter floor of N items per example")
    parser.add_argument("--bd", action="store_true",
                        help="also time BD's step and the trainable teacher's step alone (its "
                             "refresh: benchmarks/bd_refresh.py)")
    args = parser.parse_args(argv)

    params = SETTINGS.get(args.dataset, {}).get("params", {})
    split = load_dataset(args.dataset)
    teacher = BPRMF(split.num_users, split.num_items, args.teacher_dim, seed=0)
    teacher.freeze()
    student = BPRMF(split.num_users, split.num_items, args.student_dim, seed=1)
    batch = next(iter(bpr_triples(split.train, args.batch_size, seed=0)))
    results = ResultsFile(args.results, ("dataset", "method"))
    common = {"dataset": args.dataset, "teacher_dim": args.teacher_dim,
              "student_dim": args.student_dim, "batch_size": args.batch_size}

    scratch_ms = milliseconds_per_call(
        training_step(student, LazyAdam(1e-3), batch), args.repeats)
    evaluation = seconds_of_second_call(
        lambda: evaluate(student, split.test, exclude=(split.train,), ks=(20,)))
    results.add({**common, "method": "scratch", "step_ms": round(scratch_ms, 2), "x_scratch": 1.0,
                 "prepare_seconds": 0.0, "refresh_seconds": 0.0,
                 "evaluation_seconds": round(evaluation, 2)})
    print(f"scratch: {scratch_ms:.1f} ms per step, one evaluation {evaluation:.2f} s", flush=True)
    for method_id in args.methods:
        method = tasks.get(method_id, **params.get(method_id, {}))
        start = time.perf_counter()
        method.prepare(TeacherSignals(teacher, split.train), split.train)
        prepare = time.perf_counter() - start
        refresh = seconds_of_second_call(lambda: method.refresh(student, 0))
        step_ms = milliseconds_per_call(
            training_step(student, LazyAdam(1e-3), batch, method), args.repeats)
        draw_every = getattr(method, "draw_every", "step")
        results.add({**common, "method": method_id, "draw_every": draw_every,
                     "step_ms": round(step_ms, 2), "x_scratch": round(step_ms / scratch_ms, 2),
                     "prepare_seconds": round(prepare, 2), "refresh_seconds": round(refresh, 2)})
        drawn = ", drawn per epoch" if draw_every == "epoch" else ""
        print(f"{method_id}{drawn}: {step_ms:.1f} ms per step ({step_ms / scratch_ms:.1f}x "
              f"scratch), prepare {prepare:.2f} s, refresh {refresh:.2f} s", flush=True)
    for count in args.touch:
        term = touch_items(split.num_items, args.batch_size, count)
        step_ms = milliseconds_per_call(
            training_step(student, LazyAdam(1e-3), batch, term), args.repeats)
        results.add({**common, "method": f"touch-{count}", "step_ms": round(step_ms, 2),
                     "x_scratch": round(step_ms / scratch_ms, 2), "prepare_seconds": 0.0,
                     "refresh_seconds": 0.0})
        print(f"touch-{count}: {step_ms:.1f} ms per step ({step_ms / scratch_ms:.1f}x scratch)",
              flush=True)
    if args.bd:
        steps = bd_steps(split, batch, args.teacher_dim, args.student_dim,
                         SETTINGS.get(args.dataset, {}).get("bd", {}))
        for name, step in zip(("teacher step", "bd"), steps):
            step_ms = milliseconds_per_call(step, args.repeats)
            results.add({**common, "method": name, "step_ms": round(step_ms, 2),
                         "x_scratch": round(step_ms / scratch_ms, 2), "prepare_seconds": 0.0,
                         "refresh_seconds": None})
            print(f"{name}: {step_ms:.1f} ms per step ({step_ms / scratch_ms:.1f}x scratch)",
                  flush=True)


if __name__ == "__main__":
    main()
