"""RRDLoss: relaxed ranking distillation (also the math of IR-RRD's item side and DCD)."""

import numpy as np

from kdtfrs.losses import RRDLoss
from tests.losses import loss_checks as checks


def test_matches_numpy_reference():
    checks.assert_matches_reference(
        RRDLoss(), checks.relaxed_ranking, *checks.relevance_inputs(seed=41)
    )


def test_list_order_does_not_matter():
    y_true, y_pred, _ = checks.relevance_inputs(seed=42, tie=False)
    permutation = np.random.default_rng(42).permutation(y_true.shape[1])
    np.testing.assert_allclose(
        checks.per_row(RRDLoss(), y_true[:, permutation], y_pred[:, permutation]),
        checks.per_row(RRDLoss(), y_true, y_pred),
        rtol=1e-6,
    )


def test_rows_already_in_teacher_order_give_the_same_loss():
    # Rows listed as the teacher ranks them skip the sort (as RRD's sampler lists them).
    y_true, y_pred, _ = checks.relevance_inputs(seed=47, padded=0, tie=False)
    order = np.argsort(-y_true, axis=1, kind="stable")
    checks.assert_matches_reference(RRDLoss(), checks.relaxed_ranking,
                                    np.take_along_axis(y_true, order, axis=1),
                                    np.take_along_axis(y_pred, order, axis=1))


def test_stable_for_large_score_gaps():
    # A row spanning more than 80 nats takes tf.math.cumulative_logsumexp.
    y_true = np.array([[3.0, 2.0, 1.0, 0.0, 0.0], [3.0, 2.0, 1.0, 0.0, 0.0]], np.float32)
    y_pred = np.array([[-150.0, 200.0, 0.0, -100.0, 120.0], [0.5, -1.0, 2.0, 0.0, 1.0]],
                      np.float32)
    checks.assert_matches_reference(RRDLoss(), checks.relaxed_ranking, y_true, y_pred)


def test_padding_changes_nothing():
    y_true, y_pred, _ = checks.relevance_inputs(seed=43, rows=3, padded=0)
    padded = checks.with_padding(y_true, y_pred, seed=43)
    checks.assert_padding_changes_nothing(RRDLoss(), y_true, y_pred, *padded)


def test_a_mask_pads_like_negative_labels():
    y_true, y_pred, _ = checks.relevance_inputs(seed=46, rows=3, padded=0)
    by_labels = checks.with_padding(y_true, y_pred, seed=46)
    by_mask = checks.with_padding(y_true, y_pred, seed=46, by_labels=False)
    np.testing.assert_array_equal(by_mask[1], by_labels[1])  # same y_pred
    checks.assert_padding_changes_nothing(RRDLoss(), y_true, y_pred, *by_mask)
    np.testing.assert_array_equal(checks.per_row(RRDLoss(), *by_mask),
                                  checks.per_row(RRDLoss(), *by_labels))


def test_keras_contract():
    checks.assert_keras_contract(RRDLoss(), *checks.relevance_inputs(seed=44))


def test_distributed_sum_matches_mean(two_replica_strategy):
    checks.assert_distributed_mean(
        two_replica_strategy, RRDLoss(), *checks.relevance_inputs(seed=45)
    )
