"""RCEKDLoss: adaptive mix of CE on the student's top-K and CE on the closure-extended set."""

import numpy as np
import pytest

from kdtfrs.losses import RCEKDLoss, rce_kd_loss
from tests.losses import loss_checks as checks

K, L = 3, 2
CONFIGS = [{}, {"temperature": 2.0, "beta": 0.5}]

# Per-row losses on list_inputs(101) (padded) and list_inputs(102, padding=False), per
# config, computed while y_true carried item ids and the loss did the set logic.
BEFORE_THE_SEGMENT_MASKS = {
    (101, 0): [1.7244056463241577, 0.908829927444458, 0.7325019836425781, 1.5743777751922607],
    (102, 0): [1.4496618509292603, 1.093573808670044, 2.067802667617798, 1.2796696424484253],
    (101, 1): [1.3010483980178833, 0.7725468873977661, 1.3409286737442017, 1.1986684799194336],
    (102, 1): [1.1192131042480469, 1.301650881767273, 1.6961634159088135, 1.1032952070236206],
}


def list_entries(seed, rows=4, padding=True):
    """(scores, ids, y_pred, mask) [rows, 2K+L]: teacher scores, item ids, student scores and
    the real entries of [Q^S | Q^T | C] lists. Ids come from a small catalogue, so Q^S, Q^T
    and C overlap; an item has one score per row."""
    rng = np.random.default_rng(seed)
    catalogue = 7
    teacher = rng.normal(scale=2.0, size=(rows, catalogue))
    student = rng.normal(size=(rows, catalogue))
    ids = np.stack(
        [
            np.concatenate([rng.choice(catalogue, n, replace=False) for n in (K, K, L)])
            for _ in range(rows)
        ]
    )
    scores = np.take_along_axis(teacher, ids, axis=1)
    y_pred = np.take_along_axis(student, ids, axis=1)
    mask = np.ones(ids.shape, bool)
    if padding:
        mask[0, K + 1] = mask[1, 2 * K] = False  # in Q^T and in C
        mask[2, :K] = False  # Q^S all padding
        scores[~mask] = 1e4
        y_pred[0, K + 1], y_pred[1, 2 * K], y_pred[2, :K] = checks.NAN, checks.NAN, 1e30
    return scores, ids, y_pred.astype(np.float32), mask


def flags(ids, mask):
    """(in A, Q^T item in C) float [rows, 2K+L] by Python sets over the real entries: the set
    logic a sampler does before calling the loss."""
    in_a, in_closure = np.zeros(ids.shape), np.zeros(ids.shape)
    for row, (entries, real) in enumerate(zip(ids.tolist(), mask)):
        student_top = {entries[i] for i in range(K) if real[i]}
        closure = {entries[i] for i in range(2 * K, 2 * K + L) if real[i]}
        in_a[row, 2 * K:] = 1
        for i in range(K, 2 * K):
            in_closure[row, i] = entries[i] in closure
            in_a[row, i] = entries[i] not in closure | student_top
    return in_a, in_closure


def list_inputs(seed, rows=4, padding=True):
    """(y_true [rows, 2K+L, 3] = (teacher score, in A, Q^T item in C), y_pred, mask)."""
    scores, ids, y_pred, mask = list_entries(seed, rows, padding)
    y_true = np.stack([scores, *flags(ids, mask)], axis=-1).astype(np.float32)
    return y_true, y_pred, mask


def cross_entropy(teacher, student):
    if len(teacher) == 0:
        return 0.0
    return -(np.exp(checks.log_softmax(teacher)) * checks.log_softmax(student)).sum()


def reference(y_true, y_pred, mask, ids, temperature=1.0, beta=3.0):
    """RCE-KD by its definition, with the set logic on the item ``ids``."""
    losses = np.zeros(len(y_true))
    for row, (entries, logits, real) in enumerate(zip(y_true, y_pred, mask)):
        t, s, row_ids = entries[:, 0] / temperature, logits / temperature, ids[row]
        q_s = [i for i in range(K) if real[i]]
        q_t = [i for i in range(K, 2 * K) if real[i]]
        closure = [i for i in range(2 * K, 2 * K + L) if real[i]]
        closure_ids, student_ids = {row_ids[i] for i in closure}, {row_ids[i] for i in q_s}
        a = closure + [i for i in q_t if row_ids[i] not in closure_ids | student_ids]
        overlap = np.mean([row_ids[i] in closure_ids for i in q_t]) if q_t else 0.0
        gamma = np.exp(-beta * overlap)
        losses[row] = (1 - gamma) * cross_entropy(t[q_s], s[q_s]) + gamma * cross_entropy(
            t[a], s[a]
        )
    return losses


@pytest.mark.parametrize("config", CONFIGS)
def test_matches_numpy_reference(config):
    _, ids, _, _ = list_entries(seed=101)
    checks.assert_matches_reference(
        RCEKDLoss(K, L, **config),
        lambda t, p, m: reference(t, p, m, ids, **config),
        *list_inputs(seed=101),
    )


def test_pure_function_reads_the_two_masks():
    y_true, y_pred, mask = list_inputs(seed=102)
    losses = rce_kd_loss(y_true[..., 0], y_pred, mask, y_true[..., 1] > 0, y_true[..., 2] > 0,
                         K, L, 2.0, 0.5)
    expected = checks.per_row(RCEKDLoss(K, L, **CONFIGS[1]), y_true, y_pred, mask)
    np.testing.assert_array_equal(losses.numpy(), expected)


def test_padding_changes_nothing():
    y_true, y_pred, _ = list_inputs(seed=103, rows=3, padding=False)
    sections = [slice(0, K), slice(K, 2 * K), slice(2 * K, None)]
    parts = [
        checks.with_padding(y_true[:, section], y_pred[:, section], seed=103 + index,
                            by_labels=False)  # flags at padded entries: random, ignored
        for index, section in enumerate(sections)
    ]
    padded = [np.concatenate([part[i] for part in parts], axis=1) for i in range(3)]
    checks.assert_padding_changes_nothing(
        RCEKDLoss(K, L), y_true, y_pred, *padded, padded_loss=RCEKDLoss(K + 2, L + 2)
    )


def test_keras_contract():
    checks.assert_keras_contract(RCEKDLoss(K, L, **CONFIGS[1]), *list_inputs(seed=104))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(
        two_replica_strategy, RCEKDLoss(K, L), *list_inputs(seed=105)
    )


def test_rejects_a_list_of_the_wrong_width():
    y_true, y_pred, _ = list_inputs(seed=106, padding=False)
    with pytest.raises(ValueError, match="received 8"):
        RCEKDLoss(K, L + 1)(y_true, y_pred)
    with pytest.raises(ValueError, match=r"y_true must be \[B, 2K\+L, 3\]"):
        RCEKDLoss(K, L)(y_true[..., :2], y_pred)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_top": 0}, "num_top=0"),
        ({"num_closure": 2.5}, "num_closure=2.5"),
        ({"beta": -1}, "beta=-1"),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RCEKDLoss(**{"num_top": K, "num_closure": L, **kwargs})


@pytest.mark.parametrize("seed", [101, 102])
@pytest.mark.parametrize("config", [0, 1])
def test_values_are_unchanged_by_the_segment_masks(seed, config):
    y_true, y_pred, mask = list_inputs(seed=seed, padding=seed == 101)
    np.testing.assert_allclose(
        checks.per_row(RCEKDLoss(K, L, **CONFIGS[config]), y_true, y_pred, mask),
        BEFORE_THE_SEGMENT_MASKS[seed, config], rtol=1e-6)
