"""Top-k item search inside a served model: exact (blocked) and approximate (clustered).

Both searches are ``tf.Module``s holding the item table as variables (saved in the
SavedModel's ``variables/``, never in the graph) and answering, for a batch of query vectors,
the k best items by dot product with the items each row must skip pushed to the end:

    items, scores = search(queries [B, d], excluded_rows [E], excluded_items [E])

``excluded_rows``/``excluded_items`` are the (row of the batch, item index) pairs to leave
out (a user's training items), or None (nothing excluded: the graph then has no exclusion
ops at all); every search is vectorised over the batch and the pairs, no loop over users or
items. An excluded item is returned only when a row has fewer than k
allowed candidates, at the end of its list with score -inf.

``ExactSearch`` returns the same lists as ``matmul`` + ``tf.math.top_k`` over the whole
catalogue (ties aside), but runs top-k over a few hundred blocks instead of every item.
``ClusteredSearch`` scans only the items of the clusters nearest to the query (an inverted
file, IVF): faster, approximate; its recall against exact search is measured, not assumed
(benchmarks/serving.py).
"""

from __future__ import annotations

import math

import numpy as np

from kdtfrs._keras import tf

# Scores given to excluded items and to padding: every allowed item ranks above an excluded
# one (the lowest finite float32), and every excluded one above padding (-inf).
EXCLUDED_SCORE = float(np.finfo(np.float32).min)
PADDING_SCORE = float("-inf")


def _check_table(item_table, k) -> np.ndarray:
    table = np.asarray(item_table, dtype=np.float32)
    if table.ndim != 2 or not table.size:
        raise ValueError(f"the item table must be a non-empty [num_items, dim] matrix, got "
                         f"shape {table.shape}.")
    if not np.isfinite(table).all():
        raise ValueError("the item table holds non-finite values (NaN or infinity): the "
                         "model diverged; export a model with finite weights.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(table):
        raise ValueError(f"k must be an integer in [1, {len(table)}] (the number of items), "
                         f"got {k!r}.")
    return table


def _restore_excluded(scores):
    """Excluded items' placeholder score (the lowest float) shown as -inf."""
    return tf.where(scores <= EXCLUDED_SCORE, tf.fill(tf.shape(scores), PADDING_SCORE), scores)


def default_block_size(num_items: int, k: int) -> int:
    """The power of two at or below ``num_items / (100 k)``, within 8..512: 64 for a million
    items and k = 100, inside the fastest range of both precisions there
    (benchmarks/exact_block_size.py, medians of 3 rounds: float32 64-256 within noise of one
    another, bfloat16 64-128; 512, what this rule's earlier form gave, 1.4x float32's p50 at
    64). Small blocks keep the ranking of the chosen blocks' items cheap; the block maxima,
    one per block, are ranked with one ``top_k``."""
    target = max(1, num_items // (100 * k))
    return int(min(512, max(8, 1 << (target.bit_length() - 1))))


#: Precisions of ``ExactSearch``'s pass over every item.
PRECISIONS = ("float32", "bfloat16")
#: Bound on |bf16 score - exact score| per unit of ``||q|| max_i ||e_i||``: rounding the query,
#: the item and the product to bfloat16 (unit roundoff 2^-8) costs at most 3·2^-8 + O(2^-16)
#: with float32 accumulation; 4·2^-8 leaves room for the accumulation order.
BFLOAT16_ERROR = 4.0 * 2.0 ** -8


class ExactSearch(tf.Module):
    """Exact top-k by blocks: scores of every item, top-k over a few candidate blocks.

    The items are cut into ``nb`` blocks of ``block_size`` (the last one padded). For a query:

    1. ``s = q E^T`` for every item (one matrix product; the table is stored as E^T, [d, I],
       which a single query reads fastest), and the maximum of each block.
    2. Threshold ``t``: the ``(k + e)``-th largest block maximum, where ``e`` counts the
       row's excluded items and the padding. The ``k + e`` best blocks have distinct maxima
       ``>= t``, at most ``e`` of them not allowed, so at least k allowed items score
       ``>= t``: every item of the true top-k scores ``>= t`` and lies in a block whose
       maximum is ``>= t``.
    3. Only those blocks (about k of them) are gathered, their excluded items set below
       every allowed one, and ``tf.math.top_k`` runs over them.

    The lists are exactly those of a full ``top_k`` (ties may come in another order). When
    ``k + e`` exceeds the number of blocks, ``t`` is -inf and every block is kept: still
    exact, as slow as a full top-k. Cost: the matrix product (reading the table once) plus
    O(I) for the block maxima; the full ``top_k`` over I scores is gone.

    ``precision="bfloat16"`` makes step 1 read a bfloat16 copy of the table (half the
    memory traffic, the bound on one core) and stays exact: each approximate score is within
    ``δ = BFLOAT16_ERROR · ||q|| · max_i ||e_i||`` of the true one, so at least k allowed
    items truly score ``>= t - δ`` and every true top-k item has an approximate score, hence
    a block maximum, ``>= t - 2δ``. Those blocks are kept, their items rescored from the
    float32 table ([nb, block_size, d], gathered per block), and step 3 runs on the exact
    scores. The SavedModel then holds both tables (1.5x the float32 size). The bound assumes
    float32 accumulation of the bfloat16 products, as TensorFlow's CPU and GPU kernels do;
    tests/test_serving.py checks the lists against NumPy's. The margin keeps about three
    times the blocks the float32 pass keeps, each rescored whole: large blocks cost it most
    (benchmarks/exact_block_size.py: 2.2x the float32 search at 512, 1.2x at 64).

    Args:
      item_table: float32 [num_items, dim].
      k: list length, 1..num_items.
      block_size: items per block (default ``default_block_size``).
      precision: "float32" or "bfloat16", the precision of the pass over every item.
    """

    def __init__(self, item_table, k: int, block_size: int | None = None,
                 precision: str = "float32", name=None):
        super().__init__(name=name)
        table = _check_table(item_table, k)
        num_items, dim = table.shape
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got "
                             f"{precision!r}.")
        if block_size is None:
            block_size = default_block_size(num_items, k)
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"block_size must be a positive integer, got {block_size!r}.")
        self.k = int(k)
        self.precision = precision
        self.num_items = int(num_items)
        self.block_size = int(block_size)
        self.num_blocks = math.ceil(num_items / block_size)
        self.num_padding = self.num_blocks * block_size - num_items
        padded = np.zeros((dim, self.num_blocks * block_size), np.float32)
        padded[:, :num_items] = table.T
        if precision == "float32":
            self.item_table_t = tf.Variable(padded, trainable=False, name="item_table_t")
            return
        self.item_table_t = tf.Variable(tf.cast(padded, tf.bfloat16), trainable=False,
                                        name="item_table_t_bfloat16")
        self.item_blocks = tf.Variable(padded.T.reshape(self.num_blocks, block_size, dim),
                                       trainable=False, name="item_blocks")
        self.error_per_query_norm = tf.constant(
            BFLOAT16_ERROR * float(np.linalg.norm(table, axis=1).max()), tf.float32)

    def describe(self) -> dict:
        return {"search": "exact", "block_size": self.block_size, "blocks": self.num_blocks,
                "precision": self.precision}

    def _block_maxima(self, queries):
        """(block maxima [B, nb], a float32 pass's scores [B, nb, size] or None, the margin
        ``2δ`` [B] the thresholds must leave)."""
        batch = tf.shape(queries)[0]
        shape = [batch, self.num_blocks, self.block_size]
        if self.precision == "float32":
            scores = tf.reshape(tf.matmul(queries, self.item_table_t), shape)
            return tf.reduce_max(scores, axis=2), scores, tf.zeros([batch])
        approximate = tf.matmul(tf.cast(queries, tf.bfloat16), self.item_table_t)
        block_max = tf.cast(tf.reduce_max(tf.reshape(approximate, shape), axis=2), tf.float32)
        return block_max, None, 2.0 * self.error_per_query_norm * tf.norm(queries, axis=1)

    def _candidates(self, queries, scores, chosen):
        """float32 [B, M, size]: the exact scores of the items of the chosen blocks."""
        if scores is not None:
            return tf.gather(scores, chosen, batch_dims=1)
        return tf.einsum("bd,bmsd->bms", queries, tf.gather(self.item_blocks, chosen))

    def __call__(self, queries, excluded_rows=None, excluded_items=None):
        queries = tf.convert_to_tensor(queries, tf.float32)
        batch = tf.shape(queries)[0]
        k, size, blocks = self.k, self.block_size, self.num_blocks
        block_max, scores, margin = self._block_maxima(queries)

        rows, items, fill = _with_padding(batch, excluded_rows, excluded_items,
                                          self.num_items, self.num_padding)
        if rows is None and self.precision == "float32":
            # nothing to leave out and exact maxima: the k best blocks hold the top k
            chosen = tf.math.top_k(block_max, min(k, blocks)).indices
            candidates = self._candidates(queries, scores, chosen)
            top = tf.math.top_k(tf.reshape(candidates, [batch, -1]), k)
            blocks_of_top = tf.gather(chosen, top.indices // size, batch_dims=1)
            return blocks_of_top * size + top.indices % size, top.values
        if rows is None:
            rows, items = tf.zeros([0], tf.int32), tf.zeros([0], tf.int32)
            fill = tf.zeros([0], tf.float32)
        needed = k + tf.math.bincount(rows, minlength=batch, maxlength=batch, dtype=tf.int32)
        ranked = tf.math.top_k(block_max, tf.clip_by_value(tf.reduce_max(needed), 1, blocks))
        at_needed = tf.gather(ranked.values, tf.minimum(needed, blocks) - 1, batch_dims=1)
        threshold = tf.where(needed <= blocks, at_needed - margin, PADDING_SCORE)
        kept = tf.reduce_sum(tf.cast(block_max >= threshold[:, None], tf.int32), axis=1)
        num_kept = tf.maximum(tf.reduce_max(kept), -(-k // size))  # >= k items, even for B = 0
        chosen = tf.math.top_k(block_max, num_kept).indices  # [B, M] block ids
        candidates = self._candidates(queries, scores, chosen)  # [B, M, size]

        # Where each excluded item sits among its row's chosen blocks, if there at all.
        slot_of_block = tf.tensor_scatter_nd_update(
            tf.fill([batch, blocks], -1),
            tf.stack([tf.repeat(tf.range(batch), num_kept), tf.reshape(chosen, [-1])], axis=1),
            tf.tile(tf.range(num_kept), [batch]))
        slots = tf.gather_nd(slot_of_block, tf.stack([rows, items // size], axis=1))
        present = slots >= 0
        candidates = tf.tensor_scatter_nd_update(
            candidates,
            tf.stack([rows, slots, items % size], axis=1)[present],
            fill[present])

        top = tf.math.top_k(tf.reshape(candidates, [batch, num_kept * size]), k)
        blocks_of_top = tf.gather(chosen, top.indices // size, batch_dims=1)
        return blocks_of_top * size + top.indices % size, _restore_excluded(top.values)


class ClusteredSearch(tf.Module):
    """Approximate top-k: an inverted file (IVF) over k-means clusters of the items.

    At export the items are grouped by spherical k-means on their directions
    (``num_clusters`` centroids, ``kmeans_iterations`` Lloyd steps on a sample) and stored
    cluster after cluster, in chunks. A query scores the centroids, keeps the ``probes`` best
    clusters and ranks only their items, exactly, by dot product. Recall against exact search
    depends on the data (high on trained embeddings, whose items gather along few directions;
    low on isotropic random vectors): measure it (benchmarks/serving.py).

    Args:
      item_table: float32 [num_items, dim].
      k: list length.
      num_clusters: centroids (default about sqrt(num_items), at most num_items).
      probes: clusters scanned per query (default num_clusters / 16, at least enough
        clusters that any probes of them hold k items).
      seed: seed of the k-means sample and initialisation.
      chunk_size: items per stored chunk (default: a power of two near a quarter of the mean
        cluster size, 8..128). Each cluster is stored as whole chunks of ``chunk_size`` rows,
        so a query gathers a few contiguous chunks instead of one row per item (at most
        ``chunk_size - 1`` padding rows per cluster).
    """

    def __init__(self, item_table, k: int, num_clusters: int | None = None,
                 probes: int | None = None, kmeans_iterations: int = 10, seed: int = 0,
                 chunk_size: int | None = None, name=None):
        super().__init__(name=name)
        table = _check_table(item_table, k)
        num_items = len(table)
        if num_clusters is None:
            num_clusters = max(1, min(num_items, int(round(math.sqrt(num_items)))))
        if not 1 <= num_clusters <= num_items:
            raise ValueError(f"num_clusters must lie in [1, {num_items}], got {num_clusters}.")
        centroids, assignment = spherical_kmeans(table, num_clusters, kmeans_iterations, seed)
        sizes = np.bincount(assignment, minlength=num_clusters)
        # Enough probes that even the smallest clusters hold k items.
        least = int(np.searchsorted(np.cumsum(np.sort(sizes)), k) + 1)
        probes = max(num_clusters // 16, 1) if probes is None else probes
        if isinstance(probes, bool) or not isinstance(probes, int) or probes < 1:
            raise ValueError(f"probes must be a positive integer, got {probes!r}.")
        if chunk_size is None:
            quarter = max(1, num_items // (4 * num_clusters))
            chunk_size = int(min(128, max(8, 1 << (quarter.bit_length() - 1))))
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
        self.k = int(k)
        self.num_items = num_items
        self.num_clusters = num_clusters
        self.probes = int(min(num_clusters, max(probes, least)))
        self.chunk_size = int(chunk_size)
        # Each cluster's items fill whole chunks of chunk_size rows (its last chunk padded
        # with item index num_items and a zero vector); one more padding chunk at the end.
        chunks = -(-sizes // chunk_size)
        self.num_chunks = int(chunks.sum())
        chunk_offsets = np.concatenate([[0], np.cumsum(chunks)])
        order = np.argsort(assignment, kind="stable")
        rank = np.arange(num_items) - np.concatenate([[0], np.cumsum(sizes)])[assignment[order]]
        slot = chunk_offsets[assignment[order]] * chunk_size + rank  # flat slot of each item
        chunk_items = np.full((self.num_chunks + 1) * chunk_size, num_items, np.int32)
        chunk_items[slot] = order
        vectors = np.zeros(((self.num_chunks + 1) * chunk_size, table.shape[1]), np.float32)
        vectors[slot] = table[order]
        slot_of_item = np.empty(num_items, np.int32)
        slot_of_item[order] = slot
        self.centroids = tf.Variable(centroids, trainable=False, name="centroids")
        self.chunk_vectors = tf.Variable(vectors.reshape(self.num_chunks + 1, chunk_size, -1),
                                         trainable=False, name="chunk_vectors")
        self.chunk_items = tf.Variable(chunk_items.reshape(self.num_chunks + 1, chunk_size),
                                       trainable=False, name="chunk_items")
        self.chunk_offsets = tf.Variable(chunk_offsets.astype(np.int32), trainable=False,
                                         name="chunk_offsets")
        self.slot_of_item = tf.Variable(slot_of_item, trainable=False, name="slot_of_item")
        self.cluster_of_item = tf.Variable(assignment.astype(np.int32), trainable=False,
                                           name="cluster_of_item")

    def describe(self) -> dict:
        return {"search": "clustered", "clusters": self.num_clusters, "probes": self.probes,
                "chunk_size": self.chunk_size}

    def __call__(self, queries, excluded_rows=None, excluded_items=None):
        batch, size = tf.shape(queries)[0], self.chunk_size
        probed = tf.math.top_k(tf.matmul(queries, self.centroids, transpose_b=True),
                               self.probes).indices  # [B, P] cluster ids
        starts = tf.gather(self.chunk_offsets, probed)
        counts = tf.gather(self.chunk_offsets, probed + 1) - starts
        first = tf.cumsum(counts, axis=1, exclusive=True)  # where each cluster starts in a row
        chunks = tf.RaggedTensor.from_row_lengths(
            tf.ragged.range(tf.reshape(starts, [-1]), tf.reshape(starts + counts, [-1]))
            .flat_values, tf.reduce_sum(counts, axis=1))
        width = tf.maximum(chunks.bounding_shape(1), -(-self.k // size))
        chunks = chunks.to_tensor(default_value=self.num_chunks, shape=[batch, width])
        scores = tf.einsum("bcsd,bd->bcs", tf.gather(self.chunk_vectors, chunks), queries)
        items = tf.reshape(tf.gather(self.chunk_items, chunks), [batch, -1])
        scores = tf.where(items < self.num_items, tf.reshape(scores, [batch, -1]), PADDING_SCORE)
        if excluded_rows is not None:
            scores = self._exclude(scores, probed, starts, first, excluded_rows,
                                   excluded_items)
        top = tf.math.top_k(scores, self.k)
        values = top.values if excluded_rows is None else _restore_excluded(top.values)
        return tf.gather(items, top.indices, batch_dims=1), values

    def _exclude(self, scores, probed, starts, first, rows, items):
        """``scores`` with the excluded items that lie in a probed cluster set below the rest:
        the item's cluster -> its probe slot in the row -> its column."""
        batch = tf.shape(scores)[0]
        rows, items = tf.cast(rows, tf.int32), tf.cast(items, tf.int32)
        slot_of_cluster = tf.tensor_scatter_nd_update(
            tf.fill([batch, self.num_clusters], -1),
            tf.stack([tf.repeat(tf.range(batch), self.probes), tf.reshape(probed, [-1])], 1),
            tf.tile(tf.range(self.probes), [batch]))
        clusters = tf.gather(self.cluster_of_item, items)
        slots = tf.gather_nd(slot_of_cluster, tf.stack([rows, clusters], axis=1))
        present = slots >= 0
        at = tf.stack([rows, tf.maximum(slots, 0)], axis=1)
        cluster_start = (tf.gather_nd(starts, at) - tf.gather_nd(first, at)) * self.chunk_size
        column = tf.gather(self.slot_of_item, items) - cluster_start
        return tf.tensor_scatter_nd_update(
            scores, tf.stack([rows, column], axis=1)[present],
            tf.fill(tf.shape(column), EXCLUDED_SCORE)[present])


def _with_padding(batch, rows, items, num_items: int, num_padding: int):
    """The excluded pairs plus every row's padding items, and the score each must get
    (all None when there is neither)."""
    if rows is None and not num_padding:
        return None, None, None
    if rows is None:
        rows, items = tf.zeros([0], tf.int32), tf.zeros([0], tf.int32)
    rows, items = tf.cast(rows, tf.int32), tf.cast(items, tf.int32)
    fill = tf.fill(tf.shape(rows), EXCLUDED_SCORE)
    if not num_padding:
        return rows, items, fill
    pad_rows = tf.repeat(tf.range(batch), num_padding)
    pad_items = tf.tile(tf.range(num_items, num_items + num_padding), [batch])
    return (tf.concat([rows, pad_rows], 0), tf.concat([items, pad_items], 0),
            tf.concat([fill, tf.fill(tf.shape(pad_rows), PADDING_SCORE)], 0))


def spherical_kmeans(table: np.ndarray, num_clusters: int, iterations: int = 10,
                     seed: int = 0, sample_per_cluster: int = 64):
    """(centroids [C, d], assignment [I]): k-means on the items' directions (cosine).

    Lloyd's steps run on a sample of ``sample_per_cluster * C`` items (all of them when
    fewer); every item is then assigned, in chunks, to the centroid of largest cosine.
    Centroids are unit vectors scaled by the mean norm of their items, so that a query's dot
    product with a centroid ranks clusters by the scores their items tend to reach.
    Empty clusters keep their previous centroid.
    """
    rng = np.random.default_rng(seed)
    norms = np.linalg.norm(table, axis=1, keepdims=True)
    directions = table / np.maximum(norms, 1e-12)
    size = min(len(table), sample_per_cluster * num_clusters)
    sample = directions[rng.choice(len(table), size, replace=False)]
    centroids = sample[rng.choice(size, num_clusters, replace=False)]
    for _ in range(iterations):
        nearest = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        _add_rows(sums, nearest, sample)
        lengths = np.linalg.norm(sums, axis=1, keepdims=True)
        centroids = np.where(lengths > 0, sums / np.maximum(lengths, 1e-12), centroids)
    chunk = max(1, (1 << 24) // num_clusters)
    assignment = np.concatenate([np.argmax(directions[i:i + chunk] @ centroids.T, axis=1)
                                 for i in range(0, len(table), chunk)])
    counts = np.bincount(assignment, minlength=num_clusters)
    mean_norm = np.bincount(assignment, weights=norms[:, 0], minlength=num_clusters)
    scale = np.where(counts > 0, mean_norm / np.maximum(counts, 1), 0.0)
    return (centroids * scale[:, None]).astype(np.float32), assignment.astype(np.int64)


def _add_rows(sums, rows, values):
    """``sums[rows[j]] += values[j]`` for every j (a sparse one-hot product, vectorised)."""
    for column in range(values.shape[1]):
        sums[:, column] += np.bincount(rows, weights=values[:, column], minlength=len(sums))


SEARCHES = {"exact": ExactSearch, "clustered": ClusteredSearch}

__all__ = ["ClusteredSearch", "ExactSearch", "SEARCHES", "default_block_size",
           "spherical_kmeans"]
