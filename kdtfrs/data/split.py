"""Per-user train/validation/test splits of :class:`Interactions` into :class:`SplitData`.

Every split works per user on the user's distinct items (duplicates of a (user, item) pair
collapse to the earliest one first, so a pair never lands in two parts), fully vectorised: one
``np.lexsort`` groups each user's interactions and ranks them, and the rank of an interaction
within its user decides its part.

Part sizes follow the floor rule of the KD reference code (METHODS.md 1.3) for ratios
``(a, b, c)`` and ``n`` interactions of a user:

    l = max(floor(a * n), 1),   r = max(floor((a + b) * n), l)
    train = ranks [0, l),  valid = ranks [l, r),  test = ranks [r, n)

so every user with at least one interaction keeps at least one training item; e.g. 8:1:1 gives
n = 5 -> 4/0/1, n = 10 -> 8/1/1, n = 1 -> 1/0/0.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.interactions import Interactions
from kdtfrs.data.matrix import InteractionMatrix

_TRAIN, _VALID, _TEST = 0, 1, 2
_FLOOR_TOLERANCE = 1e-9  # so that e.g. (0.7 + 0.2) * 10 floors to 9, not 8


@dataclasses.dataclass(frozen=True)
class SplitData:
    """A dataset split per user into train, validation and test matrices of the same shape.

    Attributes:
      train, valid, test: :class:`InteractionMatrix` ``[num_users, num_items]``; ``valid`` may be
        empty (e.g. Gowalla's published split has none).
      user_ids, item_ids: original id of each user/item index (for serving).
      name: the dataset name.
    """

    train: InteractionMatrix
    valid: InteractionMatrix
    test: InteractionMatrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    name: str = "interactions"

    def __post_init__(self):
        shape = (len(self.user_ids), len(self.item_ids))
        for part in ("train", "valid", "test"):
            matrix = getattr(self, part)
            if (matrix.num_users, matrix.num_items) != shape:
                raise DataFormatError(
                    f"SplitData.{part} has shape {(matrix.num_users, matrix.num_items)}, expected "
                    f"{shape} (len(user_ids), len(item_ids))."
                )

    @property
    def num_users(self) -> int:
        return self.train.num_users

    @property
    def num_items(self) -> int:
        return self.train.num_items

    def __str__(self) -> str:
        return (
            f"{self.name}: {self.num_users} users, {self.num_items} items, train "
            f"{self.train.nnz} / valid {self.valid.nnz} / test {self.test.nnz} interactions"
        )


def split_random(interactions: Interactions, ratios=(0.8, 0.1, 0.1), seed: int = 0) -> SplitData:
    """Splits each user's items at random by ``ratios`` (floor rule above), seeded."""
    ratios = _check_ratios(ratios)
    data = interactions.deduplicated()
    random_keys = np.random.default_rng(seed).random(len(data))
    return _split_by_rank(data, random_keys, lambda n: _floor_boundaries(n, ratios))


def split_ordered(interactions: Interactions, ratios=(0.8, 0.1, 0.1)) -> SplitData:
    """Splits each user's items by ``order`` (earliest to train), floor rule of METHODS.md 1.3.

    Ties in ``order`` keep the order of the arrays (the file order for the loaders).
    """
    ratios = _check_ratios(ratios)
    data = interactions.deduplicated()
    return _split_by_rank(data, data.order, lambda n: _floor_boundaries(n, ratios))


def split_leave_one_out(interactions: Interactions) -> SplitData:
    """Last item by ``order`` to test, second last to validation, the rest to train.

    Users with 2 items keep 1 for train and 1 for test; users with 1 item keep it for train.
    """
    data = interactions.deduplicated()

    def boundaries(n):
        return np.maximum(n - 2, 1), np.maximum(n - 1, 1)

    return _split_by_rank(data, data.order, boundaries)


def hold_out_validation(split: SplitData, fraction: float = 0.1, seed: int = 0) -> SplitData:
    """Moves a random ``fraction`` of each user's training items into an empty validation part.

    For splits published without one (Gowalla's): hyperparameters and epoch counts are then
    chosen on the held-out pairs, and the final model trains on the whole training part for the
    chosen number of epochs. Per user, ``floor((1 - fraction) * n)`` items (at least one) stay in
    training (the floor rule above); ``test`` is unchanged. Seeded and vectorised.

    Raises:
      DataFormatError: if ``split`` already has validation interactions, or ``fraction`` is
        not in (0, 1).
    """
    if not 0 < fraction < 1:
        raise DataFormatError(
            f"fraction must lie in (0, 1), got {fraction!r}; e.g. 0.1 holds out 10% of each "
            f"user's training items."
        )
    if split.valid.nnz:
        raise DataFormatError(
            f"{split.name} already has a validation part ({split.valid.nnz} interactions); tune "
            f"on it, or hold out from a split without one."
        )
    users, items = split.train.to_pairs()
    train = Interactions(users, items, np.arange(users.size, dtype=np.float64),
                         split.user_ids, split.item_ids, split.name)
    held = split_random(train, ratios=(1 - fraction, fraction, 0.0), seed=seed)
    return dataclasses.replace(held, test=split.test)


def _check_ratios(ratios) -> np.ndarray:
    ratios = np.asarray(ratios, dtype=np.float64)
    if ratios.shape != (3,) or (ratios < 0).any() or ratios[0] <= 0 or abs(ratios.sum() - 1) > 1e-6:
        raise DataFormatError(
            f"ratios must be 3 non-negative numbers (train, valid, test) summing to 1 with a "
            f"positive train ratio, got {ratios.tolist()}; e.g. pass (0.8, 0.1, 0.1)."
        )
    return ratios


def _floor_boundaries(n: np.ndarray, ratios: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-user (train end, valid end) ranks of the floor rule, int64 arrays like ``n``."""
    train_end = np.maximum(np.floor(ratios[0] * n + _FLOOR_TOLERANCE), 1).astype(np.int64)
    valid_end = np.floor((ratios[0] + ratios[1]) * n + _FLOOR_TOLERANCE).astype(np.int64)
    return train_end, np.maximum(valid_end, train_end)


def _split_by_rank(data: Interactions, rank_key: np.ndarray, boundaries) -> SplitData:
    """Ranks each user's interactions by ``rank_key`` (ties by position) and cuts the ranks at
    ``boundaries(counts) -> (train_end, valid_end)`` computed per user."""
    by_user_then_key = np.lexsort((np.arange(len(data)), rank_key, data.users))
    users = data.users[by_user_then_key]
    items = data.items[by_user_then_key]
    counts = np.bincount(users, minlength=data.num_users)
    first_of_user = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(users.size) - first_of_user[users]
    train_end, valid_end = boundaries(counts)
    part = np.where(
        rank < train_end[users], _TRAIN, np.where(rank < valid_end[users], _VALID, _TEST)
    )

    def matrix(which: int) -> InteractionMatrix:
        chosen = part == which
        return InteractionMatrix.from_pairs(
            users[chosen], items[chosen], data.num_users, data.num_items
        )

    return SplitData(
        matrix(_TRAIN), matrix(_VALID), matrix(_TEST), data.user_ids, data.item_ids, data.name
    )
