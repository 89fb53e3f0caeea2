"""HetComp's knowledge: the training trajectories of heterogeneous teachers as a curriculum.

Kang, Kweon, Lee, Lian, Xie & Yu, "Distillation from Heterogeneous Models for Top-K
Recommendation", WWW 2023. Several teachers (e.g. BPR-MF and LightGCN of different sizes) are
each read at E checkpoints of their own training, from early (easy: rankings a small student
can follow) to the final model (hard). For every user u and teacher m, an index v_um says
which checkpoint the user currently learns from; the knowledge of u is the ensemble of the
teachers' top-K lists at those checkpoints. *Dynamic knowledge construction* (DKC) moves v_um
to the next checkpoint when the student has caught up with the current one:

    every p epochs (from epoch p on), with π_S the student's top-K and
    d(L) = 1 − NDCG_w(π_S, L), the position-weighted overlap below:
      first time:  D_um = d(list of checkpoint v_um + 1)
      afterwards:  advance v_um when d_next = 0, D_um / d_next > α · decay^⌊epoch/p⌋ or
                   D_um / d_next < 1, where d_next = d(list of checkpoint v_um + 1); on
                   advancing, D_um = d(list of the new v_um + 1)

(the rule of the reference code, ``woriazzc/KDs`` ``HetComp``, written without its per-user
Python loop). NDCG_w gives position p of π_S the gain ``2^{exp(−p/10)} − 1`` when that item is
in L, over the ideal ``Σ_p (2^{exp(−p/10)} − 1)/log2(p + 2)``.

Everything here is vectorised NumPy over users (and teachers); the lists come from batched
top-k scoring (``kdtfrs.ranking.top_k_items``), one checkpoint model at a time.

Checkpoints are written by ``kdtfrs train --keep-every N`` (``kdtfrs.trajectory``).
"""

from __future__ import annotations

import numpy as np

from kdtfrs import model_dir, ranking, trajectory
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.embeddings import Embeddings
from kdtfrs.signals import allowed_length


def ensemble_lists(lists, num_items: int, length: int, temperature: float = 10.0):
    """int32 [U, length]: the rank-discounted vote of several ranked lists per user.

    ``importance_u(i) = Σ_m exp(−r_m(i) / temperature)`` over the lists ``m`` that hold item
    i at 0-based rank r_m(i); the items of highest importance first (ties: lower item id).
    With one list, its head. Entries −1 in ``lists`` are padding; a user with fewer than
    ``length`` distinct items is padded with −1.

    Args:
      lists: int [M, U, L] item lists (M lists per user, best first).
      num_items: the catalogue size.
      length: items kept per user.
      temperature: the rank discount's temperature.
    """
    lists = np.asarray(lists)
    count, num_users, width = lists.shape
    users = np.broadcast_to(np.arange(num_users)[None, :, None], lists.shape)
    weights = np.broadcast_to(np.exp(-np.arange(width) / temperature), lists.shape)
    valid = lists >= 0
    keys = users[valid].astype(np.int64) * num_items + lists[valid]
    unique, inverse = np.unique(keys, return_inverse=True)
    importance = np.bincount(inverse, weights=weights[valid], minlength=unique.size)
    owners, items = unique // num_items, unique % num_items
    order = np.lexsort((items, -importance, owners))
    owners, items = owners[order], items[order]
    position = np.arange(owners.size) - np.searchsorted(owners, owners)
    kept = position < length
    result = np.full((num_users, length), -1, np.int32)
    result[owners[kept], position[kept]] = items[kept]
    return result


_GAIN_TEMPERATURE = 10.0


def position_weighted_overlap(student_lists, target_lists):
    """float64 [U]: NDCG_w of each user's student list against a target list (module doc).

    Position p of ``student_lists[u]`` scores ``(2^{exp(−p/10)} − 1) / log2(p + 2)`` if the
    item is anywhere in ``target_lists[u]`` (−1 entries are padding), over the same sum with
    every position a hit.
    """
    student_lists, target_lists = np.asarray(student_lists), np.asarray(target_lists)
    num_users, width = student_lists.shape
    positions = np.arange(width)
    gains = (2.0 ** np.exp(-positions / _GAIN_TEMPERATURE) - 1.0) / np.log2(positions + 2.0)
    span = int(max(student_lists.max(initial=0), target_lists.max(initial=0))) + 1
    rows = np.arange(num_users, dtype=np.int64)[:, None]
    targets = np.sort(np.where(target_lists >= 0, rows * span + target_lists, -1), axis=None)
    wanted = rows * span + student_lists
    found = np.minimum(np.searchsorted(targets, wanted), targets.size - 1)
    hits = (targets[found] == wanted) & (student_lists >= 0)
    return hits @ gains / gains.sum()


def advance_checkpoints(lists, index, last_distance, student_lists, epoch: int, every: int,
                        alpha: float = 1.05, decay: float = 0.995, first: bool = False):
    """One DKC step (module docstring): the new (index, last_distance), both [U, M].

    Args:
      lists: int [M, E, U, K], teacher m's top-K of every user at checkpoint e.
      index: int [U, M], the checkpoint each user follows per teacher.
      last_distance: float [U, M], D_um.
      student_lists: int [U, K], the student's top-K now.
      epoch: the epoch starting now (the threshold decays with ⌊epoch / every⌋).
      every: p, the epochs between two DKC steps.
      alpha, decay: the threshold α · decay^⌊epoch/p⌋.
      first: the first DKC step: only measures D_um.
    """
    lists = np.asarray(lists)
    num_teachers, num_checkpoints, num_users, _ = lists.shape
    index = np.asarray(index, np.int64).copy()
    last_distance = np.asarray(last_distance, np.float64).copy()
    users = np.arange(num_users)[:, None]
    teachers = np.arange(num_teachers)[None, :]

    def distance_to(checkpoint):
        targets = lists[teachers, np.minimum(checkpoint, num_checkpoints - 1), users]
        students = np.repeat(np.asarray(student_lists), num_teachers, axis=0)
        overlap = position_weighted_overlap(students, targets.reshape(students.shape[0], -1))
        return 1.0 - overlap.reshape(num_users, num_teachers)

    if first:
        return index, distance_to(index + 1)
    next_distance = distance_to(index + 1)
    threshold = alpha * decay ** (epoch // every)
    move = (index < num_checkpoints - 1) & (
        (next_distance == 0) | (last_distance > threshold * next_distance)
        | (last_distance < next_distance))
    index = np.where(move, index + 1, index)
    last_distance = np.where(move, distance_to(index + 1), last_distance)
    return index, last_distance


def current_lists(lists, index):
    """int [M, U, K]: each teacher's list at the checkpoint ``index`` [U, M] of each user."""
    lists = np.asarray(lists)
    num_teachers, _, num_users, _ = lists.shape
    return lists[np.arange(num_teachers)[:, None], np.asarray(index).T,
                 np.arange(num_users)[None, :]]


def observed_items(models, train: InteractionMatrix, count: int, temperature: float = 10.0):
    """int32 [U, count]: each user's training items ordered by the teachers' consensus.

    Each model ranks the user's training items by its scores (rank r, 0 = best); an item's
    importance is ``Σ_m exp(−r_m / temperature)``, as in ``ensemble_lists``; the ``count``
    most important come first (ties: lower item id). Users with fewer training items are
    padded with −1. Vectorised over the training pairs (scored in chunks).
    """
    users, items = train.to_pairs()
    importance = np.zeros(users.size)
    for model in models:
        user_table, item_table = (np.asarray(t) for t in Embeddings.frozen(model).tables())
        scores = np.zeros(users.size, np.float32)
        for start in range(0, users.size, _CHUNK):
            chunk = slice(start, start + _CHUNK)
            scores[chunk] = np.einsum("nd,nd->n", user_table[users[chunk]],
                                      item_table[items[chunk]])
        importance += np.exp(-_rank_within_user(users, -scores) / temperature)
    rank = _rank_within_user(users, -importance, items)
    kept = rank < count
    result = np.full((train.num_users, count), -1, np.int32)
    result[users[kept], rank[kept]] = items[kept]
    return result


_CHUNK = 1 << 20


def _rank_within_user(users, keys, ties=None):
    """int64 [n]: the 0-based position of each entry among its user's entries sorted by
    ``keys`` ascending (then by ``ties``); ``users`` sorted ascending (CSR order)."""
    order = np.lexsort((ties, keys, users) if ties is not None else (keys, users))
    rank = np.empty(users.size, np.int64)
    rank[order] = np.arange(users.size) - np.searchsorted(users, users[order])
    return rank


def checkpoint_lists(checkpoints, train: InteractionMatrix, length: int,
                     batch_size: int = 2048) -> np.ndarray:
    """int32 [E, U, K]: the top-K non-training items of every user at each checkpoint.

    ``checkpoints``: models or model directories, loaded one at a time. K is ``length`` cut
    by ``kdtfrs.signals.allowed_length`` (no list holds a training item).
    """
    length = allowed_length(length, train.num_items, train)
    users = np.arange(train.num_users, dtype=np.int32)
    lists = []
    for checkpoint in checkpoints:
        model = model_dir.load(checkpoint, train) if _is_path(checkpoint) else checkpoint
        lists.append(ranking.top_k_items(model, users, length, train, batch_size)[0])
    return np.stack(lists)


class TrajectoryKnowledge:
    """What HetComp distils: every teacher's top-K lists along its trajectory, the observed
    items ordered by the final teachers, and the ensemble rule.

    Args:
      lists: int32 [M, E, U, K] (``checkpoint_lists`` per teacher, earliest checkpoint first,
        the final model last).
      observed: int32 [U, P] (``observed_items``), −1 padding.
      temperature: the ensemble's rank-discount temperature (``ensemble_lists``).
    """

    def __init__(self, lists, observed, temperature: float = 10.0):
        self.lists = np.asarray(lists, np.int32)
        self.observed = np.asarray(observed, np.int32)
        if self.lists.ndim != 4 or self.observed.ndim != 2:
            raise ValueError(f"lists must be [teachers, checkpoints, users, K] and observed "
                             f"[users, P], got {self.lists.shape} and {self.observed.shape}.")
        self.temperature = float(temperature)

    @property
    def num_teachers(self) -> int:
        return self.lists.shape[0]

    @property
    def num_checkpoints(self) -> int:
        return self.lists.shape[1]

    @property
    def list_length(self) -> int:
        return self.lists.shape[3]

    @property
    def num_observed(self) -> int:
        return self.observed.shape[1]

    def ensemble(self, index, num_items: int) -> np.ndarray:
        """int32 [U, K]: the ensemble of the teachers' lists at checkpoints ``index`` [U, M]."""
        return ensemble_lists(current_lists(self.lists, index), num_items, self.list_length,
                              self.temperature)

    @classmethod
    def from_trajectories(cls, trajectories, train: InteractionMatrix, list_length: int = 50,
                          num_observed: int = 5, temperature: float = 10.0):
        """Knowledge from ``trajectories``: per teacher, its checkpoints (models or model
        directories) from earliest to final; all of one length E."""
        trajectories = [list(checkpoints) for checkpoints in trajectories]
        lengths = {len(checkpoints) for checkpoints in trajectories}
        if not trajectories or len(lengths) != 1 or 0 in lengths:
            raise ValueError(f"every teacher needs the same number (>= 1) of checkpoints, got "
                             f"{[len(c) for c in trajectories]}.")
        lists = np.stack([checkpoint_lists(c, train, list_length) for c in trajectories])
        finals = [c[-1] for c in trajectories]
        finals = [model_dir.load(f, train) if _is_path(f) else f for f in finals]
        return cls(lists, observed_items(finals, train, num_observed, temperature), temperature)

    @classmethod
    def from_directories(cls, teacher_dirs, train: InteractionMatrix, num_checkpoints: int = 4,
                         list_length: int = 50, num_observed: int = 5,
                         temperature: float = 10.0):
        """Knowledge from teacher model directories written by ``kdtfrs train --keep-every``
        (``kdtfrs.trajectory.select_checkpoints`` picks each one's E checkpoints)."""
        return cls.from_trajectories(
            [trajectory.select_checkpoints(path, num_checkpoints) for path in teacher_dirs],
            train, list_length, num_observed, temperature)


def ensemble_top_items(models, train: InteractionMatrix, length: int, exclude=None,
                       temperature: float = 10.0, batch_size: int = 2048) -> np.ndarray:
    """int32 [U, length]: the teachers' ensemble as a recommender: each model's top-``length``
    list outside ``exclude`` (e.g. ``(train, valid)`` for test metrics), combined by
    ``ensemble_lists``."""
    users = np.arange(train.num_users, dtype=np.int32)
    lists = np.stack([ranking.top_k_items(model, users, length, exclude, batch_size)[0]
                      for model in models])
    return ensemble_lists(lists, train.num_items, length, temperature)


def _is_path(value) -> bool:
    return isinstance(value, (str, bytes)) or hasattr(value, "__fspath__")


__all__ = ["TrajectoryKnowledge", "advance_checkpoints", "checkpoint_lists", "current_lists",
           "ensemble_lists", "ensemble_top_items", "observed_items",
           "position_weighted_overlap"]
