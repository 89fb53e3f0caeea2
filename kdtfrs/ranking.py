"""Full-catalogue top-k retrieval for a model's embeddings, in blocks of users."""

from __future__ import annotations

import numpy as np

from kdtfrs import candidate_top_k, grouped_top_k
from kdtfrs._keras import tf
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.embeddings import Embeddings
from kdtfrs.gathered_scores import gathered_scores

_MIN_MASK_SLOTS = 1024


def exclusion_list(exclude, num_users: int, num_items: int) -> list[InteractionMatrix]:
    """``exclude`` (None, one ``InteractionMatrix`` or a sequence of them) as a checked list."""
    if exclude is None:
        return []
    matrices = [exclude] if isinstance(exclude, InteractionMatrix) else list(exclude)
    for position, matrix in enumerate(matrices):
        if not isinstance(matrix, InteractionMatrix):
            raise TypeError(
                f"exclude[{position}] must be an InteractionMatrix, got {type(matrix).__name__}."
            )
        if (matrix.num_users, matrix.num_items) != (num_users, num_items):
            raise ValueError(
                f"exclude[{position}] has shape ({matrix.num_users}, {matrix.num_items}), the "
                f"model scores ({num_users}, {num_items}): pass matrices of the same split."
            )
    return matrices


def csr_row_entries(matrix: InteractionMatrix, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position in ``users``, item) of every entry in the rows ``users`` of a CSR matrix.

    Vectorised: the entries of row ``users[r]`` are ``indices[indptr[u]:indptr[u + 1]]``, so
    their offsets are ``indptr[u] + 0..len-1``, built for all rows at once with ``np.repeat``.
    """
    users = np.asarray(users, dtype=np.int64)
    starts = matrix.indptr[users]
    lengths = matrix.indptr[users + 1] - starts
    positions = np.repeat(np.arange(users.size), lengths)
    row_first_entry = np.repeat(np.cumsum(lengths) - lengths, lengths)
    offsets = np.repeat(starts, lengths) + np.arange(positions.size) - row_first_entry
    return positions, matrix.indices[offsets]


def _checked_users(users, num_users: int) -> np.ndarray:
    users = np.arange(num_users) if users is None else np.asarray(users)
    if users.ndim != 1 or not (users.size == 0 or np.issubdtype(users.dtype, np.integer)):
        raise ValueError(
            f"users must be a 1-D array of integer user indices, got dtype {users.dtype} and "
            f"shape {users.shape}."
        )
    if users.size and (users.min() < 0 or users.max() >= num_users):
        raise ValueError(
            f"users must lie in [0, {num_users}), got range [{users.min()}, {users.max()}]."
        )
    return users.astype(np.int32)


def _mask_slots(exclusions: list[InteractionMatrix], block_users: np.ndarray,
                padding=range(0)) -> np.ndarray:
    """int32 [S, 2] (row in block, item) pairs to mask, padded to a power of two >= 1024.

    ``padding``: columns past the catalogue (a padded item table's) to mask in every row.
    Padding repeats the first pair (masking it twice changes nothing), so the compiled block
    function sees few distinct shapes. S is 0 when the block has nothing to mask.
    """
    pairs = [np.stack(csr_row_entries(matrix, block_users), axis=1) for matrix in exclusions]
    if len(padding):
        rows = np.arange(block_users.size)
        pairs.append(np.stack([np.repeat(rows, len(padding)),
                               np.tile(np.asarray(padding), rows.size)], axis=1))
    pairs = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)
    if not len(pairs):
        return pairs.astype(np.int32)
    slots = max(_MIN_MASK_SLOTS, 1 << int(len(pairs) - 1).bit_length())
    return np.concatenate([pairs, np.repeat(pairs[:1], slots - len(pairs), axis=0)]).astype(
        np.int32
    )


_BLOCK_RANKERS = {}


def _masked_scores(user_table, item_table, users, mask_slots):
    """float [b, num_items]: the block's scores, -inf at the excluded (row, item) slots."""
    scores = tf.matmul(tf.gather(user_table, users), item_table, transpose_b=True)
    return tf.tensor_scatter_nd_update(
        scores, mask_slots, tf.fill(tf.shape(mask_slots)[:1], float("-inf"))
    )


# One trace of ``_masked_scores`` for every block, table shape and list length (XLA still
# compiles once per concrete shape): rankers of an evaluation's top 50, a teacher's top 500
# and CD's top 3,000 each traced it again, until TensorFlow warned of excessive retracing.
_TABLE = tf.TensorSpec([None, None], tf.float32)
_SCORE_SIGNATURE = (_TABLE, _TABLE, tf.TensorSpec([None], tf.int32),
                    tf.TensorSpec([None, 2], tf.int32))
_BLOCK_SCORERS = {jit_compile: tf.function(_masked_scores, jit_compile=jit_compile,
                                           input_signature=_SCORE_SIGNATURE)
                  for jit_compile in (True, False)}


def _block_ranker(k: int, jit_compile: bool, table_shapes):
    """(rank_block, columns): a function (user_table, item_table, users [b], mask_slots [S, 2],
    rows) -> (items, scores), and the rows its item table must have.

    The scores are compiled with XLA by default: XLA scatters -inf into the block's score
    matrix in place, where TensorFlow's kernel copies the whole [b, num_items] matrix first.
    The top k is picked outside XLA, whose top-k is the slower one at every k measured
    (benchmarks/long_top_k.py): for long lists (``candidate_top_k.worthwhile``) by
    ``candidate_top_k`` on the host, which sorts only the entries not below a threshold that
    maxima of groups of columns set; for short ones (``grouped_top_k.worthwhile``) by
    ``grouped_top_k``, which ranks only the groups of columns with the best maxima, over an
    item table padded to ``columns`` rows whose padding the mask slots set to -inf; else by
    ``tf.math.top_k``. One function per (k, jit_compile, table shapes) is kept, so repeated
    evaluations (one per epoch) reuse its traces and XLA compilations; the tables are
    arguments, so models of one shape share it. Items and scores come back as NumPy arrays
    for the first ``rows`` users (the rest pad the last block to the compiled shape; the host
    path does not rank them).
    """
    key = (k, jit_compile, table_shapes)
    if key in _BLOCK_RANKERS:
        return _BLOCK_RANKERS[key]
    scores_of = _BLOCK_SCORERS[jit_compile]
    num_items = columns = table_shapes[1][0]
    if candidate_top_k.worthwhile(k, num_items):
        def pick(scores, rows):
            return candidate_top_k.candidate_top_k(scores.numpy()[:rows], k)

    else:
        if grouped_top_k.worthwhile(k, num_items):
            columns = grouped_top_k.padded_length(num_items)
            top_k = tf.function(lambda scores: grouped_top_k.grouped_top_k(scores, k),
                                reduce_retracing=True)
        else:
            top_k = tf.function(lambda scores: tuple(tf.math.top_k(scores, k=k)),
                                reduce_retracing=True)

        def pick(scores, rows):
            values, indices = top_k(scores)
            return values.numpy()[:rows], indices.numpy()[:rows]

    def rank_block(user_table, item_table, users, mask_slots, rows):
        values, indices = pick(scores_of(user_table, item_table, users, mask_slots), rows)
        return indices, values

    _BLOCK_RANKERS[key] = rank_block, columns
    return rank_block, columns


def top_k_items(model, users, k: int, exclude=None, batch_size: int = 2048, jit_compile=True):
    """The k best items of each user over the whole catalogue, excluded pairs left out.

    Scores are dot products of the model's embeddings, computed once (a graph model propagates
    once per call, not per block). For each block of ``batch_size`` users, the
    (user, item) pairs of ``exclude`` in the block's rows (gathered from the CSR arrays with
    NumPy, no per-user loop) are scattered to -inf, then the best k are picked
    (``tf.math.top_k``, ``kdtfrs.grouped_top_k`` for short lists of long rows, or
    ``kdtfrs.candidate_top_k`` on the host for long lists); no dense mask is built. Ties go
    to the lower item index. A user with fewer than k allowed items gets excluded items with
    score -inf at the end of the list.

    Args:
      model: a ``kdtfrs.models.Recommender`` or a ``kdtfrs.embeddings.Embeddings``.
      users: 1-D integer array of user indices (None: every user).
      k: list length, 1 <= k <= num_items.
      exclude: None, an ``InteractionMatrix`` or a sequence of them (e.g. ``(train, valid)``).
      batch_size: users per block; memory is about ``batch_size * num_items * 4`` bytes.
      jit_compile: compile the block function with XLA (faster: the -inf scatter happens in
        place); one compilation per distinct block shape, shared by every model.

    Returns:
      (items int32 [n, k], scores float32 [n, k]) as NumPy arrays, best first.
    """
    model = Embeddings.of(model)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= model.num_items:
        raise ValueError(f"k must be an integer in [1, {model.num_items}], got {k!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    users = _checked_users(users, model.num_users)
    exclusions = exclusion_list(exclude, model.num_users, model.num_items)
    if not users.size:
        return np.zeros((0, k), np.int32), np.zeros((0, k), np.float32)
    # Tensors, not variables: a tf.function traced with one model's distributed (mirrored)
    # variables as arguments would keep reading them when called with another model's.
    user_table, item_table = (tf.cast(tf.convert_to_tensor(table), tf.float32)
                              for table in model.tables())
    rank_block, columns = _block_ranker(int(k), bool(jit_compile),
                                        (tuple(user_table.shape), tuple(item_table.shape)))
    padding = range(model.num_items, columns)
    if padding:
        item_table = tf.pad(item_table, [[0, len(padding)], [0, 0]])
    block = min(batch_size, users.size)
    items, scores = [], []
    for start in range(0, users.size, block):
        block_users = users[start : start + block]
        padded_users = np.pad(block_users, (0, block - block_users.size))
        block_items, block_scores = rank_block(
            user_table, item_table, tf.constant(padded_users),
            tf.constant(_mask_slots(exclusions, block_users, padding)), block_users.size,
        )
        items.append(block_items)
        scores.append(block_scores)
    return np.concatenate(items), np.concatenate(scores)


# One compiled function for the blocks of every list_scores call: run eagerly, each chunk of
# gathered rows (kdtfrs.gathered_scores) is one Python step of a tf.map_fn (benchmarks/
# step_cost.py's refresh of RCE-KD and DCD on Gowalla, before and after, in benchmarks/notes.md).
_LIST_SCORERS = tf.function(
    gathered_scores,
    input_signature=(_TABLE, _TABLE, tf.TensorSpec([None], tf.int32),
                     tf.TensorSpec([None, None], tf.int32)))


def list_scores(model, items, batch_size: int = 2048) -> np.ndarray:
    """float32 [n, L]: ``model``'s score of user u with each item of ``items[u]``.

    ``items`` is a per-user table (int [num_users, L], e.g. a teacher's or student's top
    lists). Scored in blocks of ``batch_size`` users on the model's embeddings computed once,
    so a method that samples from such a list can gather the teacher's scores per batch
    instead of scoring ``batch x L x dim`` again at every step.
    """
    model = Embeddings.frozen(model)
    items = np.asarray(items)
    if items.ndim != 2 or items.shape[0] != model.num_users:
        raise ValueError(
            f"items must be a [num_users={model.num_users}, L] table, got shape {items.shape}."
        )
    user_table, item_table = (tf.cast(table, tf.float32) for table in model.tables())
    blocks = []
    for start in range(0, items.shape[0], batch_size):
        users = tf.range(start, min(start + batch_size, items.shape[0]), dtype=tf.int32)
        block_items = tf.constant(items[start : start + batch_size], tf.int32)
        blocks.append(_LIST_SCORERS(user_table, item_table, users, block_items).numpy())
    return np.concatenate(blocks) if blocks else np.zeros(items.shape, np.float32)
