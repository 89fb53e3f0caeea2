"""BPR-MF: matrix factorisation trained with a sampled ranking loss."""

from kdtfrs._keras import keras
from kdtfrs.models.base import Recommender


@keras.utils.register_keras_serializable(package="kdtfrs")
class BPRMF(Recommender):
    """Matrix factorisation ``s_ui = <p_u, q_i>`` (Rendle et al., "BPR: Bayesian Personalized
    Ranking from Implicit Feedback", UAI 2009).

    The embeddings are the trainable tables themselves, so a training step touches only the
    rows of the batch: the gradients are ``tf.IndexedSlices``. Keras ``Adam`` still updates its
    two moment slots and the whole table densely on every step (see
    ``kdtfrs.models.LazyAdam``, which updates only the rows of the batch).

    Arguments as ``Recommender``; ``init_stddev`` defaults to 0.01 as in the reference code
    (METHODS.md 1.4).

    Example:
      >>> model = BPRMF(num_users=100, num_items=50, embedding_dim=8)
      >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
      >>> model.fit(kdtfrs.data.bpr_triples(train, batch_size=2048), epochs=10)  # doctest: +SKIP
    """
