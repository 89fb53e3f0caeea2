"""Interactions as parallel index arrays, and the maps between raw ids and contiguous indices."""

from __future__ import annotations

import dataclasses

import numpy as np

from kdtfrs.data.errors import DataFormatError


def index_ids(raw_ids) -> tuple[np.ndarray, np.ndarray]:
    """Maps raw ids of any type (ints, strings) to contiguous indices ``0 .. n - 1``.

    Indices follow the sorted order of the distinct ids, so integer ids ``0 .. n - 1`` map to
    themselves and the mapping does not depend on the order of the input.

    Args:
      raw_ids: 1-D array-like of ids (one per interaction).

    Returns:
      ``(indices, ids)``: int64 [len(raw_ids)] indices and the index -> id array ``ids`` [n]
      (the dtype of ``raw_ids``), so that ``ids[indices] == raw_ids``.
    """
    raw_ids = np.asarray(raw_ids)
    if raw_ids.ndim != 1:
        raise DataFormatError(f"raw_ids must be 1-D, got shape {raw_ids.shape}.")
    try:
        ids, indices = np.unique(raw_ids, return_inverse=True)
    except TypeError as error:
        raise DataFormatError(
            f"raw ids of mixed types cannot be sorted ({error}); convert them to one type "
            f"(e.g. all str) first."
        ) from None
    return indices.astype(np.int64).reshape(-1), ids


@dataclasses.dataclass(frozen=True)
class Interactions:
    """User-item interactions (implicit feedback) with contiguous indices.

    Attributes:
      users: int64 [n] user indices in ``[0, num_users)``.
      items: int64 [n] item indices in ``[0, num_items)``.
      order: float64 [n] a timestamp or file position; ordered splits keep the smallest values of
        each user for training.
      user_ids: [num_users] original id of each user index (any dtype, e.g. int64 or str).
      item_ids: [num_items] original id of each item index.
      name: the dataset name.
    """

    users: np.ndarray
    items: np.ndarray
    order: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    name: str = "interactions"

    def __post_init__(self):
        for field, dtype in (("users", np.int64), ("items", np.int64), ("order", np.float64)):
            object.__setattr__(self, field, np.asarray(getattr(self, field), dtype=dtype))
        for field in ("user_ids", "item_ids"):
            object.__setattr__(self, field, np.asarray(getattr(self, field)))
        n = self.users.shape[0] if self.users.ndim == 1 else -1
        for field in ("users", "items", "order"):
            array = getattr(self, field)
            if array.ndim != 1 or array.shape[0] != n:
                raise DataFormatError(
                    f"Interactions.{field} must be 1-D with the length of users ({n}), got shape "
                    f"{array.shape}."
                )
        for field, bound in (("users", self.num_users), ("items", self.num_items)):
            array = getattr(self, field)
            if array.size and (array.min() < 0 or array.max() >= bound):
                raise DataFormatError(
                    f"Interactions.{field} must lie in [0, {bound}) (the length of the id array), "
                    f"got range [{array.min()}, {array.max()}]."
                )

    @classmethod
    def from_raw(cls, raw_users, raw_items, order=None, name: str = "interactions") -> Interactions:
        """Builds interactions from raw user and item ids; ``order`` defaults to the position."""
        users, user_ids = index_ids(raw_users)
        items, item_ids = index_ids(raw_items)
        if users.shape != items.shape:
            raise DataFormatError(
                f"raw_users and raw_items must have the same length, got {users.size} and "
                f"{items.size}."
            )
        order = (
            np.arange(users.size, dtype=np.float64)
            if order is None
            else np.asarray(order, np.float64)
        )
        return cls(users, items, order, user_ids, item_ids, name)

    @property
    def num_users(self) -> int:
        return int(len(self.user_ids))

    @property
    def num_items(self) -> int:
        return int(len(self.item_ids))

    def __len__(self) -> int:
        return int(self.users.size)

    def select(self, keep: np.ndarray) -> Interactions:
        """The interactions where boolean ``keep`` is true, re-indexed so that users and items left
        without interactions disappear (their ids are dropped from ``user_ids``/``item_ids``)."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != self.users.shape:
            raise DataFormatError(f"keep must have shape {self.users.shape}, got {keep.shape}.")
        users, user_kept = np.unique(self.users[keep], return_inverse=True)
        items, item_kept = np.unique(self.items[keep], return_inverse=True)
        return Interactions(
            user_kept.astype(np.int64).reshape(-1),
            item_kept.astype(np.int64).reshape(-1),
            self.order[keep],
            self.user_ids[users],
            self.item_ids[items],
            self.name,
        )

    def with_min_user_interactions(self, min_interactions: int) -> Interactions:
        """Drops users with fewer than ``min_interactions`` interactions, then items left unused.

        One pass (not an iterated k-core): items are never filtered by their own count.
        """
        counts = np.bincount(self.users, minlength=self.num_users)
        return self.select(counts[self.users] >= min_interactions)

    def deduplicated(self) -> Interactions:
        """Keeps one interaction per (user, item) pair, the one with the smallest ``order``
        (the first in the arrays on ties); the kept interactions stay in their original order."""
        keys = self.users * self.num_items + self.items
        by_key_then_order = np.lexsort((np.arange(keys.size), self.order, keys))
        sorted_keys = keys[by_key_then_order]
        first = np.ones(keys.size, dtype=bool)
        first[1:] = sorted_keys[1:] != sorted_keys[:-1]
        if first.all():
            return self
        kept = np.sort(by_key_then_order[first])
        return dataclasses.replace(
            self, users=self.users[kept], items=self.items[kept], order=self.order[kept]
        )
