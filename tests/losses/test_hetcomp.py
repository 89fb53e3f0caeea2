"""HetCompLoss: the overall and the rank phase against NumPy references written from the paper."""

import numpy as np
import pytest

from kdtfrs.losses import HetCompLoss
from tests.losses import loss_checks as checks

K, P = 4, 2  # list length, observed items


def log_sum_exp(values):
    values = np.asarray(values, np.float64)
    if not values.size:
        return -np.inf
    top = values.max()
    return top + np.log(np.exp(values - top).sum())


def groups(labels, real):
    """(observed O, teacher list T, rest R) positions of one row; O and T by label, highest
    first (ties in list order)."""
    entries = np.flatnonzero(real & (labels >= 0))
    by_label = entries[np.argsort(-labels[entries], kind="stable")]
    observed = [j for j in by_label if labels[j] > K][:P]
    ranked = [j for j in by_label if 0 < labels[j] <= K][:K]
    rest = [j for j in entries if labels[j] == 0]
    return observed, ranked, rest


def overall_reference(y_true, y_pred, mask):
    """−Σ_{x ∈ O ∪ T} [s_x − log(e^{s_x} + Σ_{j ∈ R} e^{s_j})] per row."""
    losses = np.zeros(len(y_true))
    for row, (labels, logits, real) in enumerate(zip(y_true, y_pred, mask)):
        observed, ranked, rest = groups(labels, real)
        if not rest:
            continue
        for x in observed + ranked:
            losses[row] -= logits[x] - log_sum_exp([logits[x], *logits[rest]])
    return losses


def plackett_luce(logits, listed, extra):
    """Σ_k [log(Σ_{l>=k} e^{s_l} + Σ_{extra} e^{s}) − s_k]."""
    return sum(log_sum_exp([*logits[listed[k:]], *logits[extra]]) - logits[listed[k]]
               for k in range(len(listed)))


def rank_reference(y_true, y_pred, mask):
    """PL(O | T ∪ R) + ½ Σ_{n ∈ {K/2, K/10}, n > 0} PL(T[:n] | T[n:] ∪ R) per row."""
    losses = np.zeros(len(y_true))
    for row, (labels, logits, real) in enumerate(zip(y_true, y_pred, mask)):
        observed, ranked, rest = groups(labels, real)
        losses[row] = plackett_luce(logits, observed, ranked + rest)
        for head in {K // 2, K // 10} - {0}:
            losses[row] += 0.5 * plackett_luce(logits, ranked[:head], ranked[head:] + rest)
    return losses


def hetcomp_inputs(seed, rows=4, observed=2, ranked=4, rest=3, padded=2):
    """(y_true, y_pred, None) float32: per row, observed items labelled above K, teacher-list
    items in (0, K], rest 0, padding < 0, shuffled; NaN or huge y_pred at padding."""
    rng = np.random.default_rng(seed)
    width = observed + ranked + rest + padded
    y_true = np.empty((rows, width))
    y_pred = rng.normal(scale=1.5, size=(rows, width))
    for row in range(rows):
        values = np.concatenate([
            K + rng.choice(np.arange(1, P + 1), size=observed, replace=False),
            rng.choice(np.arange(1, K + 1), size=ranked, replace=False),
            np.zeros(rest), -1.0 - rng.integers(0, 3, size=padded)])
        permutation = rng.permutation(width)
        y_true[row] = values[permutation]
        y_pred[row, permutation >= width - padded] = [np.nan, 1e30][row % 2]
    return y_true.astype(np.float32), y_pred.astype(np.float32), None


@pytest.mark.parametrize("phase, reference", [("overall", overall_reference),
                                              ("rank", rank_reference)])
def test_matches_numpy_reference(phase, reference):
    loss = HetCompLoss(list_length=K, num_observed=P, phase=phase)
    checks.assert_matches_reference(loss, reference, *hetcomp_inputs(seed=61))
    # rows with fewer observed and listed items than the bands hold
    checks.assert_matches_reference(loss, reference,
                                    *hetcomp_inputs(seed=62, observed=1, ranked=2, rest=1))


@pytest.mark.parametrize("phase", ["overall", "rank"])
def test_padding_changes_nothing(phase):
    loss = HetCompLoss(list_length=K, num_observed=P, phase=phase)
    y_true, y_pred, _ = hetcomp_inputs(seed=63, rows=3, padded=0)
    checks.assert_padding_changes_nothing(loss, y_true, y_pred,
                                          *checks.with_padding(y_true, y_pred, seed=63))
    checks.assert_padding_changes_nothing(
        loss, y_true, y_pred, *checks.with_padding(y_true, y_pred, seed=64, by_labels=False))


def test_stable_for_large_scores():
    y_true = np.array([[5.0, 3.0, 1.0, 0.0, 0.0]], np.float32)
    y_pred = np.array([[300.0, -200.0, 150.0, 250.0, -300.0]], np.float32)
    for phase, reference in (("overall", overall_reference), ("rank", rank_reference)):
        loss = HetCompLoss(list_length=K, num_observed=P, phase=phase)
        expected = reference(y_true.astype(float), y_pred.astype(float),
                             checks.full_mask(y_pred, None))
        np.testing.assert_allclose(checks.per_row(loss, y_true, y_pred), expected, rtol=1e-6)
        assert np.all(np.isfinite(checks.gradient(loss, y_true, y_pred)))


@pytest.mark.parametrize("phase", ["overall", "rank"])
def test_keras_contract(phase):
    checks.assert_keras_contract(HetCompLoss(K, P, phase=phase), *hetcomp_inputs(seed=65))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(two_replica_strategy, HetCompLoss(K, P, phase="rank"),
                                   *hetcomp_inputs(seed=66))


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="phase"):
        HetCompLoss(K, P, phase="final")
    with pytest.raises(ValueError, match="list_length"):
        HetCompLoss(0, P)
