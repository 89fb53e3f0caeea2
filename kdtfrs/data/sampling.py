"""BPR training triples (user, positive item, negative items) as a ``tf.data`` pipeline."""

from __future__ import annotations

from kdtfrs._keras import tf
from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.exclusion import PairExclusion
from kdtfrs.data.matrix import InteractionMatrix


def bpr_triples(
    train: InteractionMatrix,
    batch_size: int,
    num_negatives: int = 1,
    seed: int = 0,
    shuffle: bool = True,
    drop_remainder: bool = False,
    autotune: bool = False,
) -> tf.data.Dataset:
    """One epoch of BPR batches per iteration over the dataset.

    Every training pair appears exactly once per epoch (in a seeded random order when
    ``shuffle``), with ``num_negatives`` items drawn uniformly among the items the user has NOT
    interacted with in ``train`` (:class:`PairExclusion`, exact, with replacement).

    Randomness is seeded yet new every epoch: each iteration of the dataset (Keras ``fit`` starts
    one per epoch) draws an epoch seed from ``tf.data.Dataset.random(seed,
    rerandomize_each_iteration=True)``; the shuffle uses it and batch ``b`` samples its negatives
    with ``stateless_fold_in(epoch_seed, b)``. Two datasets built with the same arguments yield
    the same batches, epoch after epoch (as long as the TF global seed is the same).

    The whole epoch is vectorised: one stateless shuffle of the pair positions, then per batch a
    gather and one call to the sampler (no per-pair tf.data elements).

    tf.data's autotuning is off by default. Its model thread, started when a Keras train
    function first reads the iterator, is not woken when that iterator is deleted (TF 2.16), and
    Keras deletes the iterator at every epoch's end. Each epoch then waited out the thread's
    sleep: up to 4.2 s between Gowalla epochs of 6.4 s (benchmarks/epoch_boundary.py).
    Without it the sampler runs one call per CPU core at once (at most 16), and the prefetch
    buffer still grows on its own. The batches are the same either way.

    Args:
      train: the training interactions.
      batch_size: pairs per batch.
      num_negatives: negatives per pair.
      seed: the seed of the whole sequence of epochs.
      shuffle: shuffle the pairs every epoch (else user-major order).
      drop_remainder: drop the last, smaller batch (static batch shapes).
      autotune: let tf.data's autotuning set the sampling parallelism (see above).

    Returns:
      A dataset of ``{"user": int32 [B], "pos_item": int32 [B], "neg_item": int32 [B, n]}``.
    """
    if batch_size < 1 or num_negatives < 1:
        raise DataFormatError(
            f"batch_size and num_negatives must be >= 1, got {batch_size} and {num_negatives}."
        )
    if train.nnz == 0 or (drop_remainder and train.nnz < batch_size):
        raise DataFormatError(
            f"the training matrix has {train.nnz} pairs, too few for one batch of {batch_size} "
            f"(drop_remainder={drop_remainder}); check the split or lower batch_size."
        )
    exclusion = PairExclusion(train)
    pair_users, pair_items = train.to_pairs()
    pair_users = tf.constant(pair_users, dtype=tf.int32)
    pair_items = tf.constant(pair_items, dtype=tf.int32)
    num_pairs = train.nnz
    num_batches = num_pairs // batch_size if drop_remainder else -(-num_pairs // batch_size)

    def epoch_batches(epoch_seed):
        positions = tf.range(num_pairs, dtype=tf.int32)
        if shuffle:
            positions = tf.random.experimental.stateless_shuffle(positions, seed=epoch_seed)

        def batch(index):
            start = tf.cast(index, tf.int32) * batch_size
            chosen = positions[start : start + batch_size]
            if drop_remainder:
                chosen.set_shape([batch_size])
            return chosen, tf.random.experimental.stateless_fold_in(epoch_seed, index)

        return tf.data.Dataset.range(num_batches).map(batch)

    def triples(chosen, batch_seed):
        users = tf.gather(pair_users, chosen)
        return {
            "user": users,
            "pos_item": tf.gather(pair_items, chosen),
            "neg_item": exclusion.sample_uniform_excluding(users, num_negatives, batch_seed),
        }

    epoch_seeds = (
        tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2).take(1)
    )
    options = tf.data.Options()
    options.autotune.enabled = autotune
    return (
        epoch_seeds.flat_map(epoch_batches)
        .map(triples, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .apply(tf.data.experimental.assert_cardinality(num_batches))
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )
