"""UnKD: unbiased knowledge distillation (Chen et al., WSDM 2023)."""

import numpy as np

from kdtfrs import losses, samplers
from kdtfrs._keras import keras, tf
from kdtfrs.data.popularity import popularity_groups
from kdtfrs.tasks.base import DistillationTask, check_draw_every
from kdtfrs.validation import check_number


def group_pair_counts(popularity, groups, num_groups, total_pairs, exponent):
    """Pairs per group as in UnKD: weights from mean group popularity, rounded.

    m_g = mean popularity of group g; r_g = max m + min m - m_g, normalised, rounded to two
    decimals, floored at 0.1; r_g <- r_g^exponent / sum r^exponent (exponent 0: equal weights);
    n_g = round(r_g * total) (half to even), then +1 for the first groups while
    sum n_g < total. As in the reference, rounding up can give more than ``total`` pairs
    (two equal groups, total 3: 2 + 2).
    """
    means = np.array([popularity[groups == g].mean() for g in range(num_groups)])
    weights = means.max() + means.min() - means
    weights = np.maximum(np.round(weights / weights.sum(), 2), 0.1) ** exponent
    weights = weights / weights.sum()
    counts = np.round(weights * total_pairs).astype(int)
    shortfall = max(total_pairs - counts.sum(), 0)
    counts[:shortfall] += 1
    return counts


class UnKD(DistillationTask):
    """Popularity-stratified pairwise ranking distillation.

    Signals: items split into ``num_groups`` popularity groups of equal interaction mass
    (``kdtfrs.data.popularity_groups``); per user and group, the group's non-training items
    ranked by the teacher, truncated at ``max_rank`` (the reference keeps 1,000, but with
    p(r) ~ exp(-(r+1)/20) the mass beyond rank 200 is below e^-10).
    Per row: for each group g, n_g position pairs (a, b) drawn i.i.d. from p(r) ~
    exp(-(r+1)/rank_temperature); the teacher prefers the better-ranked item. Pairs with
    a == b (the reference resamples the whole set) or from lists shorter than 2 are padding.
    y_true: [B, P, 2] relevance (higher = preferred; -1 on both entries of a padded pair),
    y_pred: student scores, same shape.
    Loss: ``kdtfrs.losses.UnKDLoss`` (mean over a row's valid pairs of -log sigmoid(s+ - s-)).
    """

    method_id = "unkd"

    def __init__(self, weight=0.5, num_groups=2, num_pairs=2, group_weight_exponent=0.0,
                 rank_temperature=20.0, max_rank=200, exclude_train=True, name=None,
                 draw_every="step"):
        if not exclude_train:
            raise ValueError(
                "UnKD ranks each popularity group's non-training items, as the paper does: "
                "exclude_train=False is not supported. Leave exclude_train at True.")
        super().__init__(weight, exclude_train, name)
        self.draw_every = check_draw_every(draw_every)
        check_number("num_groups", num_groups, above=0, integer=True)
        check_number("num_pairs", num_pairs, above=0, integer=True)
        check_number("group_weight_exponent", group_weight_exponent, minimum=0)
        check_number("rank_temperature", rank_temperature, above=0)
        check_number("max_rank", max_rank, above=0, integer=True)
        self.num_groups = num_groups
        self.num_pairs = num_pairs
        self.group_weight_exponent = float(group_weight_exponent)
        self.rank_temperature = float(rank_temperature)
        self.max_rank = max_rank

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        groups = popularity_groups(train, self.num_groups)
        num_groups = int(groups.max()) + 1
        users, items = train.to_pairs()
        seen = np.bincount(users * num_groups + groups[items],
                           minlength=train.num_users * num_groups)
        seen = seen.reshape(train.num_users, num_groups)
        lists, lengths = [], []
        for group in range(num_groups):
            columns = np.flatnonzero(groups == group)
            ranked = signals.top_items_within(columns, self.max_rank)
            padded = np.zeros((train.num_users, self.max_rank), np.int32)
            padded[:, :ranked.shape[1]] = ranked
            lists.append(padded)
            available = columns.size - seen[:, group]
            lengths.append(np.minimum(ranked.shape[1], available))
        self.lists = [tf.constant(ranked) for ranked in lists]
        self.lengths = [tf.constant(length.astype(np.int32)) for length in lengths]
        self.pair_counts = group_pair_counts(train.item_popularity(), groups, num_groups,
                                             self.num_pairs, self.group_weight_exponent)
        self.prepare_draws()

    def targets(self, features, seed):
        self._require_prepared()
        users = features["user"]
        seeds = samplers.split_seed(seed, len(self.pair_counts))
        items, labels = [], []
        for group, count in enumerate(self.pair_counts):
            if count == 0:
                continue
            length = tf.gather(self.lengths[group], users)[:, None]
            better, worse, valid = samplers.rank_aware_pairs(
                length, self.max_rank, count, self.rank_temperature, seeds[group])
            pair = tf.stack([samplers.lookup_positions(self.lists[group], users, better),
                             samplers.lookup_positions(self.lists[group], users, worse)],
                            axis=-1)
            relevance = tf.cast(self.max_rank - tf.stack([better, worse], -1), tf.float32)
            relevance = tf.where(valid[..., None], relevance, -1.0)  # -1: padding
            items.append(pair)
            labels.append(relevance)
        return tf.concat(items, axis=1), tf.concat(labels, axis=1)

    def per_row_loss(self, features, student, seed):
        items, labels = self.batch_targets(features, seed)
        shape = tf.shape(items)
        flat = tf.reshape(items, [shape[0], -1])
        scores = tf.reshape(student.score(features["user"], flat), shape)
        return self.loss(labels, scores)

    def make_loss(self):
        return losses.UnKDLoss(reduction=keras.losses.Reduction.NONE)

    def get_config(self):
        return {**super().get_config(), "num_groups": self.num_groups,
                "num_pairs": self.num_pairs,
                "group_weight_exponent": self.group_weight_exponent,
                "rank_temperature": self.rank_temperature, "max_rank": self.max_rank}
