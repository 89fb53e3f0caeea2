"""ExpertProjector and SelectionGate (DE's projector) against float64 NumPy, and the annealing."""

import numpy as np
import pytest

from kdtfrs._keras import tf
from kdtfrs.layers import ExpertProjector, SelectionGate, annealed_temperature
from tests.tasks import feature_checks as features

SEED = tf.constant([3, 9], tf.int64)
RNG = np.random.default_rng(0)
TEACHER = tf.constant(RNG.standard_normal((7, 6)), tf.float32)
STUDENT = tf.constant(RNG.standard_normal((7, 3)), tf.float32)


def gate(num_choices=4, temperature=1.0):
    layer = SelectionGate(num_choices)
    layer.build([None, 6])
    features.randomise(layer, 1)
    layer.temperature.assign(temperature)
    return layer


def projector(num_experts=3, expert_dtype="float32"):
    layer = ExpertProjector(num_experts, teacher_dim=6, expert_dtype=expert_dtype).build_for(3)
    features.randomise(layer, 2, scale=0.4)
    return layer


def test_annealing_schedule():
    assert annealed_temperature(0, 1000) == 1.0
    np.testing.assert_allclose([annealed_temperature(t, 1000) for t in (100, 200, 500)],
                               [0.1, 0.01, 1e-5], rtol=1e-9)
    assert annealed_temperature(1000, 1000) == annealed_temperature(5000, 1000) == 1e-10
    np.testing.assert_allclose(annealed_temperature(5, 10, end=0.01, start=4.0),
                               4.0 * (0.01 / 4.0) ** 0.5)
    for kwargs, name in (({"epoch": -1}, "epoch"), ({"max_epochs": 0}, "max_epochs"),
                         ({"end": 0.0}, "end"), ({"start": 1e-12}, "start")):
        with pytest.raises(ValueError, match=name):
            annealed_temperature(**{"epoch": 1, "max_epochs": 10, **kwargs})


@pytest.mark.parametrize("temperature", [1.0, 0.3])
def test_gate_matches_numpy(temperature):
    layer = gate(temperature=temperature)
    probabilities, selection = layer(TEACHER, SEED)
    np.testing.assert_allclose(probabilities, features.gate_probabilities(layer, TEACHER),
                               rtol=1e-5)
    np.testing.assert_allclose(selection, features.gate_selection(layer, TEACHER, SEED),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(selection.numpy().sum(-1), 1.0, rtol=1e-6)
    other = layer(TEACHER, SEED + 1)[1].numpy()
    assert not np.allclose(other, selection.numpy())


def test_gate_becomes_hard_as_it_cools_and_is_one_for_one_choice():
    hard = gate(temperature=1e-10)(TEACHER, SEED)[1].numpy()
    np.testing.assert_array_equal(np.sort(hard, -1)[:, :-1], 0.0)
    np.testing.assert_array_equal(hard.max(-1), 1.0)
    single = gate(num_choices=1)
    probabilities, selection = single(TEACHER, SEED)
    np.testing.assert_array_equal(selection, np.ones((7, 1)))
    np.testing.assert_allclose(probabilities, 1.0)


def test_gate_variables_and_gradients():
    layer = gate()
    assert [v.name.split("/")[-1] for v in layer.trainable_variables] == ["kernel:0", "bias:0"]
    assert not layer.temperature.trainable
    assert layer.temperature in layer.non_trainable_variables
    teacher = tf.Variable(TEACHER)
    with tf.GradientTape() as tape:
        _, selection = layer(teacher, SEED)
        loss = tf.reduce_sum(selection * tf.range(4, dtype=tf.float32))
    kernel, bias, to_teacher = tape.gradient(loss, [layer.kernel, layer.bias, teacher])
    assert to_teacher is None
    assert np.abs(kernel.numpy()).sum() > 0 and np.abs(bias.numpy()).sum() > 0


def test_projector_matches_numpy():
    layer = projector()
    projected = layer(STUDENT, TEACHER, SEED)
    assert projected.shape == (7, 6)
    np.testing.assert_allclose(projected, features.project(layer, STUDENT, TEACHER, SEED),
                               rtol=1e-4, atol=1e-5)
    graph = tf.function(lambda s, t, seed: layer(s, t, seed))(STUDENT, TEACHER, SEED)
    np.testing.assert_allclose(graph, projected, rtol=1e-5, atol=1e-6)


def test_one_expert_is_a_plain_mlp_and_hard_selection_picks_one():
    single = projector(num_experts=1)
    np.testing.assert_allclose(single(STUDENT, TEACHER, SEED),
                               features.experts(single, STUDENT)[:, 0], rtol=1e-4, atol=1e-5)
    layer = projector()
    layer.temperature.assign(1e-10)
    chosen = features.gate_selection(layer.gate, TEACHER, SEED).argmax(-1)
    expected = features.experts(layer, STUDENT)[np.arange(7), chosen]
    np.testing.assert_allclose(layer(STUDENT, TEACHER, SEED), expected, rtol=1e-4, atol=1e-5)


def test_projector_shapes_gradients_and_errors():
    layer = ExpertProjector(5, teacher_dim=6, name="p").build_for(3)
    hidden = (3 + 6) // 2
    shapes = {v.name.split("/")[-1]: tuple(v.shape) for v in layer.trainable_variables}
    assert shapes == {"hidden_kernel:0": (5, 3, hidden), "hidden_bias:0": (5, hidden),
                      "output_kernel:0": (5, hidden, 6), "output_bias:0": (5, 6),
                      "kernel:0": (6, 5), "bias:0": (5,)}
    assert layer.temperature is layer.gate.temperature
    assert layer.build_for(3) is layer
    with pytest.raises(ValueError, match="student_dim=4"):
        layer.build_for(4)
    student = tf.Variable(STUDENT)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(student, TEACHER, SEED)))
    gradients = tape.gradient(loss, [student] + layer.trainable_variables)
    assert all(g is not None and np.abs(tf.convert_to_tensor(g).numpy()).sum() > 0
               for g in gradients)
    assert layer.get_config() == {"num_experts": 5, "teacher_dim": 6, "expert_dtype": "float32",
                                  "name": "p"}
    for kwargs, name in (({"num_experts": 0}, "num_experts"),
                         ({"teacher_dim": 2.5}, "teacher_dim"),
                         ({"expert_dtype": "float16"}, "loss scaling")):
        with pytest.raises(ValueError, match=name):
            ExpertProjector(**{"num_experts": 2, "teacher_dim": 4, **kwargs})
    with pytest.raises(ValueError, match="num_choices"):
        SelectionGate(0)


def test_inner_products_equal_those_of_the_projections():
    layer = projector()
    rows, per_row = 3, 4
    picks = RNG.integers(0, 7, (rows, per_row))
    queries = tf.Variable(RNG.standard_normal((rows, 6)), dtype=tf.float32)
    student, teacher = tf.gather(STUDENT, picks), tf.gather(TEACHER, picks)
    projected = features.project(layer, STUDENT.numpy()[picks.ravel()],
                                 TEACHER.numpy()[picks.ravel()], SEED).reshape(rows, per_row, 6)
    expected = np.einsum("bt,bnt->bn", queries.numpy(), projected)
    with tf.GradientTape() as tape:
        products = layer.inner_products(queries, student, teacher, SEED)
        loss = tf.reduce_sum(products * tf.range(per_row, dtype=tf.float32))
    np.testing.assert_allclose(products, expected, rtol=1e-4, atol=1e-5)
    with tf.GradientTape() as explicit_tape:
        explicit = tf.reshape(layer(tf.reshape(student, [-1, 3]), tf.reshape(teacher, [-1, 6]),
                                    SEED), [rows, per_row, 6])
        explicit_loss = tf.reduce_sum(tf.einsum("bt,bnt->bn", queries, explicit)
                                      * tf.range(per_row, dtype=tf.float32))
    variables = [queries] + layer.trainable_variables
    for got, want in zip(tape.gradient(loss, variables),
                         explicit_tape.gradient(explicit_loss, variables)):
        np.testing.assert_allclose(tf.convert_to_tensor(got), tf.convert_to_tensor(want),
                                   rtol=1e-4, atol=1e-5)
    graph = tf.function(layer.inner_products)(queries, student, teacher, SEED)
    np.testing.assert_allclose(graph, products, rtol=1e-5, atol=1e-6)


def test_first_call_builds_the_projector():
    layer = ExpertProjector(2, teacher_dim=6)
    assert layer(STUDENT, TEACHER, SEED).shape == (7, 6)
    assert layer.student_dim == 3 and len(layer.trainable_variables) == 6


def test_bfloat16_experts_match_numpy_to_bfloat16_precision_with_float32_weights():
    """bfloat16 keeps 8 significant bits: outputs and gradients within a few parts in 100 of
    the float64 reference and of the float32 layer's; weights and gradients stay float32."""
    exact, rounded = projector(), projector(expert_dtype="bfloat16")
    assert all(v.dtype == tf.float32 for v in rounded.weights)
    assert rounded.get_config()["expert_dtype"] == "bfloat16"
    reference = features.project(exact, STUDENT, TEACHER, SEED)
    projected = rounded(STUDENT, TEACHER, SEED)
    assert projected.dtype == tf.float32
    scale = np.abs(reference).max()
    np.testing.assert_allclose(projected, reference, atol=2e-2 * scale)
    graph = tf.function(lambda s, t, seed: rounded(s, t, seed))(STUDENT, TEACHER, SEED)
    np.testing.assert_allclose(graph, projected, rtol=1e-6)

    queries = tf.constant(RNG.standard_normal((7, 6)), tf.float32)
    student = tf.Variable(STUDENT)

    def gradients(layer):
        with tf.GradientTape() as tape:
            loss = (tf.reduce_sum(tf.square(layer(student, TEACHER, SEED)))
                    + tf.reduce_sum(layer.inner_products(queries, student[:, None],
                                                         TEACHER[:, None], SEED)))
        return loss, tape.gradient(loss, [student] + layer.trainable_variables)

    (exact_loss, exact_gradients), (loss, rounded_gradients) = map(gradients, (exact, rounded))
    np.testing.assert_allclose(loss, exact_loss, rtol=2e-2)
    for want, got in zip(exact_gradients, rounded_gradients):
        want, got = tf.convert_to_tensor(want).numpy(), tf.convert_to_tensor(got)
        assert got.dtype == tf.float32
        np.testing.assert_allclose(got, want, atol=3e-2 * np.abs(want).max())
