"""Popularity groups of items, as used by UnKD (Chen et al., WSDM 2023; METHODS.md 2.3)."""

from __future__ import annotations

import numpy as np

from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.matrix import InteractionMatrix


def popularity_groups(train: InteractionMatrix, num_groups: int) -> np.ndarray:
    """Splits the items into popularity groups holding about equal numbers of interactions.

    UnKD's greedy rule, with quota ``q = nnz / num_groups``:

    1. Sort items by training popularity, descending (ties by item index).
    2. Walk the sorted items filling the current group while its interaction count stays
       ``<= q``; the item that would push it above ``q`` starts the next group. An item more
       popular than ``q`` on its own forms a group by itself.
    3. The last, unfinished group stays a group if it holds more than ``q / 2`` interactions,
       else it is merged into the previous group.

    Each group is found at once from the cumulative popularity (``np.searchsorted``), so the
    loop runs over groups, never over items. Items never seen in training have popularity 0 and
    land in the last group. The number of groups can differ from ``num_groups`` by the rule
    (very popular items alone, a remainder above ``q / 2``); it is ``groups.max() + 1``.

    Args:
      train: the training interactions.
      num_groups: the wanted number of groups ``G >= 1``.

    Returns:
      int32 [num_items] group of every item; group 0 holds the most popular items.
    """
    if num_groups < 1:
        raise DataFormatError(f"num_groups must be >= 1, got {num_groups}.")
    if train.nnz == 0:
        raise DataFormatError("popularity_groups needs training interactions; the matrix is empty.")
    popularity = train.item_popularity()
    by_popularity = np.argsort(-popularity, kind="stable")
    cumulative = np.cumsum(popularity[by_popularity])
    quota = train.nnz / num_groups
    num_items = popularity.size

    group_starts = []
    start, filled = 0, 0
    while start < num_items:
        end = int(np.searchsorted(cumulative, filled + quota, side="right"))
        if end == num_items:  # the remainder: its own group, or merged into the previous one
            if cumulative[-1] - filled > quota / 2 or not group_starts:
                group_starts.append(start)
            break
        end = max(end, start + 1)  # an item above the quota on its own
        group_starts.append(start)
        start, filled = end, int(cumulative[end - 1])

    group_of_rank = np.zeros(num_items, dtype=np.int32)
    group_of_rank[group_starts[1:]] = 1
    groups = np.empty(num_items, dtype=np.int32)
    groups[by_popularity] = np.cumsum(group_of_rank)
    return groups
