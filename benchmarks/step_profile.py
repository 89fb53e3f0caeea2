"""Where one training step of each method spends its time: sampling, gathers, loss, gradient,
update.

    python benchmarks/step_profile.py                       # CiteULike-t, every method
    python benchmarks/step_profile.py --methods rrd dcd --optimizer adam --jit

One fixed batch (``bpr_triples``, batch 2048), a 20-d BPR-MF student and an untrained 400-d
teacher (the cost of most methods does not depend on the teacher's weights; HTD's does, through
the groups its gates assign: ``--teacher DIR`` profiles with a trained teacher, e.g.
distill.py's under ``--work``), each method with benchmarks/distill.py's hyperparameters for
the dataset; ``--dataset gowalla --batch-size 4096 --teacher-dim 300`` gives distill.py's
Gowalla sizes. Five compiled ``tf.function``s are
timed for each method, each a prefix of the next one's work:

    sampling   the task's ``targets`` (items and teacher signal of every row)
    scores     + the gather of the student rows of those items and their scores
    forward    + the student's base loss and the task's loss (the loss value of the step;
               the task called as the Distiller calls it in ``fit``, dropout included)
    gradient   + ``tape.gradient`` of that value, for the student's variables and the task's
               own (projectors, gates), which the Distiller trains too
    update     + the optimizer's update (the whole training step)

Each phase is the difference of two consecutive timings; scratch is the BPR step alone.
Tasks whose loss is not one ``targets -> scores -> loss`` chain (several terms, projectors)
and presets of several tasks (DE-RRD) report sampling and scores as part of ``forward``.
Every timing is the fastest of 5 rounds of ``--repeats`` calls after a warm-up
(``benchmarks.step_cost.milliseconds_per_call``); run it on a quiet machine. ``--optimizer``
and ``--jit`` (XLA for every function) show how much of a step the update and TensorFlow's own
kernels set; ``--per-unique-user`` profiles the list
methods that offer it (RRD, SLD, DCD, BlackD) distilling each unique user of the batch once;
``--expert-dtype bfloat16`` profiles the methods with distillation experts (DE, PCKD, HTD)
computing them in bfloat16; ``--draw-every epoch`` the methods that offer it (their targets
read only the batch's users) reading each user's targets from a per-epoch draw, whose cost
per epoch is timed apart (``draw_s``: one draw of every user, as ``refresh`` makes it).
``hetcomp`` profiles HetComp's student step (``kdtfrs.tasks.HetComp``, distill.py's settings)
on a stand-in trajectory, the profiled teacher as two checkpoints: the curriculum's first
phase, which lasts until every user reaches the final checkpoints; the step scores each
unique user of the batch against the whole catalogue whatever the lists hold. Its teachers'
training and its DKC steps are not in the step.
Records: benchmarks/results/step_profile.json, one per (dataset, method, optimizer, jit,
per_unique_user, expert_dtype, draw_every), with the steps of an epoch at the batch size;
rerun to replace.
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import benchmark_parser  # noqa: E402
from benchmarks.distill import SETTINGS  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402
from benchmarks.step_cost import milliseconds_per_call, seconds_of_second_call  # noqa: E402
from kdtfrs import model_dir, tasks  # noqa: E402
from kdtfrs._keras import keras, tf  # noqa: E402
from kdtfrs.data import bpr_triples, load_dataset  # noqa: E402
from kdtfrs.embeddings import Embeddings  # noqa: E402
from kdtfrs.hetcomp import TrajectoryKnowledge  # noqa: E402
from kdtfrs.layers.expert_projector import EXPERT_DTYPES  # noqa: E402
from kdtfrs.models import BPRMF, LazyAdam  # noqa: E402
from kdtfrs.signals import TeacherSignals  # noqa: E402
from kdtfrs.tasks.base import DRAW_PERIODS, DistillationTask  # noqa: E402
from kdtfrs.tasks.de import DE  # noqa: E402

PHASES = ("sampling", "scores", "forward", "gradient", "update")
OPTIMIZERS = {"lazy_adam": LazyAdam, "adam": keras.optimizers.Adam}
PER_UNIQUE_USER = ("rrd", "sld", "dcd", "blackd")
#: The methods that take ``draw_every``: their targets read only the batch's users.
DRAWING = ("mse", "bce", "rd", "cd", "rrd", "sld", "dcd", "rce_kd", "unkd")
#: The methods built on DE's experts, which take ``expert_dtype``: DE's subclasses, and DE-RRD.
EXPERT_METHODS = (*(m for m, cls in tasks.METHODS.items() if issubclass(cls, DE)), "de_rrd")


def build_method(method_id, params, options, teacher, train):
    """The tasks of ``method_id`` with distill.py's ``params`` and the profile's ``options``;
    HetComp's knowledge from a stand-in trajectory (module docstring)."""
    if method_id == "hetcomp":
        knowledge = TrajectoryKnowledge.from_trajectories([[teacher, teacher]], train)
        return [tasks.HetComp(knowledge, **params)]
    return tasks.build(method_id, **{**params, **options})


def splits_into_chain(task) -> bool:
    """Whether the task's loss is the base class's ``targets -> scores -> loss`` chain."""
    return (type(task).weighted_loss is DistillationTask.weighted_loss
            and type(task).per_row_loss is DistillationTask.per_row_loss)


def phase_functions(student, optimizer, batch, distillation, jit):
    """The five prefixes of one step (module docstring), as compiled functions of no argument;
    ``distillation`` is the method's list of tasks ([] for scratch)."""
    seed = tf.constant([1, 2], tf.int64)
    compile_ = tf.function(jit_compile=jit)

    def loss_value():
        tables = student.embeddings(training=True)
        loss = student.compute_loss(batch, training=True, embeddings=tables)
        if distillation:
            view = Embeddings.from_tables(*tables, product_gradient=not jit)
        for task in distillation:
            # called as the Distiller calls it in fit: training=True (FitNet's dropout on)
            loss += task(batch, view, seed=seed, training=True)
        return loss

    chain = distillation[0] if len(distillation) == 1 and splits_into_chain(
        distillation[0]) else None

    def sampling():
        items, labels = chain.batch_targets(batch, seed)
        return tf.reduce_sum(items), tf.reduce_sum(labels)

    def scores():
        items, labels = chain.batch_targets(batch, seed)
        view = Embeddings.from_tables(*student.embeddings(training=True),
                                      product_gradient=not jit)
        student_scores = view.score(batch["user"], items)
        return tf.reduce_sum(student_scores), tf.reduce_sum(labels)  # labels: nothing pruned

    # The student's and the task's own (projectors, gates), as the Distiller trains them.
    variables = student.trainable_variables + [
        variable for task in distillation for variable in task.trainable_variables]

    # Both return the loss, as a training step does (it logs it): a term without gradient
    # (FTD's teacher Gram) would otherwise be pruned from the graph and go untimed.
    def gradient():
        with tf.GradientTape() as tape:
            loss = loss_value()
        return [loss] + [tf.reduce_sum(tf.convert_to_tensor(
            g.values if isinstance(g, tf.IndexedSlices) else g))
            for g in tape.gradient(loss, variables)]

    def step():
        with tf.GradientTape() as tape:
            loss = loss_value()
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    functions = {"forward": loss_value, "gradient": gradient, "update": step}
    if chain is not None:
        functions = {"sampling": sampling, "scores": scores, **functions}
    return {name: compile_(function) for name, function in functions.items()}


def profile(student, optimizer, batch, distillation, jit, repeats):
    """{phase: ms} for one method (module docstring); phases it cannot split are absent."""
    cumulative = {name: milliseconds_per_call(function, repeats)
                  for name, function in phase_functions(student, optimizer, batch,
                                                        distillation, jit).items()}
    split, previous = {}, 0.0
    for phase in PHASES:
        if phase in cumulative:
            split[phase] = max(cumulative[phase] - previous, 0.0)
            previous = cumulative[phase]
    return split, cumulative["update"]


def main(argv=None):
    parser = benchmark_parser(__doc__, "step_profile.json", trains=False, skips=False)
    parser.add_argument("--dataset", default="citeulike-t")
    parser.add_argument("--teacher-dim", type=int, default=400)
    parser.add_argument("--teacher", help="a trained teacher's model directory (in place of "
                        "an untrained one of --teacher-dim)")
    parser.add_argument("--student-dim", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--methods", nargs="+", default=[*tasks.method_ids(), "hetcomp"],
                        choices=[*tasks.method_ids(), "hetcomp"])
    parser.add_argument("--optimizer", default="lazy_adam", choices=sorted(OPTIMIZERS))
    parser.add_argument("--jit", action="store_true", help="compile every function with XLA")
    parser.add_argument("--per-unique-user", action="store_true",
                        help="the list methods once per unique user (others are skipped)")
    parser.add_argument("--expert-dtype", default="float32", choices=EXPERT_DTYPES,
                        help="the experts' products in DE, PCKD and HTD (with bfloat16 the "
                             "other methods are skipped)")
    parser.add_argument("--draw-every", default="step", choices=DRAW_PERIODS,
                        help="when the methods that offer it draw their targets (with epoch "
                             "the other methods are skipped)")
    args = parser.parse_args(argv)

    # distill.py's hyperparameters for the dataset where it has them (e.g. Gowalla's 5 DE
    # experts), the methods' defaults elsewhere
    settings = SETTINGS.get(args.dataset, {})
    params = {**settings.get("params", {}), "hetcomp": settings.get("hetcomp", {})}
    split = load_dataset(args.dataset)
    if args.teacher:
        teacher = model_dir.load(args.teacher, split.train)
        args.teacher_dim = int(teacher.user_embedding.shape[-1])
    else:
        teacher = BPRMF(split.num_users, split.num_items, args.teacher_dim, seed=0)
    student = BPRMF(split.num_users, split.num_items, args.student_dim, seed=1)
    batch = next(iter(bpr_triples(split.train, args.batch_size, seed=0)))
    signals = TeacherSignals(teacher, split.train)
    results = ResultsFile(args.results,
                          ("dataset", "method", "optimizer", "jit", "per_unique_user",
                           "expert_dtype", "draw_every"))
    methods = [m for m in args.methods if not args.per_unique_user or m in PER_UNIQUE_USER]
    if args.expert_dtype != "float32":
        methods = [m for m in methods if m in EXPERT_METHODS]
    if args.draw_every != "step":
        methods = [m for m in methods if m in DRAWING]
    common = {"dataset": args.dataset, "teacher_dim": args.teacher_dim,
              "trained_teacher": bool(args.teacher),
              "student_dim": args.student_dim, "batch_size": args.batch_size,
              "optimizer": args.optimizer, "jit": args.jit,
              "per_unique_user": args.per_unique_user, "repeats": args.repeats,
              # an epoch's steps at this batch: every training pair once (bpr_triples)
              "steps_per_epoch": -(-split.train.nnz // args.batch_size),
              "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU"}

    scratch_ms = None
    print(f"{'method':<10}{'step ms':>9}{'x scratch':>10}  " + "".join(
        f"{phase:>10}" for phase in PHASES), flush=True)
    for method_id in ["scratch", *methods]:
        distillation = []
        if method_id != "scratch":
            options = {"per_unique_user": True} if args.per_unique_user else {}
            if args.expert_dtype != "float32":
                options["expert_dtype"] = args.expert_dtype
            if args.draw_every != "step":
                options["draw_every"] = args.draw_every
            distillation = build_method(method_id, params.get(method_id, {}), options,
                                        teacher, split.train)
            for task in distillation:
                task.prepare(signals, split.train, student)
                task.refresh(Embeddings.frozen(student), 0)
        optimizer = OPTIMIZERS[args.optimizer](1e-3)
        phases, step_ms = profile(student, optimizer, batch, distillation, args.jit,
                                  args.repeats)
        scratch_ms = scratch_ms or step_ms
        # scratch has no experts: its record is the float32 one whatever --expert-dtype says
        expert_dtype = args.expert_dtype if method_id in EXPERT_METHODS else "float32"
        # likewise the per-step record for --draw-every epoch; the draw's own cost apart
        draw = {"draw_every": args.draw_every if method_id in DRAWING else "step"}
        if draw["draw_every"] == "epoch":
            draw["draw_s"] = round(seconds_of_second_call(
                lambda: distillation[0].draw_all_users(1)), 3)
        results.add({**common, "method": method_id, "expert_dtype": expert_dtype, **draw,
                     "step_ms": round(step_ms, 2),
                     "x_scratch": round(step_ms / scratch_ms, 2),
                     **{f"{phase}_ms": round(ms, 2) for phase, ms in phases.items()}})
        print(f"{method_id:<10}{step_ms:>9.1f}{step_ms / scratch_ms:>10.1f}  " + "".join(
            f"{phases[phase]:>10.1f}" if phase in phases else f"{'':>10}" for phase in PHASES),
            flush=True)


if __name__ == "__main__":
    main()
