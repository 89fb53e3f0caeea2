"""What the kernels a distillation step is made of cost alone, on this machine.

    python benchmarks/kernel_floor.py                    # CiteULike-t's item table, N = 300
    python benchmarks/kernel_floor.py --items 40981 --rows-per-example 150

The floor under a method that distils N items for each of B rows (benchmarks/step_profile.py):
the gather of the B x N student rows, the scatter-add of their gradients into the item table
(``unsorted_segment_sum``, what the gather's gradient becomes in the optimizer), and Keras'
de-duplication of those rows (``tf.unique`` + segment sum) before LazyAdam's row update; with
XLA where it compiles. Also the list loss's reverse cumulative log-sum-exp, TensorFlow's
``cumulative_logsumexp`` against kdtfrs' shifted-sum form, each forward and with its gradient,
and the cumulative sum under it, TensorFlow's scan against ``row_cumsum``'s blocks. Then the
teacher order of rows that a sampler already listed in it: sorted and gathered, against
``sorted_by_teacher``, which checks the order and keeps the rows as listed.
The teacher's scores of the B x N items of a step, which the pointwise methods (MSE and BCE)
compute at every step: B x N rows of the d_T-wide teacher gathered (``--rows-per-example
50`` is MSE's and BCE's N), at once and as ``kdtfrs.gathered_scores`` scores them, a chunk of
rows at a time; likewise the student's scores of B x N items (``scores at once``, ``scores in
row chunks``). What a dense read of a d_T-wide variable costs once a gather has touched it
(TensorFlow then copies the whole table at every such read), against ``gathered_scores`` on
two such variables, which reads rows only. And the floor under DE and PCKD
(benchmarks/distill.py's feature rows): their ``ExpertProjector`` on the 3B entities of a step
(users, positive and negative items), E experts d_S -> (d_S + d_T)/2 -> d_T, forward and with
the gradient of its weights; it does
``3B · E · (d_S h + h d_T)`` multiply-adds forward, about twice that again backward.
And the rank-aware draws of RRD, DCD and PCKD: Gumbel noise over B rows of an M-long list and
``tf.math.top_k`` of K of its M entries, ordered and not (``--list-length``, ``--draws``: RRD's
and DCD's 500 and 100). ``--only NAME ...`` times the kernels whose names contain one of them.
Random data of the given shapes (cost does not depend on values); fastest of 5 rounds of
``--repeats`` calls. Records: benchmarks/results/kernel_floor.json (one per kernel and shape;
rerun to replace).
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import benchmark_parser  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402
from benchmarks.step_cost import milliseconds_per_call  # noqa: E402
from kdtfrs import samplers  # noqa: E402
from kdtfrs._keras import tf  # noqa: E402
from kdtfrs.gathered_scores import gathered_scores, in_row_chunks  # noqa: E402
from kdtfrs.layers import ExpertProjector  # noqa: E402
from kdtfrs.losses._utils import (  # noqa: E402
    reverse_cumulative_logsumexp,
    row_cumsum,
    sorted_by_teacher,
    take_along_rows,
    teacher_order,
)


def kernels(table_rows, batch, count, dim):
    """{name: a function of no argument} for the kernels of the module docstring."""
    rows = batch * count
    table = tf.random.normal([table_rows, dim])
    indices = tf.random.uniform([rows], 0, table_rows, tf.int32)
    values = tf.random.normal([rows, dim])
    scores = tf.random.normal([batch, count])
    mask = tf.ones([batch, count], tf.bool)

    def with_gradient(function):
        def run():
            with tf.GradientTape() as tape:
                tape.watch(scores)
                total = tf.reduce_sum(function(scores))
            return tape.gradient(total, scores)
        return run

    # Relevance labels already in teacher order (as RRD's, DCD's and RD's samplers list them).
    ordered_labels = tf.broadcast_to(tf.range(count, 0, -1, dtype=tf.float32), [batch, count])

    def sorted_and_gathered():
        order = teacher_order(ordered_labels, mask)
        return tuple(take_along_rows(tensor, order) for tensor in (ordered_labels, mask, scores))

    def deduplicate():
        unique, positions = tf.unique(indices)
        return tf.math.unsorted_segment_sum(values, positions, tf.shape(unique)[0])

    plain = {
        "gather": lambda: tf.gather(table, indices),
        "scatter_add": lambda: tf.math.unsorted_segment_sum(values, indices, table_rows),
        "keras_deduplication": deduplicate,
        "cumulative_logsumexp": lambda: tf.math.cumulative_logsumexp(scores, axis=-1,
                                                                      reverse=True),
        "cumulative_logsumexp+gradient": with_gradient(
            lambda x: tf.math.cumulative_logsumexp(x, axis=-1, reverse=True)),
        "shifted_sums": lambda: reverse_cumulative_logsumexp(scores, mask),
        "shifted_sums+gradient": with_gradient(lambda x: reverse_cumulative_logsumexp(x, mask)),
        "cumsum": lambda: tf.math.cumsum(scores, axis=-1, reverse=True),
        "cumsum in blocks": lambda: row_cumsum(scores, reverse=True),
        "teacher order, sorted and gathered": sorted_and_gathered,
        "teacher order, kept as listed": lambda: sorted_by_teacher(ordered_labels, mask, scores),
    }
    compiled = {name: tf.function(function) for name, function in plain.items()}
    for name in ("gather", "scatter_add"):
        compiled[f"{name} (XLA)"] = tf.function(plain[name], jit_compile=True)
    return compiled


def teacher_score_kernels(table_rows, batch, count, teacher_dim):
    """{name: a function of no argument}: the teacher's scores of B x N sampled items, scored
    at every step (``DistillationTask.teacher_scores``): B x N rows of the d_T-wide teacher
    table gathered and dotted with the user's row; plain and with XLA."""
    users = tf.random.normal([batch, teacher_dim])
    table = tf.random.normal([table_rows, teacher_dim])
    items = tf.random.uniform([batch, count], 0, table_rows, tf.int32)

    def scores():
        return tf.einsum("bd,bnd->bn", users, tf.gather(table, items))

    def scores_in_row_chunks():
        return gathered_scores(users, table, tf.range(batch), items)

    name = f"teacher_scores (d_T={teacher_dim})"
    return {name: tf.function(scores), f"{name} (XLA)": tf.function(scores, jit_compile=True),
            f"{name} in row chunks": tf.function(scores_in_row_chunks)}


def student_score_kernels(table_rows, batch, count, dim):
    """{name: a function of no argument}: a student's scores of B x N items, the [B, N, d]
    rows gathered at once (``tf.gather``, then a batched dot product) and as
    ``kdtfrs.gathered_scores`` takes them, a chunk of rows at a time."""
    users = tf.random.normal([batch, dim])
    table = tf.random.normal([table_rows, dim])
    items = tf.random.uniform([batch, count], 0, table_rows, tf.int32)

    def at_once():
        return tf.linalg.matvec(tf.gather(table, items), users)

    def in_chunks():
        return in_row_chunks(lambda i, u: tf.linalg.matvec(tf.gather(table, i), u),
                             [count], count * dim, items, users)

    return {"scores at once": tf.function(at_once),
            "scores in row chunks": tf.function(in_chunks)}


def variable_read_kernels(table_rows, batch, count, teacher_dim):
    """{name: a function of no argument}: reads of d_T-wide variables after a ``tf.gather`` of
    them (as a training step's lookups and sparse updates leave its tables), which puts them in
    TensorFlow's copy-on-read mode: a dense read then copies the whole table. Read whole, and
    scored by ``gathered_scores`` for B x N items, which reads their rows only."""
    user_table = tf.Variable(tf.random.normal([table_rows, teacher_dim]))
    item_table = tf.Variable(tf.random.normal([table_rows, teacher_dim]))
    for table in (user_table, item_table):
        tf.gather(table, [0])  # a ResourceGather: copy-on-read mode from here on
    users = tf.random.uniform([batch], 0, table_rows, tf.int32)
    items = tf.random.uniform([batch, count], 0, table_rows, tf.int32)

    def dense_read():
        return tf.convert_to_tensor(item_table)[0]

    def scores():
        return gathered_scores(user_table, item_table, users, items)

    return {f"dense read of a gathered variable (d_T={teacher_dim})": tf.function(dense_read),
            f"scores of variables (d_T={teacher_dim})": tf.function(scores)}


def projector_kernels(entities, student_dim, teacher_dim, experts):
    """{name: a function of no argument}: DE's projector on ``entities`` vectors, forward and
    with the gradient of its weights (the student's vectors are inputs here)."""
    projector = ExpertProjector(experts, teacher_dim).build_for(student_dim)
    student = tf.random.normal([entities, student_dim])
    teacher = tf.random.normal([entities, teacher_dim])
    seed = tf.constant([0, 1])

    def forward():
        return projector(student, teacher, seed)

    def with_gradient():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(teacher - forward()))
        return tape.gradient(loss, projector.trainable_variables)

    shape = f"E={experts}, {student_dim}->{(student_dim + teacher_dim) // 2}->{teacher_dim}"
    return {f"expert_projector ({shape})": tf.function(forward),
            f"expert_projector+gradient ({shape})": tf.function(with_gradient)}


def sampling_kernels(batch, list_length, draws):
    """{name: a function of no argument}: the pieces of a rank-aware draw without replacement
    (``samplers.sample_without_replacement``): Gumbel noise for B x M logits, and the top K of
    B rows of M values, in order and as a set."""
    values = tf.random.normal([batch, list_length])
    seed = tf.constant([0, 1])
    shape = f"{draws} of {list_length}"
    return {
        f"gumbel_noise (B x {list_length})": tf.function(
            lambda: samplers.gumbel_noise([batch, list_length], seed)),
        f"top_k ({shape})": tf.function(lambda: tf.math.top_k(values, draws).indices),
        f"top_k unordered ({shape})": tf.function(
            lambda: tf.math.top_k(values, draws, sorted=False).indices),
    }


def main(argv=None):
    parser = benchmark_parser(__doc__, "kernel_floor.json", trains=False, skips=False)
    parser.add_argument("--items", type=int, default=25181, help="item table rows")
    parser.add_argument("--batch", type=int, default=2048, help="rows per step (B)")
    parser.add_argument("--rows-per-example", type=int, default=300, help="items per row (N)")
    parser.add_argument("--dim", type=int, default=20, help="student embedding width")
    parser.add_argument("--teacher-dim", type=int, default=400,
                        help="teacher width d_T (its scores, the expert projector)")
    parser.add_argument("--experts", type=int, default=30, help="DE's experts E")
    parser.add_argument("--list-length", type=int, default=500,
                        help="M, the ranked list a rank-aware draw reads")
    parser.add_argument("--draws", type=int, default=100, help="K, the positions it draws")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="time only the kernels whose names contain one of these")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    results = ResultsFile(args.results, ("kernel", "items", "batch", "rows_per_example", "dim"))
    shape = {"items": args.items, "batch": args.batch, "rows_per_example": args.rows_per_example,
             "dim": args.dim}
    measured = {**kernels(args.items, args.batch, args.rows_per_example, args.dim),
                **teacher_score_kernels(args.items, args.batch, args.rows_per_example,
                                        args.teacher_dim),
                **student_score_kernels(args.items, args.batch, args.rows_per_example, args.dim),
                **variable_read_kernels(args.items, args.batch, args.rows_per_example,
                                        args.teacher_dim),
                **projector_kernels(3 * args.batch, args.dim, args.teacher_dim, args.experts),
                **sampling_kernels(args.batch, args.list_length, args.draws)}
    if args.only:
        measured = {name: function for name, function in measured.items()
                    if any(part in name for part in args.only)}
        if not measured:
            raise SystemExit(f"--only {' '.join(args.only)}: no kernel's name contains any of "
                             "these; nothing was timed.")
    for name, function in measured.items():
        ms = milliseconds_per_call(function, args.repeats)
        results.add({"kernel": name, **shape, "ms": round(ms, 2)})
        print(f"{name:<48}{ms:>8.1f} ms", flush=True)


if __name__ == "__main__":
    main()
