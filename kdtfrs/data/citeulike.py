"""Loader for CiteULike ``users.dat`` files (CiteULike-t and CiteULike-a)."""

from __future__ import annotations

import os
import pathlib

import numpy as np

from kdtfrs.data.integer_lines import read_integer_lines
from kdtfrs.data.interactions import Interactions

_WHAT = "CiteULike users.dat (line k = user k: `n item item ...`, n = number of items that follow)"


def load_citeulike(
    path: os.PathLike | str, min_user_interactions: int = 1, name: str = "citeulike"
) -> Interactions:
    """Reads a CiteULike ``users.dat``: line ``k`` (0-based) lists the items of user ``k``.

    Each line is ``n i_1 ... i_n``; the first number must equal the count of item ids that follow.
    Users with fewer than ``min_user_interactions`` items are dropped, then items that no longer
    occur (one pass, as in the KD papers). ``min_user_interactions=5`` on CiteULike-t gives the
    "CiteULike" of the KD papers: 5,219 users, 25,181 items, 125,580 interactions.

    Args:
      path: the ``users.dat`` file, or the folder that holds it.
      min_user_interactions: the smallest number of items a kept user has.
      name: the dataset name stored in the result.

    Returns:
      :class:`Interactions`; ``user_ids`` are the 0-based line numbers, ``item_ids`` the article
      ids, ``order`` the position in the file (so ordered splits follow the line order).
    """
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "users.dat"
    lines = read_integer_lines(path, _WHAT)
    declared = lines.first_values()
    found = lines.values_per_line() - 1
    mismatched = np.flatnonzero(declared != found)
    if mismatched.size:
        line = int(mismatched[0])
        raise lines.error(
            line,
            f"the line declares {declared[line]} items but {found[line]} follow",
            "The first number of each line must be the count of item ids after it; fix the count "
            "or the ids",
        )
    is_item = np.ones(lines.values.size, dtype=bool)
    is_item[lines.line_indptr[:-1]] = False
    users = lines.line_of_each_value()[is_item]
    items = lines.values[is_item]
    interactions = Interactions.from_raw(users, items, order=np.arange(items.size), name=name)
    return interactions.with_min_user_interactions(min_user_interactions)
