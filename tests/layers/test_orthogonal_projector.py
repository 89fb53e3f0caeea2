"""OrthogonalProjector: W = (Q_0 expm(A - Aᵀ))[:d_in, :d_out] stays orthogonal while it learns."""

import numpy as np
import pytest

from kdtfrs._keras import keras, tf
from kdtfrs.layers.orthogonal_projector import OrthogonalProjector


def numpy_expm(matrix, terms=30):
    """exp(matrix) in float64 by scaling and squaring a Taylor series (independent of TF)."""
    squarings = max(0, int(np.ceil(np.log2(max(np.abs(matrix).sum(1).max(), 1e-12) / 0.25))))
    scaled = matrix / 2.0 ** squarings
    result, term = np.eye(len(matrix)), np.eye(len(matrix))
    for k in range(1, terms):
        term = term @ scaled / k
        result = result + term
    for _ in range(squarings):
        result = result @ result
    return result


def built(input_dim, output_dim, seed=0):
    projector = OrthogonalProjector(output_dim, seed=seed)
    projector.build([None, input_dim])
    return projector


def randomised(projector, seed=1):
    """Sets the generator A to random values (scale 0.3), so W is far from the base."""
    rng = np.random.default_rng(seed)
    projector.generator.assign(0.3 * rng.standard_normal(projector.generator.shape))
    return projector


@pytest.mark.parametrize("input_dim, output_dim", [(3, 7), (5, 5), (6, 2)])
def test_kernel_is_the_exponential_map_and_orthogonal(input_dim, output_dim):
    projector = randomised(built(input_dim, output_dim))
    base = projector.base.numpy().astype(np.float64)
    generator = projector.generator.numpy().astype(np.float64)
    expected = (base @ numpy_expm(generator - generator.T))[:input_dim, :output_dim]
    kernel = projector.kernel.numpy()
    np.testing.assert_allclose(kernel, expected, atol=1e-5)
    small = min(input_dim, output_dim)
    gram = kernel @ kernel.T if input_dim <= output_dim else kernel.T @ kernel
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-5)
    inputs = np.random.default_rng(2).standard_normal((4, 2, input_dim)).astype(np.float32)
    np.testing.assert_allclose(projector(inputs).numpy(), inputs @ expected, atol=1e-5)


def test_projection_keeps_lengths_and_angles_of_the_student():
    projector = randomised(built(4, 9))
    inputs = np.random.default_rng(3).standard_normal((6, 4)).astype(np.float32)
    outputs = projector(inputs).numpy()
    np.testing.assert_allclose(outputs @ outputs.T, inputs @ inputs.T, atol=1e-4)


def test_starts_at_its_base_and_only_the_generator_trains():
    projector = built(3, 5)
    np.testing.assert_allclose(projector.kernel.numpy(), projector.base.numpy()[:3, :5],
                               atol=1e-6)
    assert [v.name.split("/")[-1] for v in projector.trainable_variables] == ["generator:0"]
    assert [v.name.split("/")[-1] for v in projector.non_trainable_variables] == ["base:0"]
    np.testing.assert_allclose(built(3, 5, seed=4).base.numpy(),
                               built(3, 5, seed=4).base.numpy())


def test_stays_orthogonal_while_it_learns_a_rotation():
    """Adam with a large step fits a random semi-orthogonal target; W Wᵀ = I at every step."""
    projector = built(4, 8, seed=0)
    rng = np.random.default_rng(5)
    target, _ = np.linalg.qr(rng.standard_normal((8, 4)))
    target = target.T.astype(np.float32)  # [4, 8], orthonormal rows
    inputs = rng.standard_normal((32, 4)).astype(np.float32)
    optimizer = keras.optimizers.Adam(0.1)
    losses = []
    for _ in range(30):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(projector(inputs) - inputs @ target))
        gradients = tape.gradient(loss, projector.trainable_variables)
        assert all(np.all(np.isfinite(g.numpy())) for g in gradients)
        optimizer.apply_gradients(zip(gradients, projector.trainable_variables))
        kernel = projector.kernel.numpy()
        np.testing.assert_allclose(kernel @ kernel.T, np.eye(4), atol=1e-5)
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]


def test_config_round_trip_and_argument_errors():
    projector = OrthogonalProjector(6, seed=3, name="p")
    config = projector.get_config()
    assert config["output_dim"] == 6 and config["seed"] == 3
    assert OrthogonalProjector.from_config(config).get_config() == config
    with pytest.raises(ValueError, match=r"output_dim.*received output_dim=0"):
        OrthogonalProjector(0)
    with pytest.raises(ValueError, match=r"seed.*received seed=-1"):
        OrthogonalProjector(3, seed=-1)
