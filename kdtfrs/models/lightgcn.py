"""LightGCN: linear propagation of ID embeddings over the user-item graph."""

from __future__ import annotations

import numpy as np

from kdtfrs._keras import keras, tf
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.models.base import Recommender


def normalized_adjacency(train: InteractionMatrix) -> tf.sparse.SparseTensor:
    """The symmetric normalised bipartite adjacency ``D^-1/2 A D^-1/2`` of the training graph.

    Nodes are the users ``0..U-1`` followed by the items ``U..U+I-1``;
    ``A = [[0, R], [R^T, 0]]`` for the binary interaction matrix R, and the entry of an
    interaction (u, i) is ``1 / sqrt(|N_u| |N_i|)``. Nodes without interactions have no entry.
    Built from the CSR arrays with NumPy (2 * nnz entries, never a dense (U+I)^2 matrix) and
    returned in canonical (row-major) order, float32, shape [U + I, U + I].
    """
    num_users = train.num_users
    users, items = train.to_pairs()
    weights = 1.0 / np.sqrt(train.row_lengths()[users] * train.item_popularity()[items])
    item_major = np.lexsort((users, items))
    rows = np.concatenate([users, items[item_major] + num_users])
    cols = np.concatenate([items + num_users, users[item_major]])
    values = np.concatenate([weights, weights[item_major]]).astype(np.float32)
    size = num_users + train.num_items
    return tf.sparse.SparseTensor(
        indices=np.stack([rows, cols], axis=1), values=values, dense_shape=(size, size)
    )


@keras.utils.register_keras_serializable(package="kdtfrs")
class LightGCN(Recommender):
    """LightGCN (He et al., "LightGCN: Simplifying and Powering Graph Convolution Network for
    Recommendation", SIGIR 2020).

    With ``E^(0) = [E_users; E_items]`` the trainable ego tables and ``Â`` the
    ``normalized_adjacency`` of ``train_matrix``:

        E^(k+1) = Â E^(k),    E = (1 / (L + 1)) sum_{k=0..L} E^(k),    s_ui = <e_u, e_i>.

    Every training step propagates the whole graph (``L`` sparse-dense products), so gradients
    are dense; ``freeze()`` propagates once and caches the result for a teacher. The ``l2``
    decay applies to the ego rows of the batch by default, as in the paper. Init N(0, 0.1^2)
    (METHODS 1.4).

    Args:
      num_users, num_items, embedding_dim: see ``Recommender`` (also ``loss``, ``l2``,
        ``l2_form``, ``seed``).
      train_matrix: the training ``InteractionMatrix`` [num_users, num_items] that defines
        the graph (or its ``get_config`` form, a dict of CSR lists). ``get_config`` carries
        it, so ``from_config`` and ``keras.models.load_model`` rebuild the same model alone.
      num_layers: L, the number of propagation layers (0 gives matrix factorisation).
      init_stddev: normal initialiser std, default 0.1.
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int,
        train_matrix: InteractionMatrix,
        num_layers: int = 3,
        init_stddev: float = 0.1,
        **kwargs,
    ):
        super().__init__(num_users, num_items, embedding_dim, init_stddev=init_stddev, **kwargs)
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 0:
            raise ValueError(f"num_layers must be a non-negative integer, got {num_layers!r}.")
        if not isinstance(train_matrix, InteractionMatrix):
            raise TypeError(
                "train_matrix must be a kdtfrs.data.InteractionMatrix, got "
                f"{type(train_matrix).__name__}."
            )
        if (train_matrix.num_users, train_matrix.num_items) != (num_users, num_items):
            raise ValueError(
                f"train_matrix has shape ({train_matrix.num_users}, {train_matrix.num_items}) "
                f"but the model has num_users={num_users}, num_items={num_items}; build the "
                "model with the sizes of the split it is trained on."
            )
        self.num_layers = num_layers
        self.train_matrix = train_matrix
        self.adjacency = normalized_adjacency(train_matrix)

    def propagate(self, user_table, item_table, training: bool = False):
        """Layer mean of ``Â^k E^(0)`` for k = 0..L, split back into (users, items)."""
        del training
        layer = tf.concat([user_table, item_table], axis=0)
        total = layer
        for _ in range(self.num_layers):
            layer = tf.sparse.sparse_dense_matmul(self.adjacency, layer)
            total += layer
        mean = total / float(self.num_layers + 1)
        return mean[: self.num_users], mean[self.num_users :]

    def get_config(self) -> dict:
        graph = self.train_matrix
        return {**super().get_config(), "num_layers": self.num_layers,
                "train_matrix": {"num_users": graph.num_users, "num_items": graph.num_items,
                                 "indptr": graph.indptr.tolist(),
                                 "indices": graph.indices.tolist()}}

    @classmethod
    def from_config(cls, config: dict):
        if "train_matrix" not in config:
            raise ValueError(
                "LightGCN.from_config needs the training graph, which a config saved by an older "
                "kdtfrs lacks: call it with {**config, 'train_matrix': split.train}."
            )
        config = dict(config)
        graph = config["train_matrix"]
        if isinstance(graph, dict):
            config["train_matrix"] = InteractionMatrix(
                np.asarray(graph["indptr"], np.int64), np.asarray(graph["indices"], np.int32),
                int(graph["num_users"]), int(graph["num_items"]))
        return cls(**config)

