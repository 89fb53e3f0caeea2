"""Loader for MovieLens-100K ``u.data`` (GroupLens ml-100k release)."""

from __future__ import annotations

import os
import pathlib

import numpy as np

from kdtfrs.data.errors import format_error
from kdtfrs.data.integer_lines import read_integer_lines
from kdtfrs.data.interactions import Interactions

_WHAT = "MovieLens-100K u.data (tab-separated `user item rating timestamp` lines)"


def load_movielens_100k(path: os.PathLike | str, min_rating: int | None = None) -> Interactions:
    """Reads ML-100K ratings as implicit feedback.

    Args:
      path: the ``u.data`` file, or the ``ml-100k`` folder that holds it.
      min_rating: keep only ratings ``>= min_rating`` (e.g. 4 to binarise as many papers do);
        ``None`` keeps every rating as a positive interaction.

    Returns:
      :class:`Interactions` named "movielens-100k"; ``order`` is the Unix timestamp, ``user_ids``
      and ``item_ids`` the original 1-based ids. The full file gives 943 users, 1,682 items and
      100,000 interactions (55,375 with ``min_rating=4``).
    """
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "u.data"
    lines = read_integer_lines(path, _WHAT)
    wrong_width = np.flatnonzero(lines.values_per_line() != 4)
    if wrong_width.size:
        line = int(wrong_width[0])
        raise lines.error(
            line,
            f"expected 4 values (user item rating timestamp), got {lines.values_per_line()[line]}",
            "Fix that line or check that the file is ML-100K's u.data",
        )
    users, items, ratings, timestamps = lines.values.reshape(-1, 4).T
    if min_rating is not None:
        keep = ratings >= min_rating
        if not keep.any():
            raise format_error(
                path,
                None,
                f"no rating is >= min_rating={min_rating} (ratings range "
                f"{ratings.min()}..{ratings.max()})",
                "Lower min_rating or pass None to keep every rating",
            )
        users, items, timestamps = users[keep], items[keep], timestamps[keep]
    return Interactions.from_raw(users, items, order=timestamps, name="movielens-100k")
