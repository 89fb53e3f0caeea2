"""A small synthetic implicit-feedback dataset with cluster structure and popularity bias.

Generative story (all draws from one ``np.random.Generator(seed)``, vectorised):

1. Item ``i`` belongs to cluster ``c_i`` (balanced, random) and has popularity weight
   ``w_i = (1 + rank_i) ** -popularity_exponent`` for a random popularity rank ``rank_i``
   (a power law, Zipf-like for exponent 1).
2. User ``u`` has a home cluster ``h_u`` and a second cluster ``s_u`` (its latent tastes) and a
   target length ``n_u`` (log-normal with mean ``mean_interactions_per_user``, at least 3).
3. Each draw of user ``u`` picks a source: the home cluster with probability
   ``cluster_affinity``, the second cluster with ``(1 - cluster_affinity) / 2``, or the whole
   catalogue otherwise; then an item of that source with probability proportional to ``w_i``.
   The first ``n_u`` distinct items drawn are kept.
4. ``order`` holds synthetic timestamps (uniform over one year, in seconds).

Personal taste (clusters) and popularity both shape the data, so a collaborative model such as
BPR-MF beats the popularity ranking by a wide margin, while popularity-aware methods (UnKD)
still have a long tail to work on.
"""

from __future__ import annotations

import numpy as np

from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.interactions import Interactions

_MIN_INTERACTIONS = 3
_LENGTH_SIGMA = 0.5  # spread of the log-normal user lengths
_OVERSAMPLING = 2.0  # draws per wanted item, so duplicates rarely leave a user short
_SECONDS_PER_YEAR = 365 * 24 * 3600


def make_synthetic(
    num_users: int = 2000,
    num_items: int = 1500,
    num_clusters: int = 16,
    mean_interactions_per_user: float = 25,
    popularity_exponent: float = 0.8,
    cluster_affinity: float = 0.7,
    seed: int = 0,
) -> Interactions:
    """Draws a synthetic dataset (see the module docstring); deterministic for a ``seed``.

    Returns:
      :class:`Interactions` named "synthetic" with ``user_ids = arange(num_users)`` and
      ``item_ids = arange(num_items)`` (an item may have no interaction).
    """
    _check(num_users, num_items, num_clusters, mean_interactions_per_user, cluster_affinity)
    rng = np.random.default_rng(seed)
    item_cluster = rng.permutation(np.arange(num_items) % num_clusters)
    item_weight = (1.0 + rng.permutation(num_items)) ** -float(popularity_exponent)

    # Sources 0..K-1 are the clusters, source K the whole catalogue. source_items lists the items
    # of each source one after another; source_cdf maps a draw k + U(0, 1) to an item of source k.
    cluster_sorted = np.argsort(item_cluster, kind="stable")
    source_items = np.concatenate([cluster_sorted, np.arange(num_items)])
    source_of_entry = np.concatenate(
        [item_cluster[cluster_sorted], np.full(num_items, num_clusters)]
    )
    weights = item_weight[source_items]
    first_entry = np.searchsorted(source_of_entry, np.arange(num_clusters + 2))
    cumulative = np.concatenate([[0.0], np.cumsum(weights)])
    before = cumulative[first_entry[source_of_entry]]
    totals = cumulative[first_entry[1:]] - cumulative[first_entry[:-1]]
    source_cdf = source_of_entry + (cumulative[1:] - before) / totals[source_of_entry]
    source_cdf[first_entry[1:] - 1] = np.arange(1, num_clusters + 2)  # exact ends despite rounding

    home, second = rng.integers(num_clusters, size=(2, num_users))
    mean_log = np.log(max(mean_interactions_per_user, 1)) - _LENGTH_SIGMA**2 / 2
    lengths = np.clip(
        np.round(rng.lognormal(mean_log, _LENGTH_SIGMA, num_users)),
        _MIN_INTERACTIONS,
        num_items // 2,
    ).astype(np.int64)
    draws_per_user = np.ceil(_OVERSAMPLING * lengths).astype(np.int64)
    draw_user = np.repeat(np.arange(num_users), draws_per_user)
    choice = rng.random(draw_user.size)
    source = np.where(
        choice < cluster_affinity,
        home[draw_user],
        np.where(choice < (1 + cluster_affinity) / 2, second[draw_user], num_clusters),
    )
    entry = np.searchsorted(source_cdf, source + rng.random(draw_user.size), side="right")
    draw_item = source_items[entry]

    _, first_draw = np.unique(draw_user * num_items + draw_item, return_index=True)
    kept = np.sort(first_draw)  # distinct pairs in draw order, grouped by user
    users, items = draw_user[kept], draw_item[kept]
    first_of_user = np.searchsorted(users, np.arange(num_users))
    keep = np.arange(users.size) - first_of_user[users] < lengths[users]
    users, items = users[keep], items[keep]
    timestamps = np.round(rng.uniform(0, _SECONDS_PER_YEAR, users.size))
    return Interactions(
        users, items, timestamps, np.arange(num_users), np.arange(num_items), name="synthetic"
    )


def _check(num_users, num_items, num_clusters, mean_interactions_per_user, cluster_affinity):
    if num_users < 1 or num_clusters < 1 or num_items < max(num_clusters, 2 * _MIN_INTERACTIONS):
        raise DataFormatError(
            f"make_synthetic needs num_users >= 1, num_clusters >= 1 and num_items >= "
            f"max(num_clusters, {2 * _MIN_INTERACTIONS}); got num_users={num_users}, "
            f"num_items={num_items}, num_clusters={num_clusters}."
        )
    if not 0 < mean_interactions_per_user <= num_items / 2:
        raise DataFormatError(
            f"mean_interactions_per_user must lie in (0, num_items / 2 = {num_items / 2}], got "
            f"{mean_interactions_per_user}."
        )
    if not 0 <= cluster_affinity <= 1:
        raise DataFormatError(f"cluster_affinity must lie in [0, 1], got {cluster_affinity}.")
