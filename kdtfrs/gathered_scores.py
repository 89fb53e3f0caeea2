"""Scores of sampled items whose table gradient is one sparse-dense product.

A ranking task scores each of B users against N items it drew: ``s[b, n] = <u_b, v_{i[b,n]}>``.
Through ``tf.gather`` the item table's gradient is B x N rows of ``ds[b, n] · u_b``, written
out ([B·N, d]) and then summed per item by the optimizer (``tf.unique`` and a segment sum over
B·N rows): on Gowalla's RRD step, 1.2 million rows a step. The same gradient is a sparse
matrix product::

    ∂L/∂V[i] = Σ_{(b,n): i[b,n]=i} ds[b, n] · u_b = (D U)[i],   D[i, b] = Σ_n [i[b,n]=i] ds[b,n]

which ``gathered_scores`` computes without the B·N rows, over the items the batch touched
only, and hands on as ``tf.IndexedSlices`` of those rows (so a lazy optimizer still updates
only them). The values are the same as the gather's; sums run in another order.

The forward scores and the user rows' gradient, which do need the gathered item rows, take
them a chunk of rows at a time (``in_row_chunks``, at most ``CHUNK_ELEMENTS`` floats each)
rather than as one [B, N, d] tensor: a block that size is written and read back from
memory, and past glibc's 32 MiB mmap threshold its pages are faulted in afresh at every
step (benchmarks/kernel_floor.py times both ways: ``scores at once`` and ``scores in row
chunks``).
"""

from __future__ import annotations

from kdtfrs._keras import tf

#: Floats of gathered rows one chunk of ``in_row_chunks`` holds (4 MiB of float32).
CHUNK_ELEMENTS = 2**20
#: Gathered blocks of more floats than this (32 MiB, glibc's largest mmap threshold: every
#: larger allocation is mapped, and its pages faulted in, afresh) are scored in chunks.
CHUNKED_ABOVE = 2**23


def in_row_chunks(fn, row_shape, width, *tensors):
    """float32 [B, *row_shape]: ``fn(*chunk)`` over chunks of the rows of ``tensors`` (each
    [B, ...]), concatenated.

    A chunk has ``max(1, CHUNK_ELEMENTS // width)`` rows (``width``: the floats ``fn``
    materialises per row, an int or a scalar tensor); the last chunk is padded with copies of
    row 0 whose outputs are dropped. ``fn`` returns float32 [rows, *row_shape] (``row_shape``:
    an int vector). Runs as a ``tf.map_fn`` (a while loop, one chunk after another).
    """
    batch = tf.shape(tensors[0])[0]
    rows = tf.maximum(1, CHUNK_ELEMENTS // tf.maximum(1, tf.cast(width, tf.int32)))
    chunks = (batch + rows - 1) // rows
    pad = chunks * rows - batch

    def chunked(tensor):
        padded = tf.concat([tensor, tf.repeat(tensor[:1], pad, axis=0)], axis=0)
        return tf.reshape(padded, tf.concat([[chunks, rows], tf.shape(tensor)[1:]], axis=0))

    outputs = tf.map_fn(lambda chunk: fn(*chunk), tuple(chunked(t) for t in tensors),
                        fn_output_signature=tf.float32)
    return tf.reshape(outputs, tf.concat([[chunks * rows], row_shape], axis=0))[:batch]


def is_large(items, item_table):
    """Whether the [B, N, d] block of ``item_table``'s rows that ``items`` gathers holds more
    than ``CHUNKED_ABOVE`` floats: a Python bool where the shapes are static, else a bool tensor.

    (A ``tf.cond`` whose predicate Grappler folds to a constant and whose dropped branch holds
    the chunks' while loop makes its dependency optimizer log errors, so a static size never
    goes through one.)
    """
    count, width = items.shape.num_elements(), item_table.shape[-1]
    if count is not None and width is not None:
        return count * int(width) > CHUNKED_ABOVE
    return tf.size(items) * tf.shape(item_table)[-1] > CHUNKED_ABOVE


def gathered_scores(user_table, item_table, users, items):
    """float32 [B, N]: ``<user_table[users[b]], item_table[items[b, n]]>``.

    Gradients: the user rows' as ``tf.IndexedSlices`` of the B rows (as ``tf.gather``'s); the
    item rows' as ``tf.IndexedSlices`` of the unique items touched, each the sum of its
    ``ds[b, n] · u_b`` (a ``tf.sparse.sparse_dense_matmul``; not XLA-compilable).

    A variable table is read by rows only: the users' and the unique items' rows are gathered
    first (``tf.gather``, whose gradients carry the rows' on to the variables), since a dense
    read of a variable that a gather or a sparse update has touched copies all of it
    (TensorFlow's copy-on-read mode for such variables): 85 MB a call for Gowalla's 300-d
    teacher when BD trains it (benchmarks/kernel_floor.py, ``dense read of a gathered
    variable``). A tensor table (a frozen teacher's, a LightGCN's propagated one) is gathered
    from directly: gathering its touched rows first would copy 40 MB a step for MSE's 400-d
    teacher on CiteULike-t.

    Args:
      user_table: float32 [U, d] (a variable or a tensor).
      item_table: float32 [I, d].
      users: int32 [B].
      items: int32 [B, N].
    """
    users = tf.convert_to_tensor(users, tf.int32)
    items = tf.convert_to_tensor(items, tf.int32)
    user_rows = tf.gather(user_table, users)
    num_items = tf.shape(item_table, out_type=tf.int32)[0]
    if isinstance(item_table, tf.Variable):
        ids, places = touched_items(items, num_items)
        return _scores(user_rows, tf.gather(item_table, ids), places,
                       lambda upstream, rows: summed_by_item(upstream, rows, places,
                                                             tf.size(ids)),
                       is_large(items, item_table))

    def table_gradient(upstream, user_rows):
        ids, places = touched_items(items, num_items)
        return tf.IndexedSlices(summed_by_item(upstream, user_rows, places, tf.size(ids)), ids,
                                tf.shape(item_table, out_type=tf.int32))

    return _scores(user_rows, item_table, items, table_gradient, is_large(items, item_table))


def _scores(user_rows, item_rows, places, item_gradient, chunked):
    """float32 [B, N]: ``<user_rows[b], item_rows[places[b, n]]>``, with the custom gradient
    of ``gathered_scores``: ``item_gradient(upstream, user_rows)`` gives ``item_rows``' (for
    rows gathered per unique item, ``summed_by_item``'s [T, d] itself)."""
    width = tf.size(places[:1]) * tf.shape(item_rows)[1]  # N x d gathered floats a row

    def in_chunks_if_large(score_rows, row_shape, *tensors):
        if isinstance(chunked, bool):
            return (in_row_chunks(score_rows, row_shape, width, *tensors) if chunked
                    else score_rows(*tensors))
        return tf.cond(chunked,
                       lambda: in_row_chunks(score_rows, row_shape, width, *tensors),
                       lambda: score_rows(*tensors))

    @tf.custom_gradient
    def scores(user_rows, item_rows):
        def gradient(upstream):
            rows_gradient = in_chunks_if_large(
                lambda i, g: tf.linalg.matvec(tf.gather(item_rows, i), g, transpose_a=True),
                tf.shape(user_rows)[1:], places, upstream)
            rows_gradient.set_shape(user_rows.shape)
            return rows_gradient, item_gradient(upstream, user_rows)

        forward = in_chunks_if_large(
            lambda i, u: tf.linalg.matvec(tf.gather(item_rows, i), u),
            tf.shape(places)[1:], places, user_rows)
        forward.set_shape(places.shape)
        return forward, gradient

    return scores(user_rows, item_rows)


def touched_items(items, num_items):
    """(ids int32 [T], places int32 like ``items``): the unique items of ``items`` in
    increasing order, and each entry's place among them."""
    flat = tf.reshape(items, [-1])
    touched = tf.math.bincount(flat, minlength=num_items, maxlength=num_items) > 0
    ids = tf.cast(tf.where(touched)[:, 0], tf.int32)
    place = tf.cumsum(tf.cast(touched, tf.int32)) - 1  # an item's row among the touched
    return ids, tf.reshape(tf.gather(place, flat), tf.shape(items))


def summed_by_item(upstream, user_rows, places, num_touched):
    """float32 [T, d]: ``Σ_{(b,n): places[b,n]=t} upstream[b, n] · user_rows[b]`` for each
    touched item t, as one sparse-dense product."""
    batch = tf.shape(places)[0]
    columns = tf.repeat(tf.range(batch), tf.shape(places)[1])
    product = tf.SparseTensor(
        tf.cast(tf.stack([tf.reshape(places, [-1]), columns], axis=1), tf.int64),
        tf.reshape(upstream, [-1]),
        tf.cast(tf.stack([num_touched, batch]), tf.int64))
    return tf.sparse.sparse_dense_matmul(product, user_rows)
