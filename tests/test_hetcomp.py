"""HetComp: the ensemble, the curriculum (DKC), the trajectories, the task and the CLI."""

import json

import numpy as np
import pytest

from kdtfrs import Distiller, model_dir
from kdtfrs._keras import keras, tf
from kdtfrs.data import bpr_triples, make_synthetic, split_random
from kdtfrs.embeddings import Embeddings
from kdtfrs.fitting import FitConfig, fit_model
from kdtfrs.hetcomp import (TrajectoryKnowledge, advance_checkpoints, current_lists,
                            ensemble_lists, observed_items, position_weighted_overlap)
from kdtfrs.losses import HetCompLoss
from kdtfrs.models import BPRMF, LightGCN
from kdtfrs.run_guards import RunInterrupted
from kdtfrs.signals import TeacherSignals
from kdtfrs.tasks import HetComp
from kdtfrs.tasks.base import all_users_top_items
from kdtfrs.trajectory import TrajectorySnapshots, select_checkpoints, snapshots
from tests.run_helpers import FAST, run
from tests.tasks.embedding_task_checks import (assert_gradients_reach_student_and_task_only,
                                               replica_losses)
from tests.tasks.task_checks import SEED
from tests.test_resumable import Interrupt


def gains(width):
    positions = np.arange(width)
    return (2.0 ** np.exp(-positions / 10.0) - 1.0) / np.log2(positions + 2.0)


def overlap_reference(student, target):
    gain = gains(len(student))
    return sum(g for g, item in zip(gain, student) if item in set(target) - {-1}) / gain.sum()


def test_ensemble_is_the_rank_discounted_vote():
    lists = np.array([[[4, 2, 7], [1, 0, 3]],
                      [[2, 4, 5], [3, 1, 0]]])  # 2 lists x 2 users x 3 items
    temperature = 2.0
    result = ensemble_lists(lists, num_items=8, length=4, temperature=temperature)
    for user in range(2):
        votes = {}
        for ranked in lists[:, user]:
            for rank, item in enumerate(ranked):
                votes[item] = votes.get(item, 0.0) + np.exp(-rank / temperature)
        expected = sorted(votes, key=lambda item: (-votes[item], item))[:4]
        expected += [-1] * (4 - len(expected))  # user 1 has 3 distinct items
        np.testing.assert_array_equal(result[user], expected)
    np.testing.assert_array_equal(ensemble_lists(lists[:1], 8, 3), lists[0])
    padded = ensemble_lists(np.array([[[5, -1, -1]]]), 8, 2)
    np.testing.assert_array_equal(padded, [[5, -1]])


def test_position_weighted_overlap_matches_its_definition():
    rng = np.random.default_rng(0)
    student = np.stack([rng.permutation(12)[:5] for _ in range(6)])
    target = np.stack([rng.permutation(12)[:5] for _ in range(6)])
    target[0] = student[0][::-1]
    target[1, 2:] = -1
    expected = [overlap_reference(s, t) for s, t in zip(student, target)]
    np.testing.assert_allclose(position_weighted_overlap(student, target), expected)
    assert position_weighted_overlap(student[:1], target[:1])[0] == pytest.approx(1.0)


def toy_lists():
    """1 teacher, 3 checkpoints, 3 users, K = 2: checkpoint e lists items (2e, 2e + 1)."""
    return np.array([[[[0, 1]] * 3, [[2, 3]] * 3, [[4, 5]] * 3]])


def test_dkc_moves_the_users_that_caught_up():
    lists = toy_lists()
    index = np.zeros((3, 1), int)
    # first step: only measures the distance to each user's next checkpoint (items 2, 3)
    student = np.array([[2, 9], [9, 8], [3, 2]])
    index, last = advance_checkpoints(lists, index, np.zeros((3, 1)), student, epoch=10,
                                      every=10, first=True)
    np.testing.assert_array_equal(index, [[0], [0], [0]])
    expected = 1.0 - np.array([[overlap_reference(s, [2, 3])] for s in student])
    np.testing.assert_allclose(last, expected)
    # user 0 now reproduces checkpoint 1 (distance 0: advance), user 1 got closer, but by a
    # ratio under the threshold (stay), user 2 drifted away (ratio < 1: advance)
    student = np.array([[2, 3], [9, 2], [9, 8]])
    index, distance = advance_checkpoints(lists, index, last, student, epoch=20, every=10,
                                          alpha=2.0)
    ratio = last[1, 0] / (1.0 - overlap_reference([9, 2], [2, 3]))
    assert 1.0 < ratio < 2.0 * 0.995 ** 2
    np.testing.assert_array_equal(index, [[1], [0], [1]])
    np.testing.assert_allclose(distance[[0, 2], 0],
                               [1.0 - overlap_reference(s, [4, 5]) for s in student[[0, 2]]])
    assert distance[1, 0] == last[1, 0]  # kept while the user stays
    # a user at the last checkpoint stays there
    final, _ = advance_checkpoints(lists, np.full((3, 1), 2), last, student, 30, 10)
    np.testing.assert_array_equal(final, [[2], [2], [2]])
    np.testing.assert_array_equal(current_lists(lists, index)[0], [[2, 3], [0, 1], [2, 3]])


@pytest.fixture(scope="module")
def split():
    return split_random(make_synthetic(num_users=50, num_items=60, num_clusters=3,
                                       mean_interactions_per_user=8, seed=0), seed=0)


def test_observed_items_follow_the_teachers_consensus(split):
    teachers = [BPRMF(split.num_users, split.num_items, 8, init_stddev=0.5, seed=s)
                for s in (1, 2)]
    result = observed_items(teachers, split.train, count=3, temperature=2.0)
    scores = [np.asarray(t.score_all(np.arange(split.num_users))) for t in teachers]
    for user in range(split.num_users):
        items = split.train.row(user)
        votes = {item: 0.0 for item in items}
        for score in scores:
            for rank, item in enumerate(sorted(items, key=lambda i: -score[user, i])):
                votes[item] += np.exp(-rank / 2.0)
        expected = sorted(items, key=lambda i: (-votes[i], i))[:3]
        expected += [-1] * (3 - len(expected))
        np.testing.assert_array_equal(result[user], expected)


def trajectory(split, model, epochs=(1, 2, 3)):
    """Copies of ``model`` after each of ``epochs`` (a small training run)."""
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    copies, done = [], 0
    for epoch in epochs:
        model.fit(bpr_triples(split.train, 64, seed=1), epochs=epoch - done, verbose=0)
        done = epoch
        copy = type(model).from_config(model.get_config())
        copy.set_weights(model.get_weights())
        copies.append(copy)
    return copies


@pytest.fixture(scope="module")
def knowledge(split):
    bpr = trajectory(split, BPRMF(split.num_users, split.num_items, 16, seed=1))
    gcn = trajectory(split, LightGCN(split.num_users, split.num_items, 8,
                                     train_matrix=split.train, num_layers=2, seed=3))
    return TrajectoryKnowledge.from_trajectories([bpr, gcn], split.train, list_length=10,
                                                 num_observed=2)


def test_knowledge_lists_are_each_checkpoints_top_k(knowledge, split):
    assert knowledge.lists.shape == (2, 3, split.num_users, 10)
    assert (knowledge.num_teachers, knowledge.num_checkpoints) == (2, 3)
    users, items = split.train.to_pairs()
    train = set(zip(users.tolist(), items.tolist()))
    lists = knowledge.lists
    assert not any((u, i) in train for u in range(split.num_users) for i in lists[0, 0, u])
    assert all(item in split.train.row(user) for user, row in enumerate(knowledge.observed)
               for item in row if item >= 0)


def make_task(knowledge, split, **kwargs):
    task = HetComp(knowledge, weight=0.5, **kwargs)
    teacher = BPRMF(split.num_users, split.num_items, 4, seed=9)
    task.prepare(TeacherSignals(teacher, split.train), split.train)
    return task


def labels_of(task, knowledge, split, users):
    """float32 [n, I]: HetCompLoss's labels of the users' full rows, built in NumPy: the
    observed items above K, the listed ones K..1, the rest 0, other training items −1."""
    labels = np.zeros((len(users), split.num_items), np.float32)
    listed, k = task.listed.numpy(), knowledge.list_length
    for row, user in enumerate(users):
        labels[row, split.train.row(user)] = -1
        kept = listed[user][listed[user] >= 0]
        labels[row, kept] = k - np.arange(kept.size)
        observed = knowledge.observed[user][knowledge.observed[user] >= 0]
        labels[row, observed] = k + knowledge.num_observed - np.arange(observed.size)
    return labels


def test_the_loss_is_hetcomp_loss_of_each_unique_user_on_its_first_row(knowledge, split):
    task = make_task(knowledge, split)
    student = BPRMF(split.num_users, split.num_items, 4, init_stddev=0.3, seed=2)
    features = {"user": tf.constant([5, 7, 5, 1], tf.int32)}
    labels = labels_of(task, knowledge, split, [5, 7, 1])
    scores = student.score_all(tf.constant([5, 7, 1]))
    for final in (False, True):
        task.final_phase.assign(final)
        loss = HetCompLoss(10, 2, phase="rank" if final else "overall",
                           reduction=keras.losses.Reduction.NONE)
        expected = 0.5 * (1.0 if final else 2.0) * loss(labels, scores).numpy()
        expected = [expected[0], expected[1], 0.0, expected[2]]
        np.testing.assert_allclose(task.weighted_loss(features, Embeddings.of(student), SEED),
                                   expected, rtol=1e-5)
        graph = tf.function(lambda f: task.weighted_loss(f, Embeddings.of(student), SEED))
        np.testing.assert_allclose(graph(features), expected, rtol=1e-5)
    assert_gradients_reach_student_and_task_only(task, features, student,
                                                 BPRMF(split.num_users, split.num_items, 4))


def test_refresh_runs_dkc_every_p_epochs(knowledge, split):
    task = make_task(knowledge, split, dkc_every=2)
    assert [epoch for epoch in range(7) if task.dkc_due(epoch)] == [2, 4, 6]
    teacher_like = Embeddings.frozen(BPRMF(split.num_users, split.num_items, 4, seed=5))
    task.refresh(teacher_like, 2)  # the first DKC step measures only
    assert bool(task.dkc_started.numpy()) and not task.checkpoint_index.numpy().any()
    before = task.last_distance.numpy()
    index, distance = advance_checkpoints(
        knowledge.lists, np.zeros((split.num_users, 2), int), before,
        task_student_lists(task, teacher_like), 4, 2)
    task.refresh(teacher_like, 4)
    np.testing.assert_array_equal(task.checkpoint_index.numpy(), index)
    np.testing.assert_allclose(task.last_distance.numpy(), distance, rtol=1e-6)
    np.testing.assert_array_equal(task.listed.numpy(), knowledge.ensemble(index, split.num_items))


def task_student_lists(task, student):
    return all_users_top_items(student, task.train.num_users, 10, task.train)


def test_fit_trains_the_student_and_reaches_the_final_phase(knowledge, split):
    with pytest.raises(ValueError, match="knowledge"):
        make_task(None, split)
    task = HetComp(knowledge, weight=0.5, dkc_every=1, alpha=1e-9)  # every user moves on
    config = task.get_config()
    assert HetComp(**config).get_config() == config
    teacher = BPRMF(split.num_users, split.num_items, 8, seed=4)
    student = BPRMF(split.num_users, split.num_items, 4, seed=2)
    distiller = Distiller(teacher, student, split.train, [task])
    distiller.compile(optimizer=keras.optimizers.Adam(0.02))
    history = distiller.fit(bpr_triples(split.train, 64), epochs=4, verbose=0)
    assert np.all(np.isfinite(history.history["hetcomp_loss"]))
    assert bool(task.final_phase.numpy())  # epochs 1 (measure), 2 and 3 (two moves)


def test_an_interrupted_run_resumes_with_the_curriculum_where_it_was(knowledge, split,
                                                                      tmp_path):
    def fit(checkpoint_dir=None, callbacks=()):
        task = HetComp(knowledge, weight=0.5, dkc_every=1, alpha=1.02)
        student = BPRMF(split.num_users, split.num_items, 4, seed=2)
        distiller = Distiller(BPRMF(split.num_users, split.num_items, 8, seed=4), student,
                              split.train, [task])
        fit_model(distiller, student, split, FitConfig(epochs=4, batch_size=64,
                                                        learning_rate=0.02),
                  checkpoint_dir, verbose=0, callbacks=callbacks)
        return task, student

    reference_task, reference = fit()
    assert reference_task.checkpoint_index.numpy().any()  # the curriculum moved
    with pytest.raises(RunInterrupted):
        fit(tmp_path, callbacks=[Interrupt(epoch=2)])
    task, student = fit(tmp_path)
    for got, expected in zip(student.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(task.checkpoint_index.numpy(),
                                  reference_task.checkpoint_index.numpy())
    np.testing.assert_array_equal(task.listed.numpy(), reference_task.listed.numpy())


def test_two_replicas_sum_to_the_one_device_loss(knowledge, split, two_replica_strategy):
    with two_replica_strategy.scope():
        task = make_task(knowledge, split)
    student = BPRMF(split.num_users, split.num_items, 4, init_stddev=0.3, seed=2)
    features = {"user": tf.constant([5, 7, 9, 1], tf.int32)}  # no user on both replicas
    losses = replica_losses(two_replica_strategy, task, features, student)
    single = float(tf.reduce_mean(task.weighted_loss(features, Embeddings.of(student), SEED)))
    np.testing.assert_allclose(sum(losses), single, rtol=1e-5)


def test_snapshots_hold_the_state_after_every_n_epochs(split, tmp_path):
    model = BPRMF(split.num_users, split.num_items, 4, seed=0)
    seen = {}

    class Remember(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen[epoch + 1] = [w.numpy().copy() for w in model.trainable_weights]

    record = {"dataset": "synthetic"}
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    folder = tmp_path / "trajectory"
    model.fit(bpr_triples(split.train, 64), epochs=5, verbose=0,
              callbacks=[Remember(), TrajectorySnapshots(None, folder, 2, record)])
    assert [epoch for epoch, _ in snapshots(tmp_path)] == [2, 4]
    for epoch, path in snapshots(tmp_path):
        saved = model_dir.load(path)
        for got, expected in zip(saved.trainable_weights, seen[epoch]):
            np.testing.assert_array_equal(got.numpy(), expected)


def fake_teacher(path, epochs, best_epoch):
    """A model directory with snapshots at ``epochs`` and a best epoch in metrics.json."""
    model = BPRMF(5, 6, 2, seed=0)
    for epoch in epochs:
        model_dir.write(model, path / "trajectory" / f"epoch-{epoch:05d}", {})
    model_dir.write(model, path / "final", {})
    for name in ("model.keras", "model.json"):
        (path / "final" / name).rename(path / name)
    (path / "final").rmdir()
    (path / "metrics.json").write_text(json.dumps({"training": {"best_epoch": best_epoch}}))
    return path


def test_select_checkpoints_spreads_the_snapshots_before_the_best_epoch(tmp_path):
    teacher = fake_teacher(tmp_path, [2, 4, 6, 8, 10, 12], best_epoch=11)
    chosen = select_checkpoints(teacher, 4)
    assert [path.name for path in chosen] == ["epoch-00002", "epoch-00006", "epoch-00010",
                                              tmp_path.name]
    assert select_checkpoints(teacher, 1) == [teacher]
    with pytest.raises(ValueError, match=r"needs 6 snapshots taken before its best epoch "
                                         r"\(11\), the teacher has 5.*--keep-every"):
        select_checkpoints(teacher, 7)


@pytest.mark.slow
def test_train_keeps_the_trajectory_and_distill_hetcomp_learns_from_it(tmp_path):
    for name, model in (("bpr", "bpr_mf"), ("gcn", "lightgcn")):
        assert run("train", "--dataset", "synthetic", "--model", model, "--epochs", 4,
                   "--keep-every", 1, "--output", tmp_path / name, *FAST) == 0
        assert [epoch for epoch, _ in snapshots(tmp_path / name)] == [1, 2, 3]
    assert run("distill", "--teachers", tmp_path / "bpr", tmp_path / "gcn", "--method",
               "hetcomp", "--epochs", 2, "--param", "num_checkpoints=2",
               "--param", "list_length=10", "--output", tmp_path / "het", *FAST) == 0
    extra = json.loads((tmp_path / "het" / "model.json").read_text())["extra"]
    assert extra["method"] == "hetcomp" and len(extra["teachers"]) == 2
    assert extra["hetcomp_knowledge"]["list_length"] == 10
    assert run("distill", "--teacher", tmp_path / "bpr", "--method", "rrd", "--teachers",
               tmp_path / "gcn", "--output", tmp_path / "x", *FAST) == 2
    assert run("distill", "--teachers", tmp_path / "bpr", "--method", "rrd",
               "--output", tmp_path / "x", *FAST) == 2
    assert run("distill", "--teachers", tmp_path / "bpr", "--method", "hetcomp",
               "--param", "listlength=3", "--output", tmp_path / "x", *FAST) == 2
