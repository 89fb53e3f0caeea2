"""Test recall split by item popularity, reported beside the totals.

Gowalla's test part leans toward popular items more than its training pairs do
(benchmarks/held_out_check.py), and a 20-d student leans toward them too; a total alone cannot
tell a student that ranks the test part's popular items from one that ranks its users' other
items. The head is the ``HEAD_SHARE`` (1%) most popular items of the training part, counted
there (ties to the lower index); the tail is every other item. Recall@20 per slice: of a
user's test items in the slice, the share in the top 20 (training and validation items
masked, as for the totals), averaged over users with test items in the slice.
"""

from __future__ import annotations

import numpy as np

from kdtfrs.evaluation import evaluate

HEAD_SHARE = 0.01
SLICES = ("recall@20 head", "recall@20 tail")


def head_items(train) -> np.ndarray:
    """bool [num_items]: the ``HEAD_SHARE`` most popular items of ``train``."""
    popularity = train.item_popularity()
    head = np.zeros(popularity.size, bool)
    head[np.argsort(-popularity, kind="stable")[:int(HEAD_SHARE * popularity.size)]] = True
    return head


def sliced_recall(model, split) -> dict:
    """{"recall@20 head": ..., "recall@20 tail": ...} of ``model`` on ``split.test``."""
    groups = head_items(split.train).astype(np.int64)  # 1: head, 0: tail
    metrics = evaluate(model, split.test, (split.train, split.valid), ks=(20,),
                       item_groups=groups).metrics
    return {"recall@20 head": float(metrics["recall@20/group_1"]),
            "recall@20 tail": float(metrics["recall@20/group_0"])}
