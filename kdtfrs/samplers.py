"""Seeded, vectorised samplers that pick the item sets distillation losses need.

Every sampler a task or scheme draws its items with lives here. The per-step ones are pure
TensorFlow over a batch (no Python loop over users), take a stateless seed (shape [2] int) and
work inside ``tf.function`` and ``tf.data`` maps, so the same draw is reproduced for the same
seed on any device. One is NumPy, run once per refresh outside the step: ``draw_rows``, which
fills BD's per-user pools. The negative samplers that read the training matrix
(``PairExclusion``, ``bpr_triples``) stay in ``kdtfrs.data`` beside the matrices they read.
"""

import numpy as np

from kdtfrs._keras import tf


def gumbel_noise(shape, seed):
    """Standard Gumbel noise -log(-log U), U ~ Uniform(0, 1), stateless."""
    uniform = tf.random.stateless_uniform(shape, seed=seed, minval=1e-20, maxval=1.0)
    return -tf.math.log(-tf.math.log(uniform))


def sample_without_replacement(logits, num_samples, seed, ordered=True):
    """Draws ``num_samples`` distinct columns per row with p proportional to softmax(logits).

    Gumbel top-k: the indices of the k largest ``logits + Gumbel`` are a sample without
    replacement from the softmax distribution (successive sampling). Columns with logit -inf
    are never drawn while enough finite columns remain.

    Args:
      logits: float32 [B, M].
      num_samples: k <= M.
      seed: stateless seed, int [2].
      ordered: return each row's columns in the order drawn; False leaves the order to
        ``top_k`` (the same set, cheaper, for callers that sort the columns themselves).

    Returns:
      int32 [B, k] column indices, in the order drawn (most likely first on average) when
      ``ordered``.
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    perturbed = logits + gumbel_noise(tf.shape(logits), seed)
    return tf.math.top_k(perturbed, k=num_samples, sorted=ordered).indices


def rank_discount_logits(list_length, temperature):
    """Logits -(r + 1) / T of rank-aware sampling, p(r) ~ exp(-(r + 1) / T), float32 [M]."""
    ranks = tf.range(list_length, dtype=tf.float32)
    return -(ranks + 1.0) / temperature


def rank_aware_positions(batch_size, list_length, num_samples, temperature, seed,
                         list_order=True):
    """Positions 0..M-1 of a ranked list drawn without replacement with p(r) ~ exp(-(r+1)/T).

    With ``list_order`` the positions of each row come back sorted ascending (teacher order),
    as RRD needs (Tang & Wang 2018; Kang et al. 2020); without, in the order drawn (PCKD's
    consistency samples).

    Returns:
      int32 [B, num_samples].
    """
    logits = tf.tile(rank_discount_logits(list_length, temperature)[None, :],
                     tf.stack([batch_size, 1]))
    positions = sample_without_replacement(logits, num_samples, seed, ordered=not list_order)
    return tf.sort(positions, axis=-1) if list_order else positions


def lookup_positions(table, rows, positions):
    """``table[rows[b], positions[b, n]]`` for a [R, M] table (a tensor or variable): [B, N].

    One ``gather_nd`` of the B x N entries, not the B whole rows of M entries first: CD's
    lists hold 3,000 items a user, of which each row of a step reads 2.
    """
    positions = tf.convert_to_tensor(positions)
    rows = tf.broadcast_to(tf.cast(rows, positions.dtype)[:, None], tf.shape(positions))
    return tf.gather_nd(table, tf.stack([rows, positions], axis=-1))


def rank_aware_from_list(ranked, users, num_samples, temperature, seed):
    """Samples ``num_samples`` items of each user's ranked list with p(r) ~ exp(-(r+1)/T).

    Returns (items int32 [B, n] in list order, relevance float32 [B, n] = M - r > 0,
    positions int32 [B, n] in the list).
    """
    list_length = int(ranked.shape[1])
    batch = tf.shape(users)[0]
    positions = rank_aware_positions(batch, list_length, num_samples, temperature, seed)
    items = lookup_positions(ranked, users, positions)
    relevance = tf.cast(list_length - positions, tf.float32)
    return items, relevance, positions


def rank_aware_pairs(lengths, max_rank, num_pairs, temperature, seed):
    """UnKD's ranked pairs: two positions per pair, each drawn i.i.d. with
    p(r) ∝ exp(-(r + 1) / T) over the first ``lengths[b]`` positions of a ``max_rank`` list.

    Args:
      lengths: int32 [B, 1], each row's list length (<= ``max_rank``).

    Returns:
      ``(better, worse, valid)``: int32 [B, num_pairs] each, the smaller and larger position
      of each pair, and bool [B, num_pairs], False where the two draws coincide or the row's
      list holds fewer than two items (padding).
    """
    discount = rank_discount_logits(max_rank, temperature)
    logits = tf.where(tf.range(max_rank)[None, :] < lengths, discount[None, :], -np.inf)
    draws = tf.random.stateless_categorical(logits, 2 * num_pairs, seed, dtype=tf.int32)
    draws = tf.minimum(draws, max_rank - 1)
    first, second = draws[:, :num_pairs], draws[:, num_pairs:]
    valid = (first != second) & (lengths >= 2)
    return tf.minimum(first, second), tf.maximum(first, second), valid


def uniform_items(batch_size, num_samples, item_count, seed):
    """int32 [B, num_samples]: items drawn uniformly with replacement from 0..item_count-1."""
    return tf.random.stateless_uniform(tf.stack([batch_size, num_samples]), seed, 0,
                                       item_count, tf.int32)


def tournament_positions(batch_size, list_length: int, num_samples: int, temperature: float,
                         seed):
    """Collaborative distillation's tournament: the better of two rank-aware draws.

    Each of the ``num_samples`` picks draws two positions i.i.d. from
    p(r) ~ exp(-(r + 1) / (M * T)) (Lee et al., ICDM 2019) and keeps the smaller (better
    ranked) one. Duplicates within a row are possible, as in the paper.

    Every row draws from the same distribution, so each draw is one uniform number looked up
    in p's cumulative sums (computed once, in float64, with the last sum exactly 1): B x 2n
    binary searches, where a categorical draw would read all M logits of every row.

    Args:
      batch_size: B (an int or a scalar tensor).
      list_length: M, a Python int.
      num_samples: n picks per row.
      temperature: T, a Python float.
      seed: stateless seed, int [2].

    Returns:
      int32 [B, num_samples].
    """
    logits = -(np.arange(list_length, dtype=np.float64) + 1.0) / (temperature * list_length)
    weights = np.exp(logits - logits.max())
    cumulative = np.cumsum(weights)
    cumulative /= cumulative[-1]
    cumulative[-1] = 1.0
    uniform = tf.random.stateless_uniform(tf.stack([batch_size, 2 * num_samples]), seed,
                                          dtype=tf.float64)
    # side="right": position r holds the u with cumulative[r-1] <= u < cumulative[r]; u < 1
    draws = tf.searchsorted(tf.constant(cumulative)[None, :], tf.reshape(uniform, [1, -1]),
                            side="right", out_type=tf.int32)
    pairs = tf.reshape(draws, tf.shape(uniform))
    return tf.minimum(pairs[:, :num_samples], pairs[:, num_samples:])


def draws_without_replacement(count, population: int, seed):
    """int32 [count]: uniform draws from 0..population-1, distinct while count <= population.

    Gumbel top-k over equal logits (a uniform sample without replacement); beyond the
    population the draws repeat cyclically (woriazzc/KDs' ``np.random.choice(replace=False)``
    fails there).
    """
    drawn = tf.minimum(count, population)
    order = sample_without_replacement(tf.zeros([1, population]), drawn, seed)[0]
    return tf.gather(order, tf.math.floormod(tf.range(count), drawn))


def draw_rows(log_weights, count: int, rng: np.random.Generator):
    """int32 [b, count]: for each row, ``count`` columns drawn with replacement with
    p ∝ exp(log_weights) (−∞: never drawn; each row needs a finite entry). NumPy, for the
    per-refresh pools of BD (``kdtfrs.rank_discrepancy``).

    Inverse-CDF sampling, vectorised over the rows: each row's normalised CDF is shifted by
    its row index, so one ``searchsorted`` over the flattened CDFs serves every row.
    """
    log_weights = np.asarray(log_weights)
    rows, width = log_weights.shape
    weights = np.exp(log_weights - log_weights.max(axis=1, keepdims=True))
    cdf = np.cumsum(weights, axis=1, dtype=np.float64)
    cdf /= cdf[:, -1:]
    offsets = np.arange(rows)[:, None]
    cdf += offsets
    uniform = rng.random((rows, count)) * (1.0 - 2.0 ** -30)  # r + u stays below r + 1
    found = np.searchsorted(cdf.reshape(-1), (uniform + offsets).reshape(-1), side="right")
    return (found.reshape(rows, count) - offsets * width).astype(np.int32)


def draw_from_pools(pool, users, num_samples: int, seed):
    """int32 [B, num_samples]: items drawn uniformly (with replacement) from each row's user
    pool (``pool`` int32 [num_users, P], a tensor or variable); stateless ``seed`` int [2]."""
    pool_size = tf.shape(pool)[1]
    positions = tf.random.stateless_uniform(
        [tf.shape(users)[0], num_samples], seed=seed, minval=0, maxval=pool_size, dtype=tf.int32)
    return lookup_positions(pool, users, positions)


def split_seed(seed, count):
    """``count`` independent stateless seeds derived from one, int64 [count, 2]."""
    return tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=count)
