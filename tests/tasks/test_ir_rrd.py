"""IR-RRD: user-side RRD plus the relaxed ranking of each positive item's users."""

import numpy as np
import pytest

from kdtfrs import losses, samplers
from kdtfrs._keras import tf
from kdtfrs.tasks import IRRRD
from tests.tasks import task_checks as checks

MAX_RANK = 12


@pytest.fixture(scope="module")
def ir_rrd(signals, train):
    method = IRRRD(weight=0.3, num_interesting=4, num_uninteresting=5, temperature=3.0,
                   max_rank=MAX_RANK, item_weight=0.7, item_interesting=3,
                   item_uninteresting=6, item_temperature=2.0)
    method.prepare(signals, train)
    return method


def test_item_side_ranks_the_teachers_top_users(ir_rrd, signals, train, features):
    items = features["pos_item"]
    users, labels = (t.numpy() for t in ir_rrd.item_side_targets(items, checks.SEED))
    items = items.numpy()
    assert users.shape == labels.shape == (items.size, 9)
    positions = checks.position_in(signals.top_users(MAX_RANK), items, users[:, :3])
    assert (positions >= 0).all() and np.all(np.diff(positions, axis=1) > 0)
    np.testing.assert_array_equal(labels[:, :3], MAX_RANK - positions)
    others = users[:, 3:]
    np.testing.assert_array_equal(labels[:, 3:], 0.0)
    assert not checks.dense(train).T[items[:, None], others].any()
    assert (checks.position_in(signals.top_users(MAX_RANK), items, others) == -1).all()


def test_weighted_loss_adds_both_sides(ir_rrd, features, student):
    user_seed, item_seed = tf.unstack(samplers.split_seed(checks.SEED, 2))
    user_side = ir_rrd.per_row_loss(features, student, user_seed).numpy()
    users, labels = ir_rrd.item_side_targets(features["pos_item"], item_seed)
    user_emb, item_emb = (t.numpy() for t in student.embeddings())
    scores = np.einsum("bnd,bd->bn", user_emb[users.numpy()],
                       item_emb[features["pos_item"].numpy()])
    item_side = losses.rrd_loss(labels, scores, tf.ones_like(labels, tf.bool)).numpy()
    assert np.all(item_side > 0)
    np.testing.assert_allclose(ir_rrd.weighted_loss(features, student, checks.SEED).numpy(),
                               0.3 * user_side + 0.7 * item_side, rtol=1e-5)


def test_both_sides_train_the_student_only(ir_rrd, features, student, teacher):
    with tf.GradientTape() as tape:
        tape.watch(teacher.variables)
        loss = ir_rrd.weighted_loss(features, student, checks.SEED)
    gradients = tape.gradient(loss, student.trainable_variables + teacher.variables)
    assert all(g is None for g in gradients[len(student.trainable_variables):])
    assert all(np.isfinite(tf.convert_to_tensor(g).numpy()).all()
               for g in gradients[:len(student.trainable_variables)])
    checks.assert_targets_deterministic(ir_rrd, features)
    checks.assert_loss_trains_student_only(ir_rrd, features, student, teacher)
    checks.assert_config_round_trip(ir_rrd)


def test_item_interesting_cannot_exceed_the_users_per_item(signals, train):
    method = IRRRD(num_interesting=5, max_rank=10, item_interesting=11)
    with pytest.raises(ValueError, match=r"item_interesting \(11\) exceeds the 10 entries"):
        method.prepare(signals, train)


def test_lists_leave_uninteresting_users_for_the_most_popular_item(signals, train, features):
    """Lists longer than the users outside an item's training users are cut by one more.

    Regression: with max_rank above that count (MovieLens-100k: 479 users outside the most
    popular item's 464 training users, max_rank 500) the list covered every other user, so
    sampling uninteresting users for that item failed.
    """
    popularity = train.item_popularity()
    method = IRRRD(num_interesting=3, num_uninteresting=2, max_rank=train.num_users,
                   item_interesting=3, item_uninteresting=4)
    method.prepare(signals, train)
    assert method.ranked_users.shape == (train.num_items,
                                          train.num_users - int(popularity.max()) - 1)
    assert method.ranked.shape == (train.num_users,
                                   train.num_items - int(train.row_lengths().max()) - 1)
    popular = tf.constant([int(popularity.argmax())] * 3, tf.int32)
    users = method.item_side_targets(popular, checks.SEED)[0].numpy()
    assert not checks.dense(train).T[popular.numpy()[:, None], users].any()
    items, _ = checks.numpy_targets(method, features)
    assert not checks.dense(train)[features["user"].numpy()[:, None], items].any()


@pytest.fixture(scope="module")
def ir_rrd_paper(signals, train):
    method = IRRRD(weight=0.3, num_interesting=4, num_uninteresting=5, temperature=3.0,
                   max_rank=MAX_RANK, item_weight=0.7, item_interesting=3,
                   item_uninteresting=6, item_temperature=2.0, item_set="paper")
    method.prepare(signals, train)
    return method


def test_paper_item_set_ranks_users_for_each_drawn_item_once(ir_rrd_paper, features, student):
    """Σ_{i∈I*} IR(i) / B with I* the unique items the user side drew (NumPy reference)."""
    user_seed, item_seed = tf.unstack(samplers.split_seed(checks.SEED, 2))
    drawn, labels = (t.numpy() for t in ir_rrd_paper.targets(features, user_seed))
    user_emb, item_emb = (t.numpy() for t in student.embeddings())
    scores = np.einsum("bd,bnd->bn", user_emb[features["user"].numpy()], item_emb[drawn])
    user_side = losses.rrd_loss(labels, scores, np.ones(labels.shape, bool)).numpy()
    unique = np.array(list(dict.fromkeys(drawn.reshape(-1).tolist())), np.int32)
    users, item_labels = (t.numpy() for t in ir_rrd_paper.item_side_targets(
        tf.constant(unique), item_seed))
    item_scores = np.einsum("nkd,nd->nk", user_emb[users], item_emb[unique])
    item_side = losses.rrd_loss(item_labels, item_scores,
                                np.ones(item_labels.shape, bool)).numpy()
    got = ir_rrd_paper.weighted_loss(features, student, checks.SEED).numpy()
    assert got.shape == user_side.shape
    np.testing.assert_allclose(got.sum(), 0.3 * user_side.sum() + 0.7 * item_side.sum(),
                               rtol=1e-5)


def test_paper_item_set_trains_the_student_only_and_round_trips(ir_rrd_paper, features,
                                                                student, teacher):
    checks.assert_loss_trains_student_only(ir_rrd_paper, features, student, teacher)
    checks.assert_config_round_trip(ir_rrd_paper)
    assert "item_set" not in IRRRD().get_config()  # the default keeps recorded configs equal


def test_an_unknown_item_set_is_refused():
    with pytest.raises(ValueError, match="item_set must be one of positives, paper"):
        IRRRD(item_set="all")
