"""A user x item interaction matrix in compressed sparse row form, on NumPy alone."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class InteractionMatrix:
    """Binary user x item interactions, CSR layout, items sorted within each user.

    Attributes:
      indptr: int64 [num_users + 1]; user ``u`` owns ``indices[indptr[u]:indptr[u + 1]]``.
      indices: int32 [nnz] item indices, sorted and unique within each user.
      num_users: number of rows.
      num_items: number of columns.
    """

    indptr: np.ndarray
    indices: np.ndarray
    num_users: int
    num_items: int

    @classmethod
    def from_pairs(cls, users, items, num_users: int, num_items: int) -> "InteractionMatrix":
        """Builds the matrix from parallel arrays of (user, item) pairs; duplicates collapse."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        if users.shape != items.shape or users.ndim != 1:
            raise ValueError(
                f"users and items must be 1-D arrays of the same length, got shapes "
                f"{users.shape} and {items.shape}."
            )
        if users.size and (users.min() < 0 or users.max() >= num_users):
            raise ValueError(
                f"user indices must lie in [0, {num_users}), got range "
                f"[{users.min()}, {users.max()}]."
            )
        if items.size and (items.min() < 0 or items.max() >= num_items):
            raise ValueError(
                f"item indices must lie in [0, {num_items}), got range "
                f"[{items.min()}, {items.max()}]."
            )
        keys = np.unique(users * num_items + items)
        rows = keys // num_items
        indptr = np.zeros(num_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=num_users), out=indptr[1:])
        return cls(indptr, (keys % num_items).astype(np.int32), int(num_users), int(num_items))

    @property
    def nnz(self) -> int:
        return int(self.indices.size)

    def row_lengths(self) -> np.ndarray:
        """Interactions per user, int64 [num_users]."""
        return np.diff(self.indptr)

    def user_of_each_entry(self) -> np.ndarray:
        """The row index of every stored entry, int64 [nnz] (COO rows)."""
        return np.repeat(np.arange(self.num_users, dtype=np.int64), self.row_lengths())

    def to_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(users, items) arrays of every stored entry, in row-major order."""
        return self.user_of_each_entry(), self.indices.astype(np.int64)

    def keys(self) -> np.ndarray:
        """Sorted int64 keys ``user * num_items + item``, one per entry (for membership tests)."""
        users, items = self.to_pairs()
        return users * self.num_items + items

    def item_popularity(self) -> np.ndarray:
        """Interactions per item, int64 [num_items]."""
        return np.bincount(self.indices, minlength=self.num_items).astype(np.int64)

    def row(self, user: int) -> np.ndarray:
        return self.indices[self.indptr[user] : self.indptr[user + 1]]

    def union(self, other: "InteractionMatrix") -> "InteractionMatrix":
        """Entry-wise OR of two matrices of the same shape."""
        if (self.num_users, self.num_items) != (other.num_users, other.num_items):
            raise ValueError(
                f"shapes differ: {(self.num_users, self.num_items)} vs "
                f"{(other.num_users, other.num_items)}."
            )
        u1, i1 = self.to_pairs()
        u2, i2 = other.to_pairs()
        return InteractionMatrix.from_pairs(
            np.concatenate([u1, u2]), np.concatenate([i1, i2]), self.num_users, self.num_items
        )
