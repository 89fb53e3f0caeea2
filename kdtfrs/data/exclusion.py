"""A set of excluded (user, item) pairs: membership tests and uniform sampling outside it, in TF.

The set is stored as sorted int64 keys ``user * num_items + item`` (one entry per pair, never a
dense ``|U| x |I|`` mask) with one offset per user, so memory is ``O(#pairs + #users)``.
All methods are pure TF ops: they run eagerly, inside ``tf.function`` and in ``tf.data`` maps.

Sampling is exact and needs no rejection loop. For user ``u`` with excluded items
``e_0 < e_1 < ... < e_{m-1}``, the key ``f_k = e_k - k`` counts the free (not excluded) items
below ``e_k`` and is non-decreasing in ``k``. The free item of free-rank ``r`` (``0 <= r < I - m``)
is therefore

    x(r) = r + #{k : f_k <= r},

one ``tf.searchsorted`` over the keys ``u * I + f_k``, which stay globally sorted. Where a
user's keys begin and end is kept per user (``offsets``: two gathers per sampled row instead
of two more searches). Drawing ``r ~ U{0, ..., I - m - 1}`` makes ``x(r)`` uniform over the free
items, at a fixed cost per sample whatever the share of excluded items (rejection would need
about ``I / (I - m)`` rounds).
"""

from __future__ import annotations

import numpy as np

from kdtfrs._keras import tf
from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.matrix import InteractionMatrix


class PairExclusion:
    """Excluded (user, item) pairs, e.g. the training positives of every user.

    Args:
      matrix_or_keys: an :class:`InteractionMatrix` (its entries are excluded), or an array of
        int64 keys ``user * num_items + item`` (any order, duplicates allowed).
      num_items: the catalogue size; required with keys, must match the matrix if given with one.
    """

    def __init__(self, matrix_or_keys, num_items: int | None = None):
        if isinstance(matrix_or_keys, InteractionMatrix):
            if num_items is not None and num_items != matrix_or_keys.num_items:
                raise DataFormatError(
                    f"num_items={num_items} differs from the matrix's {matrix_or_keys.num_items}; "
                    f"leave num_items out when passing an InteractionMatrix."
                )
            keys, num_items = matrix_or_keys.keys(), matrix_or_keys.num_items
        else:
            if num_items is None or num_items < 1:
                raise DataFormatError(
                    f"num_items must be a positive int with keys, got {num_items!r}."
                )
            keys = np.unique(np.asarray(matrix_or_keys, dtype=np.int64).reshape(-1))
            if keys.size and keys[0] < 0:
                raise DataFormatError(
                    f"keys must be non-negative (user * num_items + item), got {keys[0]}."
                )
        self.num_items = int(num_items)
        self.keys = keys
        users, items = keys // self.num_items, keys % self.num_items
        # offsets[v]: the keys of users below v, for v = 0 .. (the last user with a key) + 1.
        offsets = np.searchsorted(users, np.arange(users[-1] + 2 if keys.size else 1))
        self._keys = tf.constant(keys, dtype=tf.int64)
        self._offsets = tf.constant(offsets, dtype=tf.int64)
        rank_in_user = np.arange(keys.size) - offsets[users]
        self._free_rank_keys = tf.constant(
            users * self.num_items + items - rank_in_user, dtype=tf.int64
        )

    def __len__(self) -> int:
        return int(self.keys.size)

    def contains(self, users, items) -> tf.Tensor:
        """bool tensor: whether each (user, item) pair is excluded.

        ``users`` and ``items`` are integer tensors of broadcastable shapes; ``users`` [B] with
        ``items`` [B, N] is read as one user per row.
        """
        users = tf.cast(tf.convert_to_tensor(users), tf.int64)
        items = tf.cast(tf.convert_to_tensor(items), tf.int64)
        if users.shape.rank is not None and users.shape.rank + 1 == items.shape.rank:
            users = users[..., tf.newaxis]
        queries = users * self.num_items + items
        if not len(self):
            return tf.zeros_like(queries, dtype=tf.bool)
        flat = tf.reshape(queries, [-1])
        position = tf.searchsorted(self._keys, flat, side="left", out_type=tf.int64)
        found = tf.gather(self._keys, tf.minimum(position, len(self) - 1)) == flat
        return tf.reshape(found, tf.shape(queries))

    def num_excluded(self, users) -> tf.Tensor:
        """int64 [B]: how many items are excluded for each user."""
        first, end = self._user_range(tf.cast(tf.convert_to_tensor(users), tf.int64))
        return end - first

    def sample_uniform_excluding(self, users, num_samples: int, seed) -> tf.Tensor:
        """Draws, for every user, ``num_samples`` items uniformly among its non-excluded items.

        Draws are independent (with replacement), stateless: the same ``seed`` gives the same items.

        Args:
          users: int32/int64 [B] user indices.
          num_samples: samples per user.
          seed: int32/int64 [2] stateless seed (e.g. from ``tf.random.split``).

        Returns:
          int32 [B, num_samples] items. Raises ``tf.errors.InvalidArgumentError`` if a user has
          every item excluded.
        """
        users = tf.cast(tf.reshape(users, [-1]), tf.int64)
        first, end = self._user_range(users)
        free = self.num_items - (end - first)
        no_free_item = tf.debugging.Assert(
            tf.reduce_all(free > 0),
            [
                f"PairExclusion.sample_uniform_excluding: every one of the {self.num_items} items "
                f"is excluded for these users, so none can be sampled; drop them from the batch:",
                tf.boolean_mask(users, free <= 0),
            ],
        )
        with tf.control_dependencies([no_free_item]):
            uniform = tf.random.stateless_uniform(
                [tf.size(users), num_samples], seed, dtype=tf.float64
            )
        free_rank = tf.cast(tf.floor(uniform * tf.cast(free[:, tf.newaxis], tf.float64)), tf.int64)
        targets = users[:, tf.newaxis] * self.num_items + free_rank
        below = tf.searchsorted(
            self._free_rank_keys, tf.reshape(targets, [-1]), side="right", out_type=tf.int64
        )
        excluded_below = tf.reshape(below, tf.shape(targets)) - first[:, tf.newaxis]
        return tf.cast(free_rank + excluded_below, tf.int32)

    def _user_range(self, users: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """[first, end) positions of each user's keys in the sorted key array."""
        top = int(self._offsets.shape[0]) - 1
        first = tf.gather(self._offsets, tf.clip_by_value(users, 0, top))
        end = tf.gather(self._offsets, tf.clip_by_value(users + 1, 0, top))
        return first, end
