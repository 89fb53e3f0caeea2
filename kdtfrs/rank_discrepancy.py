"""Rank-discrepancy-aware sampling of Bidirectional Distillation (Kweon, Kang & Yu, WWW 2021).

In BD each model learns from the other on the unobserved items where their rankings disagree.
With ``r_M(u, j)`` the 0-based rank of item j in model M's ranking of user u's non-training
items (0 = best), the learner L draws items toward its guide G with weights

    learner = student (guide: teacher):  w(j) = tanh(max(ε_S · (r_S(j) − r_T(j)), 0))
    learner = teacher (guide: student):  w(j) = exp(ε_T · (r_T(j) − r_S(j)))

so the student is sent to items the teacher ranks well above it, and the teacher to items the
student ranks above it (the paper's direction, ``direction="paper"``). The reference notebook
ranks in ascending order (best item = |I|) and so applies the opposite signs:
``direction="notebook"`` swaps r_L − r_G for r_G − r_L in both formulas.

The ranks are exact and are recomputed only at a refresh (every few epochs), in blocks of
users: scores of both models by one matmul per block, the block's training items set to −∞
(so ranks run over the non-training items only; the notebook multiplies training scores by 0,
which puts them mid-ranking and lets them be drawn), a vectorised argsort per row. Each user
then gets a *pool* of ``pool_size`` items per learner, drawn with replacement from its exact
distribution; a training step draws a row's items uniformly from its user's pool
(``kdtfrs.samplers.draw_from_pools``). Memory: the block's ``[users, items]`` arrays and the two
``[num_users, pool_size]`` pools; no ``|U| x |I|`` matrix exists at any time.
"""

from __future__ import annotations

import numpy as np

from kdtfrs import samplers
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.embeddings import Embeddings
from kdtfrs.ranking import csr_row_entries

DIRECTIONS = ("paper", "notebook")
KINDS = ("exp", "tanh")
_BLOCK_ENTRIES = 1 << 22  # users per block x items: about 16 MB per float32 block array


def rank_gap(learner_ranks, guide_ranks, direction="paper"):
    """float32 ``r_L − r_G`` (paper) or ``r_G − r_L`` (notebook): > 0 where the guide ranks
    the item above the learner (paper direction)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}.")
    learner, guide = (np.asarray(r, np.float32) for r in (learner_ranks, guide_ranks))
    return learner - guide if direction == "paper" else guide - learner


def discrepancy_log_weights(learner_ranks, guide_ranks, kind, scale, direction="paper"):
    """log w of the learner's draws, float32, −∞ where w = 0 (module docstring).

    Args:
      learner_ranks, guide_ranks: 0-based ranks of the same items (any equal shapes).
      kind: "exp" (w = exp(scale · gap), the teacher's draws) or "tanh"
        (w = tanh(max(scale · gap, 0)), the student's draws).
      scale: ε > 0.
      direction: "paper" or "notebook".
    """
    gap = rank_gap(learner_ranks, guide_ranks, direction)
    gap *= np.float32(scale)
    if kind == "exp":
        return gap
    if kind == "tanh":
        np.maximum(gap, 0.0, out=gap)
        with np.errstate(divide="ignore"):
            return np.log(np.tanh(gap, out=gap), out=gap)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")


def ranks_of(scores):
    """int32 [b, n]: the 0-based descending rank of each entry within its row.

    One argsort per row and its inverse permutation, vectorised over the rows (NumPy's
    introsort; ties, such as the −∞ of masked entries, are ordered arbitrarily but
    deterministically).
    """
    scores = np.asarray(scores)
    rows, width = scores.shape
    order = np.argsort(-scores, axis=1)
    order += (np.arange(rows) * width)[:, None]
    ranks = np.empty((rows, width), np.int32)
    ranks.reshape(-1)[order.reshape(-1)] = np.tile(np.arange(width, dtype=np.int32), rows)
    return ranks


def rank_discrepancy_pools(teacher, student, train: InteractionMatrix, pool_size: int,
                           teacher_scale: float, student_scale: float, direction="paper",
                           seed=(0, 0), block_entries: int = _BLOCK_ENTRIES):
    """(teacher_pool, student_pool), int32 [num_users, pool_size] each: items drawn with
    replacement for each user from the teacher's and the student's distributions.

    Args:
      teacher, student: ``kdtfrs.embeddings.Embeddings`` (or kdtfrs models), read as they are.
      train: the training interactions: never drawn, left out of the ranks.
      pool_size: draws per user and learner.
      teacher_scale: ε_T of the teacher's exp weights; student_scale: ε_S of the student's
        tanh weights.
      direction: "paper" or "notebook" (module docstring).
      seed: ints seeding the draws (same seed, same pools), e.g. (run seed, epoch).
      block_entries: users per block x items, the memory of one block array.

    A user whose student weights are all 0 (the two rankings agree everywhere the guide
    ranks above) draws uniformly from its non-training items; a user with no non-training
    item cannot exist (``kdtfrs.signals.allowed_length`` refuses such data upstream).
    """
    teacher, student = Embeddings.frozen(teacher), Embeddings.frozen(student)
    teacher_tables = [np.asarray(table) for table in teacher.tables()]
    student_tables = [np.asarray(table) for table in student.tables()]
    num_users, num_items = train.num_users, train.num_items
    block = max(1, min(num_users, block_entries // num_items))
    pools = (np.zeros((num_users, pool_size), np.int32), np.zeros((num_users, pool_size), np.int32))
    for index, start in enumerate(range(0, num_users, block)):
        rng = np.random.default_rng([*map(int, seed), index])
        users = np.arange(start, min(start + block, num_users))
        rows, items = csr_row_entries(train, users)
        ranks = []
        for user_table, item_table in (teacher_tables, student_tables):
            scores = user_table[users] @ item_table.T
            scores[rows, items] = -np.inf
            ranks.append(ranks_of(scores))
        teacher_ranks, student_ranks = ranks
        learners = (
            discrepancy_log_weights(teacher_ranks, student_ranks, "exp", teacher_scale, direction),
            discrepancy_log_weights(student_ranks, teacher_ranks, "tanh", student_scale, direction),
        )
        for pool, log_weights in zip(pools, learners):
            log_weights[rows, items] = -np.inf
            empty = np.isneginf(log_weights.max(axis=1))
            if empty.any():
                log_weights[empty] = 0.0
                log_weights[rows[empty[rows]], items[empty[rows]]] = -np.inf
            pool[users] = samplers.draw_rows(log_weights, pool_size, rng)
    return pools
