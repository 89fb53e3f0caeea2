"""Teacher signals computed once per teacher: ranked lists per user and per item.

A frozen teacher's full ranking is needed by most ranking-distillation methods, but only its
head: the top-mxK items of each user (RRD, DCD, RD, KD, BlackD, RCE-KD), the top users of
each item (IR-RRD) or of each popularity group (UnKD). These are computed by batched matmul +
``tf.math.top_k`` over the catalogue (see ``kdtfrs.ranking``), never a Python loop over users,
and memoised so several methods of one Distiller share one pass.
"""

from __future__ import annotations

import time

import numpy as np

from kdtfrs import ranking
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.embeddings import Embeddings


def allowed_length(k: int, num_columns: int, exclude: InteractionMatrix | None = None) -> int:
    """``k`` clipped so that every row can fill a list of that length outside ``exclude``.

    ``ranking.top_k_items`` ends the list of a row with fewer than k allowed columns with
    excluded ones (score -inf). Clipping k to ``num_columns`` minus the longest row of
    ``exclude`` keeps every list free of excluded entries: the lists of a method stay one
    rectangular table, cut for every row by the fullest one (e.g. MovieLens-100k: 943 users,
    an item with 464 training users, so item-side lists hold at most 479 users).
    """
    longest = int(exclude.row_lengths().max(initial=0)) if exclude is not None else 0
    if longest >= num_columns:
        raise ValueError(
            f"a row of the training data holds all {num_columns} columns, so no list can leave "
            "its training entries out; drop that user (or item) from the data."
        )
    return min(int(k), num_columns - longest)


def transpose(matrix: InteractionMatrix) -> InteractionMatrix:
    """The item x user matrix of a user x item matrix."""
    users, items = matrix.to_pairs()
    return InteractionMatrix.from_pairs(items, users, matrix.num_items, matrix.num_users)


def restrict_columns(matrix: InteractionMatrix, columns: np.ndarray) -> InteractionMatrix:
    """The sub-matrix on ``columns``, re-indexed 0..len(columns)-1 in the given order."""
    new_index = np.full(matrix.num_items, -1, dtype=np.int64)
    new_index[columns] = np.arange(columns.size)
    users, items = matrix.to_pairs()
    kept = new_index[items] >= 0
    return InteractionMatrix.from_pairs(
        users[kept], new_index[items[kept]], matrix.num_users, int(columns.size)
    )


def check_finite_embeddings(embeddings: Embeddings, who: str) -> None:
    """Raises ValueError when a user or item vector holds NaN or an infinity.

    A non-finite teacher would otherwise rank arbitrarily and feed NaN scores to the losses.
    """
    for side, table in zip(("user", "item"), embeddings.tables()):
        finite = np.isfinite(np.asarray(table)).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise ValueError(
                f"the {who}'s {side} embeddings are not finite: {bad.size} of {finite.size} "
                f"{side}s hold NaN or infinity (first: {side} {int(bad[0])}). The {who} "
                "diverged or its weights file is damaged: retrain it (a lower learning rate "
                "helps) or load another model."
            )


class TeacherSignals:
    """Memoised ranked lists of one frozen teacher over one training matrix.

    Args:
      teacher: a ``kdtfrs.models.Recommender`` or ``kdtfrs.embeddings.Embeddings``; its
        embeddings are taken once, as constants (``self.teacher``), and the model is left as
        it is.
      train: the training interactions (masked out of every list unless asked otherwise).
      batch_size: users (or items) scored per matmul block.
    """

    def __init__(self, teacher, train: InteractionMatrix, batch_size: int = 2048):
        self.teacher = Embeddings.frozen(teacher)
        check_finite_embeddings(self.teacher, "teacher")
        self.train = train
        self.batch_size = batch_size
        self.seconds = 0.0
        self._cache = {}

    def _memoised(self, key, compute):
        if key not in self._cache:
            start = time.perf_counter()
            self._cache[key] = compute()
            self.seconds += time.perf_counter() - start
        return self._cache[key]

    def top_items(self, k: int, exclude_train: bool = True) -> np.ndarray:
        """int32 [num_users, k']: each user's top items by teacher score, best first.

        k' = ``allowed_length(k, num_items, train)`` with training items excluded (so no list
        holds a training item), else ``min(k, num_items)``. A smaller k slices a memoised list.
        """
        k = allowed_length(k, self.train.num_items, self.train if exclude_train else None)
        cached = [key for key in self._cache if key[0] == "items" and key[2] == exclude_train]
        for key in cached:
            if key[1] >= k:
                return self._cache[key][:, :k]
        exclude = self.train if exclude_train else None

        def compute():
            users = np.arange(self.train.num_users, dtype=np.int32)
            items, _ = ranking.top_k_items(self.teacher, users, k, exclude, self.batch_size)
            return items

        return self._memoised(("items", k, exclude_train), compute)

    def top_users(self, k: int, exclude_train: bool = True) -> np.ndarray:
        """int32 [num_items, k']: each item's top users by teacher score, best first.

        k' is clipped as in ``top_items``, by the item with the most training users.
        """
        exclude = transpose(self.train) if exclude_train else None
        k = allowed_length(k, self.train.num_users, exclude)

        def compute():
            scorer = self.teacher.transposed()
            items = np.arange(self.train.num_items, dtype=np.int32)
            users, _ = ranking.top_k_items(scorer, items, k, exclude, self.batch_size)
            return users

        return self._memoised(("users", k, exclude_train), compute)

    def top_items_within(self, columns: np.ndarray, k: int) -> np.ndarray:
        """int32 [num_users, min(k, len(columns))]: top items among ``columns``, train masked.

        Returned ids are catalogue item ids. Used per popularity group by UnKD.
        """
        columns = np.asarray(columns, dtype=np.int64)
        k = min(int(k), int(columns.size))

        def compute():
            scorer = self.teacher.restricted_to_items(columns)
            exclude = restrict_columns(self.train, columns)
            users = np.arange(self.train.num_users, dtype=np.int32)
            local, _ = ranking.top_k_items(scorer, users, k, exclude, self.batch_size)
            return columns[local].astype(np.int32)

        return self._memoised(("within", columns.tobytes(), k), compute)
