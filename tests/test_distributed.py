"""Training under ``tf.distribute``: a 2-replica Distiller step, with every registered method,
is the one-device step on the same global batch.

The strategy is ``make_strategy("mirrored")`` over the two logical CPUs of tests/conftest.py.
Each test builds one Distiller on one device and one inside the strategy's scope, gives them
the same weights and trains both with SGD on the same two global batches through ``fit``:
11 rows (6 on replica 0, 5 on replica 1) and 1 row (replica 1 holds none, as in the last
batch of an epoch that does not divide evenly).

The reference is the one-device Distiller fed, for each replica r, the rows r holds with the
sampling seed r draws from: ``loss = sum_r (rows_r / rows) * loss_r``, its gradient, one SGD
step. The 2-replica loss, logged metrics and every updated weight must equal it to float32
round-off (rtol 1e-5). This isolates the two ways a replica differs from one device by design:

1. each replica draws its own samples (``kdtfrs.tasks.step_seed``: ``[.., 2 step + r]``), where
   one device draws all rows from ``[.., step]``: the same distribution, other draws;
2. statistics over the batch (the unique entities of DE, PCKD and FitNet, FTD's relations,
   HTD's groups) are taken over each replica's rows.

The methods with neither (KD and BlackD draw nothing, VkD with the batch's entities centres on
a mean all-reduced over the replicas) and the scratch student are also checked against the
plain one-device step on the whole batch. VkD's random entities (each replica draws its own)
are checked at the loss level in tests/tasks/test_vkd.py. The students are BPR-MF (sparse,
IndexedSlices gradients) and, for a few methods, LightGCN (dense gradients).
"""

import numpy as np
import pytest

from kdtfrs import Distiller, tasks
from kdtfrs._keras import keras, tf
from kdtfrs.data import bpr_triples, make_synthetic, split_random
from kdtfrs.embeddings import Embeddings
from kdtfrs.models import BPRMF, LightGCN
from kdtfrs.tasks import step_seed
from tests.tasks.task_checks import SMALL_RANKING

SMALL = {
    **SMALL_RANKING,
    "rd": {**SMALL_RANKING["rd"], "dynamic_start_epoch": 0},
    "rce_kd": {**SMALL_RANKING["rce_kd"], "weight": 1e-3},
    "fitnet": dict(weight=0.3, hidden_ratio=0.5),
    "de": dict(weight=0.3, num_experts=3),
    "pckd_pair": dict(weight=0.3, num_experts=3, num_samples=4, max_rank=20),
    "pckd_list": dict(weight=0.3, num_experts=3, num_samples=4, max_rank=20),
    "pckd_hybrid": dict(weight=0.3, num_experts=3, num_samples=4, max_rank=20),
    "ftd": dict(weight=0.2),
    "htd": dict(weight=0.2, num_experts=3),
    "vkd": dict(weight=0.3, entities="batch"),
    "de_rrd": dict(de_num_experts=3, rrd_num_interesting=5, rrd_num_uninteresting=10,
                   rrd_max_rank=20),
}
#: neither per-replica draws nor per-replica batch statistics: equal to one device, whole batch
REPLICA_FREE = ("scratch", "kd", "blackd", "vkd")
LEARNING_RATE = 0.05


def test_every_method_has_a_small_configuration():
    assert set(SMALL) == set(tasks.method_ids())


@pytest.fixture(scope="module")
def split():
    return split_random(make_synthetic(num_users=40, num_items=60, num_clusters=4,
                                       mean_interactions_per_user=8, seed=0), seed=0)


@pytest.fixture(scope="module")
def batches(split):
    """Two global batches: 11 rows, then 1 row."""
    rows = next(iter(bpr_triples(split.train, 11, num_negatives=2, seed=3)))
    return [rows, {key: value[:1] for key, value in rows.items()}]


def make_distiller(split, method_id, student_class=BPRMF):
    """A Distiller (BPR-MF 16 -> ``student_class`` 4, seed 5) with ``method_id``'s small tasks,
    compiled with SGD; built in the strategy in scope."""
    teacher = BPRMF(split.num_users, split.num_items, 16, init_stddev=0.5, seed=1)
    graph = {"train_matrix": split.train, "num_layers": 2} if student_class is LightGCN else {}
    student = student_class(split.num_users, split.num_items, 4, init_stddev=0.3, seed=2,
                            l2=0.01, **graph)
    distillation = [] if method_id == "scratch" else tasks.build(method_id, **SMALL[method_id])
    distiller = Distiller(teacher, student, split.train, distillation, seed=5)
    distiller.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE))
    return distiller


def replica_parts(strategy, batch):
    """The rows each replica holds when ``fit`` distributes ``batch``."""
    dataset = tf.data.Dataset.from_tensors(batch)
    distributed = next(iter(strategy.experimental_distribute_dataset(dataset)))
    return [{key: strategy.experimental_local_results(value)[r]
             for key, value in distributed.items()}
            for r in range(strategy.num_replicas_in_sync)]


def replica_seeds(strategy, distiller, step):
    """seeds[t][r]: the sampling seed of task t on replica r at ``step`` (``step_seed`` run in
    each replica, as the Distiller runs it)."""
    per_replica = strategy.run(lambda: [step_seed(step, distiller.seed, index)
                                        for index in range(len(distiller.tasks))])
    return [[seed.numpy() for seed in strategy.experimental_local_results(value)]
            for value in per_replica]


def one_device_step(distiller, parts, seeds):
    """One SGD step of the one-device ``distiller`` on the replicas' ``parts`` (module
    docstring); returns {"loss", "base_loss", "<task>_loss"} of the step."""
    rows = sum(int(part["user"].shape[0]) for part in parts)
    student = distiller.student
    with tf.GradientTape() as tape:
        tables = student.embeddings(training=True)
        embeddings = Embeddings.from_tables(*tables)
        terms = {"base_loss": 0.0, **{f"{task.name}_loss": 0.0 for task in distiller.tasks}}
        for r, part in enumerate(parts):
            share = int(part["user"].shape[0]) / rows
            if not share:
                continue
            terms["base_loss"] += share * student.compute_loss(part, True, tables)
            for index, task in enumerate(distiller.tasks):
                seed = tf.constant(seeds[index][r], tf.int64)
                terms[f"{task.name}_loss"] += share * task(part, embeddings, seed=seed,
                                                           training=True)
        loss = distiller.base_weight * terms["base_loss"] + sum(
            value for key, value in terms.items() if key != "base_loss")
    variables = distiller.trainable_variables
    gradients = tape.gradient(loss, variables)
    distiller.optimizer.apply_gradients(
        (g, v) for g, v in zip(gradients, variables) if g is not None)
    return {"loss": float(loss), **{key: float(value) for key, value in terms.items()}}


def copy_weights(source, target):
    assert len(source.variables) == len(target.variables)
    for a, b in zip(source.variables, target.variables):
        assert a.shape == b.shape, (a.name, b.name)
        b.assign(a)


def twin_distillers(strategy, split, method_id, student_class=BPRMF):
    """(one-device, 2-replica) Distillers of ``method_id`` with the same weights."""
    single = make_distiller(split, method_id, student_class)
    with strategy.scope():
        mirrored = make_distiller(split, method_id, student_class)
    copy_weights(single, mirrored)
    return single, mirrored


def train_mirrored(strategy, distiller, batches, through):
    """Trains ``distiller`` on ``batches`` (one epoch); returns (each step's loss, or the last
    one's through ``fit``; the trackers' logged values)."""
    if through == "fit":  # Keras' traced train_function
        dataset = tf.data.Dataset.from_tensors(batches[0])
        for batch in batches[1:]:
            dataset = dataset.concatenate(tf.data.Dataset.from_tensors(batch))
        history = distiller.fit(dataset, epochs=1, verbose=0).history
        return history.pop("loss"), {key: value[0] for key, value in history.items()}
    distiller.refresh_callback().on_epoch_begin(0)
    losses = []
    for batch in batches:  # the train step eagerly in each replica: no tracing, fast
        distributed = next(iter(strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensors(batch))))
        logs = {key: [float(value) for value in strategy.experimental_local_results(values)]
                for key, values in strategy.run(distiller.train_step,
                                                args=(distributed,)).items()}
        for key, local in logs.items():  # global on every replica (kdtfrs.replicas)
            assert local == [local[0]] * len(local), (key, local)
        losses.append(logs.pop("loss")[0])
    return losses, {key: local[0] for key, local in logs.items()}


def assert_same_training(single, mirrored, expected, losses, logs):
    """``expected``: the one-device steps' {"loss", "<tracker>": ...}; ``losses``: the 2-replica
    steps' losses (or the last one's); ``logs``: its trackers."""
    np.testing.assert_allclose(losses, [step["loss"] for step in expected][-len(losses):],
                               rtol=1e-5, atol=1e-7)
    for key in expected[0]:
        if key != "loss":  # the trackers: the mean over the steps of the global loss
            mean = np.mean([step[key] for step in expected])
            np.testing.assert_allclose(logs[key], mean, rtol=1e-5, atol=1e-7, err_msg=key)
    assert int(mirrored.optimizer.iterations.numpy()) == len(expected)
    for a, b in zip(single.trainable_variables, mirrored.trainable_variables):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.name)


@pytest.mark.parametrize("method_id, through", [
    *[(method_id, "eager") for method_id in ("scratch", *tasks.method_ids())
      if method_id != "vkd"],
    ("de_rrd", "fit"), ("pckd_hybrid", "fit")])
def test_two_replicas_train_as_one_device_on_the_replicas_rows(method_id, through, split,
                                                               batches, two_replica_strategy):
    """VkD centres on a mean over every replica's rows: it is the next test's."""
    strategy = two_replica_strategy
    single, mirrored = twin_distillers(strategy, split, method_id)
    initial = [w.numpy().copy() for w in single.student.weights]
    single.refresh_callback().on_epoch_begin(0)
    expected = [one_device_step(single, replica_parts(strategy, batch),
                                replica_seeds(strategy, mirrored, step))
                for step, batch in enumerate(batches)]
    assert_same_training(single, mirrored, expected,
                         *train_mirrored(strategy, mirrored, batches, through))
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(initial, mirrored.student.weights))


@pytest.mark.parametrize("method_id", ["rrd", "blackd"])
def test_once_per_unique_user_too(method_id, split, batches, two_replica_strategy, monkeypatch):
    """Each replica distils the unique users of its own rows."""
    monkeypatch.setitem(SMALL, method_id, {**SMALL[method_id], "per_unique_user": True})
    test_two_replicas_train_as_one_device_on_the_replicas_rows(
        method_id, "eager", split, batches, two_replica_strategy)


def test_ir_rrd_on_the_papers_item_set_too(split, batches, two_replica_strategy, monkeypatch):
    """Each replica ranks users for the unique items its own rows drew."""
    monkeypatch.setitem(SMALL, "ir_rrd", {**SMALL["ir_rrd"], "item_set": "paper"})
    test_two_replicas_train_as_one_device_on_the_replicas_rows(
        "ir_rrd", "eager", split, batches, two_replica_strategy)


@pytest.mark.parametrize("method_id", ["scratch", "rrd", "de"])
def test_a_lightgcn_student_too(method_id, split, batches, two_replica_strategy):
    """Dense gradients (through the propagation) in place of the embeddings' IndexedSlices."""
    strategy = two_replica_strategy
    single, mirrored = twin_distillers(strategy, split, method_id, LightGCN)
    single.refresh_callback().on_epoch_begin(0)
    expected = [one_device_step(single, replica_parts(strategy, batch),
                                replica_seeds(strategy, mirrored, step))
                for step, batch in enumerate(batches)]
    assert_same_training(single, mirrored, expected,
                         *train_mirrored(strategy, mirrored, batches, "eager"))


@pytest.mark.parametrize("method_id, through", [
    *[(method_id, "eager") for method_id in REPLICA_FREE], ("vkd", "fit")])
def test_without_draws_two_replicas_equal_one_device_on_the_whole_batch(
        method_id, through, split, batches, two_replica_strategy):
    strategy = two_replica_strategy
    single, mirrored = twin_distillers(strategy, split, method_id)
    single.refresh_callback().on_epoch_begin(0)
    one_device = tf.distribute.get_strategy()
    expected = [one_device_step(single, [batch], replica_seeds(one_device, single, step))
                for step, batch in enumerate(batches)]
    assert_same_training(single, mirrored, expected,
                         *train_mirrored(strategy, mirrored, batches, through))


def test_replicas_draw_with_their_own_seeds(two_replica_strategy):
    """Replica r of R draws from ``[seed * 1009 + task, step * R + r]``: never the seed of
    another replica or step (two replicas do not draw the same items for their rows)."""
    seeds = two_replica_strategy.run(lambda: step_seed(tf.constant(3), 2, 1))
    local = [seed.numpy().tolist() for seed in
             two_replica_strategy.experimental_local_results(seeds)]
    assert local == [[2019, 6], [2019, 7]]
    assert step_seed(3, 2, 1).numpy().tolist() == [2019, 3]


def test_a_task_without_seed_draws_apart_on_each_replica(two_replica_strategy, split):
    """``task(features, student)`` with no seed: fixed draws, yet not the same on replicas."""
    with two_replica_strategy.scope():
        distiller = make_distiller(split, "rrd")
    task = distiller.tasks[0]
    rows = next(iter(bpr_triples(split.train, 8, seed=1)))
    same = {key: tf.concat([value, value], axis=0) for key, value in rows.items()}
    parts = replica_parts(two_replica_strategy, same)
    student = Embeddings.of(distiller.student)

    def draw(part):  # the task picks its seed: what it drew shows in its loss
        return task(part, student)

    values = two_replica_strategy.experimental_distribute_values_from_function(
        lambda context: parts[context.replica_id_in_sync_group])
    losses = two_replica_strategy.experimental_local_results(
        two_replica_strategy.run(draw, args=(values,)))
    assert not np.isclose(float(losses[0]), float(losses[1]))


def test_tasks_made_outside_the_scope_are_refused(two_replica_strategy, split):
    task = tasks.get("kd", **SMALL["kd"])
    with two_replica_strategy.scope():
        teacher = BPRMF(split.num_users, split.num_items, 8, seed=1)
        student = BPRMF(split.num_users, split.num_items, 4, seed=2)
        with pytest.raises(ValueError, match=r"kd's variable .* outside MirroredStrategy.scope"):
            Distiller(teacher, student, split.train, [task])
