"""A linear projector whose weight stays (semi-)orthogonal through training (VkD's projector).

Miles, Elezi and Deng, "VkD: Improving Knowledge Distillation using Orthogonal Projections",
CVPR 2024: the student's features are mapped to the teacher's space by an orthogonal linear
map, so the projection can rotate the student's features but neither stretch nor shrink them.
woriazzc/KDs builds it with ``torch.nn.utils.parametrizations.orthogonal`` on a bias-free
``Linear(d_S, d_T)``.
"""

from __future__ import annotations

from kdtfrs._keras import keras, tf
from kdtfrs.validation import check_number


class OrthogonalProjector(keras.layers.Layer):
    """``y = x W`` with ``W`` (semi-)orthogonal at every step: ``W Wᵀ = I`` when d_in <= d_out.

    Parametrisation (the exponential map of a skew-symmetric matrix, as PyTorch's
    ``orthogonal(..., orthogonal_map="matrix_exp")`` with a fixed base), with
    ``n = max(d_in, d_out)``:

        Q = Q_0 · expm(A − Aᵀ)          (n x n, orthogonal for every A)
        W = Q[:d_in, :d_out]            (d_in x d_out)

    ``A`` (n x n, starts at 0) is the trainable generator; ``Q_0`` is a random orthogonal base
    drawn once (non-trainable, saved with the layer). With d_in <= d_out the rows of ``W`` are
    orthonormal (``W Wᵀ = I_{d_in}``: the student's vectors keep their lengths and angles);
    with d_in > d_out its columns are (``Wᵀ W = I_{d_out}``). Because ``W`` is recomputed from
    ``A`` at every call, any optimizer step leaves it orthogonal up to float rounding (about
    1e-6); there is no projection or penalty to tune. Cost per call: one n x n matrix
    exponential (a few n x n matmuls).

    Example::

        projector = OrthogonalProjector(64)
        projector.build([None, 16])
        projector(tf.ones([3, 16]))         # [3, 64]

    Args:
      output_dim: the width d_out of the projected vectors (the teacher's width).
      seed: seed of the random orthogonal base ``Q_0`` (None: Keras' global seed).
      name: layer name.
    """

    def __init__(self, output_dim: int, seed: int | None = None, name: str | None = None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.output_dim = check_number("output_dim", output_dim, above=0, integer=True)
        if seed is not None:
            check_number("seed", seed, minimum=0, integer=True)
        self.seed = seed

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"{type(self).__name__} needs a known input width; got input shape "
                             f"{input_shape}.")
        self.input_dim = int(input_dim)
        size = max(self.input_dim, self.output_dim)
        self.base = self.add_weight(
            name="base", shape=[size, size], trainable=False,
            initializer=keras.initializers.Orthogonal(seed=self.seed))
        self.generator = self.add_weight(
            name="generator", shape=[size, size], trainable=True, initializer="zeros")
        super().build(input_shape)

    @property
    def kernel(self):
        """float32 [d_in, d_out]: the current (semi-)orthogonal weight ``W``."""
        skew = self.generator - tf.transpose(self.generator)
        rotation = tf.matmul(self.base, tf.linalg.expm(skew))
        return rotation[:self.input_dim, :self.output_dim]

    def call(self, inputs):
        return tf.matmul(inputs, self.kernel)

    def get_config(self):
        return {**super().get_config(), "output_dim": self.output_dim, "seed": self.seed}
