"""The one view of a model that distillation needs: user and item embeddings scored by dot product.

Tasks (``kdtfrs.tasks``), teacher signals and the ranking helpers never see a kdtfrs backbone,
only an :class:`Embeddings`: the final user and item vectors of one model at one training step.
It is built from whatever the model is:

    Embeddings.of(recommender, training=True)      # a kdtfrs backbone (LightGCN propagates once)
    Embeddings.from_tables(user_table, item_table) # any [U, d] / [I, d] tensors
    Embeddings.from_towers(query_model, candidate_model, num_users, num_items)  # a two-tower
                                                   # tfrs.Model: ids -> vectors
    Embeddings.frozen(teacher)                     # constants, computed once; the model is
                                                   # left exactly as it was

Scores are ``s_ui = <e_u, e_i>``.
"""

from __future__ import annotations

import functools

from kdtfrs._keras import tf
from kdtfrs.gathered_scores import gathered_scores


class Embeddings:
    """User and item vectors of one model, looked up by index and scored by dot product.

    Args:
      user_vectors: callable int ids [...] -> float32 [..., d].
      item_vectors: callable int ids [...] -> float32 [..., d].
      num_users: number of user indices (0..num_users-1).
      num_items: number of item indices.
      dim: the embedding width d.
    """

    def __init__(self, user_vectors, item_vectors, num_users: int, num_items: int, dim: int):
        self._user_vectors = user_vectors
        self._item_vectors = item_vectors
        self.num_users = int(num_users)
        self.num_items = int(num_items)
        self.dim = int(dim)
        self._tables = None
        self._product_gradient = False

    # -- constructors ------------------------------------------------------------------------
    @classmethod
    def from_tables(cls, user_table, item_table, product_gradient=True) -> "Embeddings":
        """Rows of two [U, d] and [I, d] tensors (or variables); gradients flow into them.

        With ``product_gradient`` (default), ``score`` sends the item table its gradient as
        one sparse-dense product over the items touched (``kdtfrs.gathered_scores``) rather
        than a row per score; it cannot be compiled with XLA: pass False inside a
        ``jit_compile`` function.
        """
        if user_table.shape[-1] != item_table.shape[-1]:
            raise ValueError(
                f"user and item embeddings must have the same width, got {user_table.shape} "
                f"and {item_table.shape}."
            )
        view = cls(functools.partial(tf.gather, user_table),
                   functools.partial(tf.gather, item_table),
                   user_table.shape[0], item_table.shape[0], user_table.shape[-1])
        view._tables = (user_table, item_table)
        view._product_gradient = bool(product_gradient)
        return view

    @classmethod
    def from_towers(cls, user_tower, item_tower, num_users: int, num_items: int) -> "Embeddings":
        """A two-tower model: ``user_tower(user_ids)`` and ``item_tower(item_ids)`` give vectors.

        The towers are called on the index tensors the tasks hold (int32); the width is read
        from one call.
        """
        dim = int(item_tower(tf.zeros([1], tf.int32)).shape[-1])
        return cls(user_tower, item_tower, num_users, num_items, dim)

    @classmethod
    def of(cls, model, training: bool = False) -> "Embeddings":
        """The embeddings of a kdtfrs ``Recommender`` (one propagation), or ``model`` itself."""
        if isinstance(model, Embeddings):
            return model
        return cls.from_tables(*model.embeddings(training=training))

    @classmethod
    def frozen(cls, model) -> "Embeddings":
        """Constant embeddings of ``model`` as it is now (no gradient; the model is untouched).

        A graph model (LightGCN) propagates once here, never again.
        """
        user_table, item_table = cls.of(model).tables()
        return cls.from_tables(tf.constant(user_table), tf.constant(item_table))

    # -- lookups and scores ------------------------------------------------------------------
    def users(self, ids):
        """float32 [..., d]: the vectors of the user indices ``ids``."""
        return self._user_vectors(tf.convert_to_tensor(ids, tf.int32))

    def items(self, ids):
        """float32 [..., d]: the vectors of the item indices ``ids``."""
        return self._item_vectors(tf.convert_to_tensor(ids, tf.int32))

    def tables(self):
        """(user [U, d], item [I, d]): every user's and item's vector.

        Towers are called anew each time (their weights may have changed since the last call).
        """
        if self._tables is not None:
            return self._tables
        return self.users(tf.range(self.num_users)), self.items(tf.range(self.num_items))

    def score(self, users, items):
        """float32 [B, N]: ``<e_{users[b]}, e_{items[b, n]}>``."""
        if self._product_gradient:
            return gathered_scores(*self._tables, users, items)
        return tf.linalg.matvec(self.items(items), self.users(users))

    def score_all(self, users):
        """float32 [B, num_items]: the users against the whole catalogue."""
        return tf.matmul(self.users(users), self.tables()[1], transpose_b=True)

    def transposed(self) -> "Embeddings":
        """The same vectors with users and items swapped (items rank users: IR-RRD, DCD)."""
        view = Embeddings(self._item_vectors, self._user_vectors, self.num_items,
                          self.num_users, self.dim)
        if self._tables is not None:
            view._tables = self._tables[::-1]
            view._product_gradient = self._product_gradient
        return view

    def restricted_to_items(self, columns) -> "Embeddings":
        """Only the items ``columns`` (re-indexed 0..len-1 in the given order)."""
        columns = tf.constant(columns, tf.int32)
        user_table, item_table = self.tables()
        return Embeddings.from_tables(user_table, tf.gather(item_table, columns),
                                      self._product_gradient)
