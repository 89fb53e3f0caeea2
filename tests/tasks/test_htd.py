"""HTD: relations within teacher-gated groups and to group prototypes, plus DE's regression."""

import numpy as np
import pytest

from kdtfrs import samplers
from kdtfrs._keras import tf
from kdtfrs.embeddings import Embeddings
from kdtfrs.layers import annealed_temperature
from kdtfrs.tasks.htd import HTD, same_group_errors
from kdtfrs.tasks.topology import cosine_matrix
from kdtfrs.tasks.topology import batch_entities
from tests.tasks import embedding_task_checks as embedding_checks
from tests.tasks import task_checks as checks

GROUPS = 3


def prepared(signals, train, student, **kwargs):
    task = HTD(**{"weight": 0.2, "alpha": 0.7, "num_experts": GROUPS, **kwargs})
    task.prepare(signals, train, student)
    return task


def numpy_softmax(logits):
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def numpy_projection(projector, student_vectors, teacher_vectors, noise):
    """DE's projector in NumPy from the layer's weights and the Gumbel noise G it draws."""
    gate = projector.gate
    probabilities = numpy_softmax(teacher_vectors @ gate.kernel.numpy() + gate.bias.numpy())
    temperature = float(gate.temperature.numpy())
    selection = numpy_softmax((np.log(probabilities + 1e-10) + noise) / temperature)
    hidden = np.maximum(0.0, np.einsum("nd,edh->neh", student_vectors,
                                       projector.hidden_kernel.numpy())
                        + projector.hidden_bias.numpy())
    experts = (np.einsum("neh,eht->net", hidden, projector.output_kernel.numpy())
               + projector.output_bias.numpy())
    return (selection[:, :, None] * experts).sum(1), probabilities.argmax(-1)


def numpy_htd_terms(task, features, student, seed=checks.SEED):
    users = list(dict.fromkeys(features["user"].numpy().tolist()))
    items = list(dict.fromkeys(np.concatenate([features["pos_item"].numpy(),
                                               features["neg_item"].numpy().ravel()]).tolist()))
    teacher_users, teacher_items = embedding_checks.tables(task.teacher)
    student_users, student_items = embedding_checks.tables(student)
    user_seed, item_seed = samplers.split_seed(seed, 2)
    assignment, groups = 0.0, []
    for projector, ids, teacher_table, student_table, side_seed, offset in (
            (task.user_projector, users, teacher_users, student_users, user_seed, 0),
            (task.item_projector, items, teacher_items, student_items, item_seed, GROUPS)):
        noise = samplers.gumbel_noise([len(ids), GROUPS], side_seed).numpy()
        projected, side_groups = numpy_projection(projector, student_table[ids],
                                                  teacher_table[ids], noise)
        assignment += ((teacher_table[ids] - projected) ** 2).sum()
        groups.extend(side_groups + offset)
    groups = np.array(groups)
    teacher = np.concatenate([teacher_users[users], teacher_items[items]])
    student_vectors = np.concatenate([student_users[users], student_items[items]])
    entity = 0.0
    cos_teacher, cos_student = (embedding_checks.cosines(v) for v in (teacher, student_vectors))
    for a in range(len(groups)):
        for b in range(len(groups)):
            if groups[a] == groups[b] and cos_teacher[a, b] > 0:
                entity += (cos_student[a, b] - cos_teacher[a, b]) ** 2
    present = sorted(set(groups.tolist()))
    proto_teacher = np.stack([teacher[groups == g].mean(0) for g in present])
    proto_student = np.stack([student_vectors[groups == g].mean(0) for g in present])

    def cos(left, right):
        left = left / np.linalg.norm(left, axis=-1, keepdims=True)
        return left @ (right / np.linalg.norm(right, axis=-1, keepdims=True)).T

    if task.choice == "second":
        group = ((cos(proto_student, student_vectors) - cos(proto_teacher, teacher)) ** 2).sum()
    else:
        group = ((cos(proto_student, proto_student) - cos(proto_teacher, proto_teacher)) ** 2
                 ).sum()
    return {"entity": entity, "group": group, "assignment": assignment}, groups


@pytest.mark.parametrize("kwargs", [{}, {"choice": "first"}, {"prototype_gradient": True}])
def test_terms_and_loss_match_numpy(signals, train, student, features, kwargs):
    task = prepared(signals, train, student, **kwargs)
    task.refresh(None, 300)  # temperature 1e-3: a near-hard selection
    embeddings = Embeddings.of(student)
    expected, groups = numpy_htd_terms(task, features, student)
    assert expected["entity"] > 0 and len(set(groups.tolist())) > 2  # groups are shared
    terms = task.terms(features, embeddings, checks.SEED)
    for key, value in expected.items():
        np.testing.assert_allclose(terms[key].numpy(), value, rtol=2e-5, err_msg=key)
    total = 0.7 * (expected["entity"] + expected["group"]) + 0.3 * expected["assignment"]
    per_row = task.per_row_loss(features, embeddings, checks.SEED).numpy()
    np.testing.assert_allclose(per_row, np.full(12, total / 12), rtol=2e-5)
    checks.assert_weighted_is_weight_times_per_row(task, features, embeddings)


def test_groups_are_the_gate_argmax_with_items_offset(signals, train, student, features):
    task = prepared(signals, train, student)
    _, expected = numpy_htd_terms(task, features, student)
    teacher_users, teacher_items = embedding_checks.tables(task.teacher)
    users = list(dict.fromkeys(features["user"].numpy().tolist()))
    assert (expected[:len(users)] < GROUPS).all() and (expected[len(users):] >= GROUPS).all()
    ids_users, ids_items = batch_entities(features)
    groups = task.groups(tf.gather(teacher_users.astype(np.float32), ids_users),
                         tf.gather(teacher_items.astype(np.float32), ids_items))
    np.testing.assert_array_equal(groups.numpy(), expected)


def test_refresh_anneals_the_gate_temperature(signals, train, student):
    task = prepared(signals, train, student, max_epochs=100)
    assert float(task.user_projector.temperature.numpy()) == pytest.approx(1.0)
    task.refresh(None, 50)
    for projector in (task.user_projector, task.item_projector):
        assert float(projector.temperature.numpy()) == pytest.approx(
            annealed_temperature(50, 100), rel=1e-6)
    assert int(task.epoch.numpy()) == 50
    task.refresh(None, 250)
    assert float(task.item_projector.temperature.numpy()) == pytest.approx(1e-10, rel=1e-5)


def student_gradient_of(task, term, features, student):
    with tf.GradientTape() as tape:
        value = task.terms(features, Embeddings.of(student, True), checks.SEED)[term]
    gradients = tape.gradient(value, student.trainable_variables)
    return sum(0.0 if g is None else float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(g))))
               for g in gradients)


def test_first_choice_needs_prototype_gradient_to_train_the_student(signals, train, student,
                                                                    features):
    first = prepared(signals, train, student, choice="first")
    assert student_gradient_of(first, "group", features, student) == 0.0
    first_with = prepared(signals, train, student, choice="first", prototype_gradient=True)
    assert student_gradient_of(first_with, "group", features, student) > 0.0
    second = prepared(signals, train, student)
    assert student_gradient_of(second, "group", features, student) > 0.0


def test_gradients_reach_student_gates_and_experts_not_teacher(signals, train, student, teacher,
                                                               features):
    task = prepared(signals, train, student)
    names = {v.name.split("/")[-1] for v in task.trainable_variables}
    assert {"kernel:0", "bias:0", "hidden_kernel:0", "output_kernel:0"} <= names
    assert len(task.trainable_variables) == 12  # 2 sides x (4 expert + 2 gate weights)
    embedding_checks.assert_gradients_reach_student_and_task_only(task, features, student,
                                                                  teacher)
    embedding_checks.assert_graph_equals_eager(task, features, student)


def test_config_round_trip_and_argument_errors(signals, train):
    task = HTD(weight=0.1, alpha=0.5, num_experts=4, choice="first", prototype_gradient=True,
               max_epochs=100, name="h")
    rebuilt = checks.assert_config_round_trip(task)
    assert rebuilt.choice == "first" and rebuilt.prototype_gradient and rebuilt.name == "h"
    assert HTD().get_config()["alpha"] == 0.9 and HTD().num_experts == 30
    rounded = HTD(expert_dtype="bfloat16")
    assert checks.assert_config_round_trip(rounded).expert_dtype == "bfloat16"
    for kwargs, message in (({"alpha": 1.5}, "alpha.*received alpha=1.5"),
                            ({"num_experts": 0}, "num_experts"),
                            ({"choice": "third"}, "choice.*received choice='third'"),
                            ({"prototype_gradient": "yes"}, "prototype_gradient"),
                            ({"max_epochs": 0}, "max_epochs")):
        with pytest.raises(ValueError, match=message):
            HTD(**kwargs)
    with pytest.raises(ValueError, match="student"):
        HTD().prepare(signals, train)


def test_each_replica_groups_its_own_sub_batch(two_replica_strategy, signals, train, student,
                                               features):
    """Replica r's loss is the one-device loss of its half (same seed) over 2 replicas."""
    with two_replica_strategy.scope():
        task = prepared(signals, train, student)
    losses = embedding_checks.replica_losses(two_replica_strategy, task, features, student)
    for loss, half in zip(losses, embedding_checks.halves(features)):
        np.testing.assert_allclose(
            loss, embedding_checks.single_device_loss(task, half, student) / 2, rtol=1e-5)


def test_distiller_trains_gates_experts_and_student(split):
    task = HTD(weight=0.01, num_experts=GROUPS, max_epochs=4)
    embedding_checks.distill(split, task)
    assert float(task.user_projector.temperature.numpy()) == pytest.approx(
        annealed_temperature(1, 4))


@pytest.mark.parametrize("tile", [2, 3, 5, 256])  # by tiles (2 and 3 on the first groups) or
# whole (the rest: the tile pairs would cover all N² pairs)
@pytest.mark.parametrize("groups", [[0, 1, 2, 1, 0, 2, 2, 1, 0, 3, 1, 2],
                                    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                                    [4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]])
def test_same_group_pairs_tile_by_tile_equal_the_masked_square(groups, tile):
    """Against NumPy, and the gradient against the N x N masked form's."""
    rng = np.random.default_rng(0)
    teacher = tf.constant(rng.standard_normal((len(groups), 6)), tf.float32)
    student = tf.Variable(rng.standard_normal((len(groups), 3)), dtype=tf.float32)
    groups = tf.constant(groups, tf.int32)
    cos_teacher, cos_student = (embedding_checks.cosines(v.numpy()) for v in (teacher, student))
    same = groups.numpy()[:, None] == groups.numpy()[None, :]
    expected = (((cos_student - cos_teacher) ** 2) * (same & (cos_teacher > 0))).sum()

    def masked_square():
        teacher_cosines = cosine_matrix(teacher, teacher)
        errors = tf.square(cosine_matrix(student, student) - teacher_cosines)
        keep = tf.equal(groups[:, None], groups[None, :]) & (teacher_cosines > 0)
        return tf.reduce_sum(tf.where(keep, errors, 0.0))

    results = []
    for errors in (masked_square, lambda: same_group_errors(teacher, student, groups, tile)):
        with tf.GradientTape() as tape:
            value = errors()
        results.append((value.numpy(), tape.gradient(value, student).numpy()))
    assert expected > 0
    np.testing.assert_allclose(results[1][0], expected, rtol=1e-5)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-4, atol=1e-6)


def test_same_group_pairs_of_no_rows_are_zero():
    empty = tf.zeros([0, 4])
    assert float(same_group_errors(empty, empty, tf.zeros([0], tf.int32))) == 0.0
