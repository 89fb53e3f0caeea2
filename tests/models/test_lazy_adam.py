"""LazyAdam: row-wise Adam on sparse gradients, ordinary Adam on dense ones."""

import numpy as np

from kdtfrs._keras import keras, tf
from kdtfrs.models import LazyAdam

BETA_1, BETA_2, EPSILON, LR = 0.9, 0.999, 1e-7, 0.1


def lazy_adam_reference(table, steps):
    """NumPy LazyAdam: ``steps`` is a list of (rows, summed row gradients)."""
    table, m, v = table.copy(), np.zeros_like(table), np.zeros_like(table)
    for t, (rows, gradient) in enumerate(steps, start=1):
        m[rows] = BETA_1 * m[rows] + (1 - BETA_1) * gradient
        v[rows] = BETA_2 * v[rows] + (1 - BETA_2) * gradient**2
        alpha = LR * np.sqrt(1 - BETA_2**t) / (1 - BETA_1**t)
        table[rows] -= alpha * m[rows] / (np.sqrt(v[rows]) + EPSILON)
    return table


def test_sparse_updates_touch_only_the_batch_rows():
    rng = np.random.default_rng(0)
    initial = rng.normal(size=(6, 3)).astype(np.float32)
    variable = tf.Variable(initial)
    optimizer = LazyAdam(LR, jit_compile=False)
    batches = [np.array([1, 4, 1]), np.array([4, 5])]
    reference_steps = []
    for rows in batches:
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.gather(variable, rows) ** 2 * np.arange(1, 4))
        gradient = tape.gradient(loss, variable)
        assert isinstance(gradient, tf.IndexedSlices)
        dense = tf.convert_to_tensor(gradient).numpy()
        unique = np.unique(rows)
        reference_steps.append((unique, dense[unique]))
        optimizer.apply_gradients([(gradient, variable)])
    expected = lazy_adam_reference(initial, reference_steps)
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(variable.numpy()[[0, 2, 3]], initial[[0, 2, 3]])


def test_dense_gradients_follow_keras_adam():
    initial = np.random.default_rng(1).normal(size=(4, 2)).astype(np.float32)
    lazy, plain = tf.Variable(initial), tf.Variable(initial)
    lazy_optimizer = LazyAdam(LR, jit_compile=False)
    plain_optimizer = keras.optimizers.Adam(LR, jit_compile=False)
    for step in range(3):
        gradient = tf.constant(initial * (step + 1))
        lazy_optimizer.apply_gradients([(gradient, lazy)])
        plain_optimizer.apply_gradients([(gradient, plain)])
    np.testing.assert_allclose(lazy.numpy(), plain.numpy(), rtol=1e-6)


def test_get_config_round_trip():
    optimizer = LazyAdam(0.01, beta_1=0.8, amsgrad=True)
    config = optimizer.get_config()
    assert config["name"] == "LazyAdam"
    assert LazyAdam.from_config(config).get_config() == config
    serialized = keras.optimizers.serialize(optimizer)
    assert isinstance(keras.optimizers.deserialize(serialized), LazyAdam)
