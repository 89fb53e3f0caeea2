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
which puts them mid-ranking and lets them be drawn), a vectorised sort per row, the blocks
split over the machine's cores. Each user then gets a *pool* of ``pool_size`` items per
learner, drawn with replacement from its exact distribution; a training step draws a row's
items uniformly from its user's pool (``kdtfrs.samplers.draw_from_pools``). Memory: a
block's ``[users, items]`` arrays per thread and the two ``[num_users, pool_size]`` pools;
no ``|U| x |I|`` matrix exists at any time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from kdtfrs import samplers
from kdtfrs.candidate_top_k import KEY_BITS, SCORE_BITS, available_cores, descending_bits
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.embeddings import Embeddings
from kdtfrs.ranking import csr_row_entries

DIRECTIONS = ("paper", "notebook")
KINDS = ("exp", "tanh")
BLOCK_ENTRIES = 1 << 22  # users per block x items: about 16 MB per float32 block array


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

    Each entry packed into one int64 key (descending score, then column: equal scores rank
    by column, -0.0 as 0.0), one sort of the keys per row, and the inverse permutation of
    the columns they give, all vectorised over the rows. A direct sort of int64 keys is
    about 1.5x faster than NumPy's argsort of the scores (benchmarks/bd_refresh.py).
    """
    scores = np.asarray(scores, np.float32)
    rows, width = scores.shape
    column_bits = max(1, (width - 1).bit_length())
    if SCORE_BITS + column_bits > KEY_BITS:
        raise ValueError(f"rows of {width} entries do not fit the int64 keys of ranks_of.")
    keys = descending_bits(scores) << column_bits
    keys |= np.arange(width, dtype=np.int64)
    keys.sort(axis=1)
    keys &= (1 << column_bits) - 1  # the columns, best first
    keys += (np.arange(rows, dtype=np.int64) * width)[:, None]
    ranks = np.empty((rows, width), np.int32)
    ranks.reshape(-1)[keys.reshape(-1)] = np.tile(np.arange(width, dtype=np.int32), rows)
    return ranks


def rank_discrepancy_pools(teacher, student, train: InteractionMatrix, pool_size: int,
                           teacher_scale: float, student_scale: float, direction="paper",
                           seed=(0, 0), block_entries: int = BLOCK_ENTRIES,
                           workers: int | None = None):
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
      workers: threads the blocks are split over (default: the cores this process may use;
        NumPy releases the GIL while it multiplies, sorts and searches).

    A user whose student weights are all 0 (the two rankings agree everywhere the guide
    ranks above) draws uniformly from its non-training items; a user with no non-training
    item cannot exist (``kdtfrs.signals.allowed_length`` refuses such data upstream).
    """
    teacher, student = Embeddings.frozen(teacher), Embeddings.frozen(student)
    tables = ([np.asarray(table) for table in teacher.tables()],
              [np.asarray(table) for table in student.tables()])
    num_users, num_items = train.num_users, train.num_items
    block = max(1, min(num_users, block_entries // num_items))
    pools = (np.zeros((num_users, pool_size), np.int32), np.zeros((num_users, pool_size), np.int32))

    def fill_block(index, start):
        rng = np.random.default_rng([*map(int, seed), index])
        users = np.arange(start, min(start + block, num_users))
        rows, items = csr_row_entries(train, users)
        ranks = []
        for user_table, item_table in tables:
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

    starts = range(0, num_users, block)
    workers = min(workers or available_cores(), len(starts))
    if workers == 1:
        for index, start in enumerate(starts):
            fill_block(index, start)
    else:  # each block its own users and seed: the pools do not depend on the threads
        with ThreadPoolExecutor(workers) as executor:
            list(executor.map(fill_block, range(len(starts)), starts))
    return pools
