"""PCKD: DE plus a preference-consistency regulariser on detached student embeddings; and the
preference-consistency measure (kdtfrs.consistency)."""

import numpy as np
import pytest
from scipy import stats

from kdtfrs import samplers
from kdtfrs._keras import tf
from kdtfrs.consistency import preference_consistency
from kdtfrs.embeddings import Embeddings
from kdtfrs.tasks.pckd import PCKD, PCKDHybrid, PCKDList, PCKDPair
from tests.tasks import embedding_task_checks as embedding_checks
from tests.tasks import feature_checks
from tests.tasks import task_checks as checks

CLASSES = {"list": PCKDList, "pair": PCKDPair, "hybrid": PCKDHybrid}


def prepared(signals, train, student, regulariser="list", **kwargs):
    defaults = {"weight": 0.3, "num_experts": 3, "alpha": 0.7, "num_samples": 4, "tau": 0.5,
                "max_rank": 20}
    if regulariser == "hybrid":
        defaults.update(pair_weight=0.4, list_weight=0.9)
    task = CLASSES[regulariser](**{**defaults, **kwargs})
    task.prepare(signals, train, student)
    feature_checks.randomise(task.user_projector, 1, scale=0.3)
    feature_checks.randomise(task.item_projector, 2, scale=0.3)
    return task


def log_softmax(logits):
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def numpy_regulariser(task, features, student, seed):
    """float64 [B]: R per row. Seed layout: ``split_seed(seed, 2)`` = (items, projections), the
    projections' = (users, items); the items are the task's draw (tested on their own)."""
    teacher_users, teacher_items = feature_checks.tables(task.teacher)
    student_users, student_items = feature_checks.tables(student)
    sample_seed, projection_seed = samplers.split_seed(seed, 2)
    user_seed, item_seed = samplers.split_seed(projection_seed, 2)
    users = features["user"].numpy()
    items = task.sampled_items(features["user"], sample_seed).numpy()
    before = np.einsum("bd,bnd->bn", student_users[users], student_items[items])
    projected_users = feature_checks.project(task.user_projector, student_users[users],
                                             teacher_users[users], user_seed)
    projected_items = feature_checks.project(
        task.item_projector, student_items[items.ravel()], teacher_items[items.ravel()],
        item_seed).reshape(items.shape + (-1,))
    after = np.einsum("bt,bnt->bn", projected_users, projected_items)
    pair = np.log1p(np.exp(-(after[:, 0] - after[:, 1]) * (before[:, 0] - before[:, 1])))
    listwise = -(feature_checks.softmax(before / task.tau) * log_softmax(after / task.tau)).sum(-1)
    return {"pair": pair, "list": listwise,
            "hybrid": task.pair_weight * pair + task.list_weight * listwise}[task.regulariser]


@pytest.mark.parametrize("regulariser, num_experts", [
    ("list", 1), ("list", 3), ("pair", 3), ("hybrid", 1), ("hybrid", 3)])
def test_loss_matches_numpy(signals, train, student, features, regulariser, num_experts):
    task = prepared(signals, train, student, regulariser, num_experts=num_experts)
    embeddings = Embeddings.of(student)
    de_seed, regulariser_seed = samplers.split_seed(checks.SEED, 2)
    expected_r = numpy_regulariser(task, features, student, regulariser_seed)
    np.testing.assert_allclose(task.regulariser_loss(features, embeddings, regulariser_seed),
                               expected_r, rtol=2e-4, atol=1e-5)
    expected = (feature_checks.numpy_de(task, features, student, de_seed)
                + task.alpha * expected_r)
    np.testing.assert_allclose(task.per_row_loss(features, embeddings, checks.SEED), expected,
                               rtol=2e-4, atol=1e-5)
    checks.assert_weighted_is_weight_times_per_row(task, features, embeddings)


def test_items_are_rank_aware_draws_from_the_teacher_list(signals, train, student, features):
    task = prepared(signals, train, student, num_samples=5)
    np.testing.assert_array_equal(task.ranked.numpy(), signals.top_items(20, False))
    users = features["user"]
    items = task.sampled_items(users, checks.SEED).numpy()
    positions = checks.position_in(task.ranked.numpy(), users.numpy(), items)
    assert items.shape == (12, 5) and (positions >= 0).all()
    assert all(len(set(row)) == 5 for row in positions.tolist())
    np.testing.assert_array_equal(task.sampled_items(users, checks.SEED), items)
    graph = tf.function(task.sampled_items)(users, checks.SEED)
    np.testing.assert_array_equal(graph, items)
    assert (task.sampled_items(users, checks.OTHER_SEED).numpy() != items).any()
    # the first draw follows p(r) ∝ exp(-(r+1)/T_s) (T_s = 10 over 20 positions)
    many = tf.zeros([4000], tf.int32)
    first = checks.position_in(task.ranked.numpy(), many.numpy(),
                               task.sampled_items(many, checks.SEED).numpy()[:, :1])[:, 0]
    probabilities = np.exp(-(np.arange(20) + 1) / 10.0)
    probabilities /= probabilities.sum()
    observed = np.bincount(first, minlength=20) / 4000
    np.testing.assert_allclose(observed, probabilities, atol=0.025)
    assert prepared(signals, train, student, "pair").sampled_items(users, checks.SEED).shape \
        == (12, 2)


def test_training_positives_stay_in_the_list_unless_excluded(signals, train, student):
    kept = prepared(signals, train, student).ranked.numpy()
    excluded = prepared(signals, train, student, exclude_train=True).ranked.numpy()
    training = checks.dense(train)
    rows = np.arange(train.num_users)[:, None]
    assert training[rows, kept].any() and not training[rows, excluded].any()


@pytest.mark.parametrize("regulariser", ["list", "pair", "hybrid"])
def test_regulariser_trains_projectors_only(signals, train, student, teacher, features,
                                            regulariser):
    task = prepared(signals, train, student, regulariser)
    variables = student.trainable_variables + task.trainable_variables + teacher.variables
    with tf.GradientTape() as tape:
        tape.watch(teacher.variables)
        loss = tf.reduce_sum(task.regulariser_loss(features, Embeddings.of(student, True),
                                                   checks.SEED))
    gradients = tape.gradient(loss, variables)
    count = len(student.trainable_variables)
    assert all(g is None for g in gradients[:count])
    assert all(g is None for g in gradients[count + len(task.trainable_variables):])
    owned = [tf.convert_to_tensor(g).numpy() for g in
             gradients[count:count + len(task.trainable_variables)] if g is not None]
    assert len(owned) == len(task.trainable_variables)
    assert all(np.isfinite(g).all() for g in owned) and sum(np.abs(g).sum() for g in owned) > 0


def test_whole_loss_reaches_student_and_projectors_not_teacher(signals, train, student, teacher,
                                                               features):
    task = prepared(signals, train, student, "hybrid")
    embedding_checks.assert_gradients_reach_student_and_task_only(task, features, student,
                                                                  teacher)
    embedding_checks.assert_graph_equals_eager(task, features, student)


def test_method_ids_config_round_trip_and_argument_errors(signals, train):
    assert [cls.method_id for cls in CLASSES.values()] == ["pckd_list", "pckd_pair",
                                                           "pckd_hybrid"]
    for regulariser, cls in CLASSES.items():
        task = cls(alpha=0.2, num_samples=3)
        assert task.regulariser == regulariser and task.name == cls.method_id
        rebuilt = checks.assert_config_round_trip(task)
        assert "regulariser" not in rebuilt.get_config()
    general = PCKD(regulariser="pair", weight=0.1, name="p")
    assert checks.assert_config_round_trip(general).regulariser == "pair"
    defaults = PCKDList()
    assert (defaults.weight, defaults.num_experts, defaults.alpha, defaults.num_samples,
            defaults.tau, defaults.sample_temperature, defaults.max_rank,
            defaults.exclude_train) == (0.05, 30, 0.1, 5, 0.1, 10.0, 100, False)
    assert PCKDHybrid(pair_weight=0.3).pair_weight == 0.3
    rounded = checks.assert_config_round_trip(PCKDList(expert_dtype="bfloat16"))
    assert rounded.expert_dtype == "bfloat16"
    with pytest.raises(ValueError, match="regulariser='both'"):
        PCKD(regulariser="both")
    with pytest.raises(ValueError, match="pair_weight"):
        PCKDList(pair_weight=0.5)
    with pytest.raises(TypeError, match="regulariser"):
        PCKDPair(regulariser="list")
    with pytest.raises(ValueError, match="num_samples"):
        PCKDList(num_samples=1)
    with pytest.raises(ValueError, match="num_samples.*max_rank"):
        PCKDList(num_samples=30, max_rank=20)
    for kwargs, name in (({"alpha": -1.0}, "alpha"), ({"tau": 0.0}, "tau"),
                         ({"sample_temperature": 0}, "sample_temperature")):
        with pytest.raises(ValueError, match=name):
            PCKDList(**kwargs)
    with pytest.raises(ValueError, match="num_samples"):
        PCKDList(num_samples=5, max_rank=5).prepare(*_tiny_catalogue(signals, train))


def _tiny_catalogue(signals, train):
    """A (signals, train, student) whose lists hold fewer than 5 items: 4 items in all."""
    from kdtfrs.data.matrix import InteractionMatrix
    from kdtfrs.models import BPRMF
    from kdtfrs.signals import TeacherSignals
    small = InteractionMatrix.from_pairs(np.array([0, 1]), np.array([0, 1]), 3, 4)
    teacher = BPRMF(3, 4, embedding_dim=4, seed=1)
    return TeacherSignals(teacher, small), small, BPRMF(3, 4, embedding_dim=2, seed=2)


def test_two_replicas(two_replica_strategy, signals, train, student, features):
    """Each replica's loss is its half's on one device over the global batch (2 B/2 rows):
    the regulariser's rows and the halves' unique entities add up."""
    with two_replica_strategy.scope():
        task = prepared(signals, train, student, "hybrid")
    losses = embedding_checks.replica_losses(two_replica_strategy, task, features, student)
    for loss, half in zip(losses, embedding_checks.halves(features)):
        np.testing.assert_allclose(
            loss, embedding_checks.single_device_loss(task, half, student) / 2, rtol=1e-5)


def test_distiller_trains_projectors(split):
    task = PCKDHybrid(weight=0.05, num_experts=2, num_samples=3, max_rank=10, max_epochs=2)
    embedding_checks.distill(split, task, epochs=2)


def test_preference_consistency_matches_numpy(signals, train, student):
    task = prepared(signals, train, student, num_experts=3)
    users, items = np.array([0, 3, 5, 7]), np.arange(0, 40, 2)
    seed = tf.constant([4, 2], tf.int64)
    result = preference_consistency(student, task, users, items, k=5, seed=seed)
    teacher_users, teacher_items = feature_checks.tables(task.teacher)
    student_users, student_items = feature_checks.tables(student)
    user_seed, item_seed = samplers.split_seed(seed, 2)
    before = student_users[users] @ student_items[items].T
    projected_users = feature_checks.project(task.user_projector, student_users[users],
                                             teacher_users[users], user_seed)
    flat = np.tile(items, 4)  # the items of user 0, then user 1, ...
    projected_items = feature_checks.project(task.item_projector, student_items[flat],
                                             teacher_items[flat], item_seed).reshape(4, 20, -1)
    after = np.einsum("ut,unt->un", projected_users, projected_items)
    overlap = [len(set(np.argsort(-b)[:5]) & set(np.argsort(-a)[:5])) / 5
               for a, b in zip(before, after)]
    rho = [stats.spearmanr(a, b).statistic for a, b in zip(before, after)]
    np.testing.assert_allclose(result["overlap"], overlap)
    np.testing.assert_allclose(result["spearman"], rho, rtol=1e-5, atol=1e-6)
    per_user = preference_consistency(student, task, users, np.tile(items, (4, 1)), k=5,
                                      seed=seed)
    np.testing.assert_allclose(per_user["spearman"], result["spearman"], rtol=1e-6)
    with pytest.raises(ValueError, match="k"):
        preference_consistency(student, task, users, items, k=21)
    with pytest.raises(RuntimeError, match="prepare"):
        preference_consistency(student, PCKDList(), users, items)
