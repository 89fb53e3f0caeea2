"""Full-ranking evaluation: Recall@K, NDCG@K and popularity-group recall, batched and masked.

Protocol (METHODS.md 1.2): every user is ranked against the whole catalogue; the items of
``exclude`` (the training split; at test time also the validation split) are masked out; the
top-K list is compared with the user's held-out items ``T_u``:

    Recall@K = |top-K ∩ T_u| / |T_u|
    NDCG@K   = DCG@K / IDCG@K,  DCG@K = sum_{r=1..K} [item at rank r in T_u] / log2(r + 1),
               IDCG@K = sum_{r=1..min(|T_u|, K)} 1 / log2(r + 1)

Metrics are averaged over the users with at least one held-out item. (The KDs reference code
averages over *all* users, counting users without held-out items as 0: multiply by the
fraction of users with held-out items to compare.)

Popularity-group recall, for item groups g (e.g. ``kdtfrs.data.popularity_groups``):
``Recall@K/group_g = |top-K ∩ T_u ∩ G_g| / |T_u ∩ G_g|``, averaged over the users with at
least one held-out item in group g. The top-K list is the ordinary one over all items.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kdtfrs._keras import keras
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.ranking import csr_row_entries, top_k_items


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """``metrics``: name -> mean over users, e.g. "recall@20", "ndcg@20", "recall@20/group_0".

    ``per_user``: name -> array aligned with ``per_user["user"]`` (the evaluated users):
    "num_truth" (held-out items) and every metric of ``metrics``, NaN where a user has no
    held-out item (in the group).
    """

    metrics: dict
    per_user: dict


def _check_ks(ks) -> tuple[int, ...]:
    ks = tuple(ks)
    if not ks or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1
                     for k in ks):
        raise ValueError(f"ks must be a non-empty list of positive integers, got {ks}.")
    return tuple(int(k) for k in ks)


def _hits(truth: InteractionMatrix, users: np.ndarray, items: np.ndarray):
    """bool [n, K]: ``items[r, j]`` is a held-out item of ``users[r]`` (−1: no item, never).

    Vectorised membership test: ``user * num_items + item`` keys searched in the sorted keys
    of ``truth``.
    """
    keys = truth.keys()
    if not keys.size:
        return np.zeros(items.shape, bool)
    wanted = users[:, None] * truth.num_items + items
    found = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
    return (keys[found] == wanted) & (items >= 0)


def _check_item_groups(item_groups, num_items: int) -> np.ndarray:
    item_groups = np.asarray(item_groups)
    if item_groups.shape != (num_items,) or not np.issubdtype(item_groups.dtype, np.integer):
        raise ValueError(
            f"item_groups must be an integer array of shape ({num_items},), got dtype "
            f"{item_groups.dtype} and shape {item_groups.shape}."
        )
    if item_groups.min() < 0:
        raise ValueError(f"item_groups must be >= 0, got minimum {item_groups.min()}.")
    return item_groups


def _group_recall(truth, users, items, hits, ks, item_groups):
    """(metrics, per_user) of Recall@K restricted to each item group."""
    num_groups = int(item_groups.max()) + 1
    positions, truth_items = csr_row_entries(truth, users)
    cell = positions * num_groups + item_groups[truth_items]
    truth_per_group = np.bincount(cell, minlength=users.size * num_groups).reshape(-1, num_groups)
    metrics, per_user = {}, {}
    hit_groups = item_groups[items]
    for k in ks:
        rows, ranks = np.nonzero(hits[:, :k])
        cell = rows * num_groups + hit_groups[rows, ranks]
        hits_per_group = np.bincount(cell, minlength=users.size * num_groups).reshape(
            -1, num_groups
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(truth_per_group > 0, hits_per_group / truth_per_group, np.nan)
        for group in range(num_groups):
            name = f"recall@{k}/group_{group}"
            per_user[name] = recall[:, group]
            metrics[name] = _mean(recall[:, group])
    return metrics, per_user


def _mean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


def evaluate(
    model,
    truth: InteractionMatrix,
    exclude=None,
    ks=(10, 20, 50),
    users=None,
    batch_size: int = 2048,
    item_groups=None,
) -> EvaluationResult:
    """Full-ranking Recall@K and NDCG@K of ``model`` against ``truth`` (module docstring).

    Args:
      model: a ``kdtfrs.models.Recommender`` (anything ``kdtfrs.ranking.top_k_items`` ranks).
      truth: held-out interactions (validation or test split).
      exclude: items never recommended: the training split, and at test time the validation
        split too, e.g. ``(split.train, split.valid)``; None masks nothing.
      ks: cut-offs K (a K above the catalogue size ranks the whole catalogue).
      users: users to evaluate (default: every user with a held-out item); users without
        held-out items get NaN per-user metrics and do not count in the means.
      batch_size: users per scoring block.
      item_groups: optional int [num_items] group of each item, for "recall@K/group_g".
    """
    if not isinstance(truth, InteractionMatrix):
        raise TypeError(f"truth must be an InteractionMatrix, got {type(truth).__name__}.")
    if (truth.num_users, truth.num_items) != (model.num_users, model.num_items):
        raise ValueError(
            f"truth has shape ({truth.num_users}, {truth.num_items}) but the model scores "
            f"({model.num_users}, {model.num_items}) users x items."
        )
    ks = _check_ks(ks)
    if users is None:
        users = np.flatnonzero(truth.row_lengths() > 0)
    items, scores = top_k_items(model, users, min(max(ks), truth.num_items), exclude, batch_size)
    return evaluate_lists(truth, users, np.where(np.isfinite(scores), items, -1), ks,
                          item_groups)


def evaluate_lists(truth: InteractionMatrix, users, items, ks=(10, 20, 50),
                   item_groups=None) -> EvaluationResult:
    """Recall@K and NDCG@K of ranked lists given per user (``evaluate`` ranks a model's).

    Args:
      truth: held-out interactions.
      users: int [n], the users of the lists.
      items: int [n, L], each user's list best first; −1 marks no item (a masked or missing
        entry). K above L counts only the L listed items.
      ks, item_groups: as ``evaluate``.
    """
    ks = _check_ks(ks)
    if item_groups is not None:
        item_groups = _check_item_groups(item_groups, truth.num_items)
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items)
    hits = _hits(truth, users, items)
    num_truth = truth.row_lengths()[users]
    has_truth = num_truth > 0

    discount = 1.0 / np.log2(np.arange(2, max(ks) + 2))
    ideal_dcg = np.concatenate([[0.0], np.cumsum(discount)])
    list_length = items.shape[1]
    metrics, per_user = {}, {"user": users, "num_truth": num_truth}
    for k in ks:
        hit_count = hits[:, :k].sum(axis=1)
        dcg = hits[:, :k] @ discount[: min(k, list_length)]
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(has_truth, hit_count / num_truth, np.nan)
            ndcg = np.where(has_truth, dcg / ideal_dcg[np.minimum(num_truth, k)], np.nan)
        per_user[f"recall@{k}"], per_user[f"ndcg@{k}"] = recall, ndcg
        metrics[f"recall@{k}"], metrics[f"ndcg@{k}"] = _mean(recall), _mean(ndcg)
    if item_groups is not None:
        group_metrics, group_per_user = _group_recall(truth, users, items, hits, ks, item_groups)
        metrics.update(group_metrics)
        per_user.update(group_per_user)
    return EvaluationResult(metrics, per_user)


class EvaluationCallback(keras.callbacks.Callback):
    """Writes full-ranking metrics of a model into the epoch logs, e.g. "val_ndcg@20".

    Put it before ``keras.callbacks.EarlyStopping(monitor="val_ndcg@20", mode="max")`` or
    ``ModelCheckpoint(..., monitor="val_ndcg@20", mode="max", save_best_only=True)`` in the
    callback list: callbacks see the logs in list order. With ``every > 1`` the metrics are
    only present on evaluated epochs (1-based epoch numbers divisible by ``every``, and the
    last epoch is not forced); Keras' stock callbacks warn and skip on the other epochs,
    ``kdtfrs.resumable.ResumableEarlyStopping`` skips them quietly.

    Args:
      model: the recommender to evaluate (e.g. a Distiller's student); None evaluates the
        model being fitted.
      truth: held-out interactions, normally ``split.valid``.
      exclude: masked interactions, normally ``(split.train,)``.
      ks, users, batch_size, item_groups: as ``evaluate``.
      every: evaluate every this many epochs.
      prefix: prepended to each metric name in the logs.
    """

    def __init__(
        self,
        model,
        truth: InteractionMatrix,
        exclude=None,
        ks=(20,),
        every: int = 1,
        prefix: str = "val_",
        users=None,
        batch_size: int = 2048,
        item_groups=None,
    ):
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}.")
        self.evaluated_model = model
        self.truth = truth
        self.exclude = exclude
        self.ks = tuple(ks)
        self.every = every
        self.prefix = prefix
        self.users = users
        self.batch_size = batch_size
        self.item_groups = item_groups
        self.last_result = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        model = self.evaluated_model if self.evaluated_model is not None else self.model
        self.last_result = evaluate(
            model,
            self.truth,
            self.exclude,
            self.ks,
            users=self.users,
            batch_size=self.batch_size,
            item_groups=self.item_groups,
        )
        if logs is not None:
            metrics = self.last_result.metrics
            logs.update({self.prefix + name: value for name, value in metrics.items()})
