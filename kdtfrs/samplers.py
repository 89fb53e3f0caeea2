"""Seeded, vectorised samplers that pick the item sets distillation losses need.

Every function is pure TensorFlow over a batch (no Python loop over users), takes a stateless
seed (shape [2] int) and works inside ``tf.function`` and ``tf.data`` maps, so the same draw is
reproduced for the same seed on any device.
"""

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


def rank_aware_positions(batch_size, list_length, num_samples, temperature, seed):
    """Positions 0..M-1 of a ranked list drawn without replacement with p(r) ~ exp(-(r+1)/T).

    The positions of each row come back sorted ascending (teacher order), as RRD needs
    (Tang & Wang 2018; Kang et al. 2020).

    Returns:
      int32 [B, num_samples].
    """
    logits = tf.tile(rank_discount_logits(list_length, temperature)[None, :], [batch_size, 1])
    positions = sample_without_replacement(logits, num_samples, seed, ordered=False)
    return tf.sort(positions, axis=-1)


def tournament_positions(batch_size, list_length, num_samples, temperature, seed):
    """Collaborative distillation's tournament: the better of two rank-aware draws.

    Each of the ``num_samples`` picks draws two positions i.i.d. from
    p(r) ~ exp(-(r + 1) / (M * T)) (Lee et al., ICDM 2019) and keeps the smaller (better
    ranked) one. Duplicates within a row are possible, as in the paper.

    Returns:
      int32 [B, num_samples].
    """
    logits = rank_discount_logits(list_length, temperature * float(list_length))
    logits = tf.tile(logits[None, :], [batch_size, 1])
    pairs = tf.random.stateless_categorical(logits, 2 * num_samples, seed=seed, dtype=tf.int32)
    first, second = pairs[:, :num_samples], pairs[:, num_samples:]
    return tf.minimum(first, second)


def draws_without_replacement(count, population: int, seed):
    """int32 [count]: uniform draws from 0..population-1, distinct while count <= population.

    Gumbel top-k over equal logits (a uniform sample without replacement); beyond the
    population the draws repeat cyclically (woriazzc/KDs' ``np.random.choice(replace=False)``
    fails there).
    """
    drawn = tf.minimum(count, population)
    order = sample_without_replacement(tf.zeros([1, population]), drawn, seed)[0]
    return tf.gather(order, tf.math.floormod(tf.range(count), drawn))


def split_seed(seed, count):
    """``count`` independent stateless seeds derived from one, int64 [count, 2]."""
    return tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=count)
