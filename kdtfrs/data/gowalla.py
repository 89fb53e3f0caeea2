"""Loader for the LightGCN/NGCF split files (``train.txt``/``test.txt``), e.g. Gowalla."""

from __future__ import annotations

import os
import pathlib

import numpy as np

from kdtfrs.data.errors import format_error
from kdtfrs.data.integer_lines import read_integer_lines
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.data.split import SplitData

_WHAT = "LightGCN-format {} (one line per user: `user item item ...`, 0-based ids)"


def load_gowalla(path: os.PathLike | str, name: str = "gowalla") -> SplitData:
    """Reads the published train/test split of NGCF/LightGCN (Gowalla, Yelp2018, Amazon-Book).

    The split is used as given: ``valid`` is empty and ids are kept as they are in the files
    (``user_ids[u] == u``, ``item_ids[i] == i``), after checking that they are contiguous:
    every user ``0 .. U-1`` has a train line and every item ``0 .. I-1`` occurs in train or test.
    Gowalla gives 29,858 users, 40,981 items, 810,128 train and 217,242 test interactions.

    Args:
      path: the folder holding ``train.txt`` and ``test.txt``.
      name: the dataset name stored in the result.
    """
    folder = pathlib.Path(path)
    train_users, train_items = _read_user_lines(folder / "train.txt")
    test_users, test_items = _read_user_lines(folder / "test.txt")

    num_users = int(train_users.max()) + 1
    missing_users = np.flatnonzero(np.bincount(train_users, minlength=num_users) == 0)
    if missing_users.size:
        raise format_error(
            folder / "train.txt",
            None,
            f"user ids are not contiguous: {missing_users.size} of the ids 0..{num_users - 1} have "
            f"no line (first: {missing_users[:5].tolist()})",
            "The files must use 0-based remapped ids, every user with a train line; re-index them",
        )
    if test_users.max() >= num_users:
        raise format_error(
            folder / "test.txt",
            None,
            f"user {test_users.max()} has no train line (train users are 0..{num_users - 1})",
            "Every test user must also have a train line; check the two files belong together",
        )
    num_items = int(max(train_items.max(), test_items.max())) + 1
    item_counts = np.bincount(train_items, minlength=num_items) + np.bincount(
        test_items, minlength=num_items
    )
    missing_items = np.flatnonzero(item_counts == 0)
    if missing_items.size:
        raise format_error(
            folder,
            None,
            f"item ids are not contiguous: {missing_items.size} of the ids 0..{num_items - 1} "
            f"occur in neither train.txt nor test.txt (first: {missing_items[:5].tolist()})",
            "The files must use 0-based remapped item ids; re-index them",
        )
    empty = InteractionMatrix.from_pairs([], [], num_users, num_items)
    return SplitData(
        train=InteractionMatrix.from_pairs(train_users, train_items, num_users, num_items),
        valid=empty,
        test=InteractionMatrix.from_pairs(test_users, test_items, num_users, num_items),
        user_ids=np.arange(num_users, dtype=np.int64),
        item_ids=np.arange(num_items, dtype=np.int64),
        name=name,
    )


def _read_user_lines(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    """(users, items) int64 pairs of one ``user item item ...`` file, in file order."""
    lines = read_integer_lines(path, _WHAT.format(path.name))
    per_line = lines.values_per_line()
    without_items = np.flatnonzero(per_line == 1)
    if without_items.size:
        line = int(without_items[0])
        raise lines.error(
            line,
            f"user {lines.first_values()[line]} has no items",
            "Each line must be `user item item ...` with at least one item; drop that line",
        )
    line_users = lines.first_values()
    by_user = np.argsort(line_users, kind="stable")
    repeated = np.flatnonzero(line_users[by_user][1:] == line_users[by_user][:-1])
    if repeated.size:
        line = int(by_user[repeated[0] + 1])
        raise lines.error(
            line,
            f"user {line_users[line]} already has a line (line {by_user[repeated[0]] + 1})",
            "Each user must have one line per file; merge the two lines",
        )
    is_item = np.ones(lines.values.size, dtype=bool)
    is_item[lines.line_indptr[:-1]] = False
    return np.repeat(line_users, per_line - 1), lines.values[is_item]
