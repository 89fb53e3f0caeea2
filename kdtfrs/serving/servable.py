"""The served model: raw user ids in, the top-k raw item ids out, cold start answered.

``Servable`` is the ``tf.Module`` that ``kdtfrs.serving.export_saved_model`` saves. It holds
the student alone, frozen: the user table, an item search (``kdtfrs.serving.search``), the
raw-id maps, the items to exclude per user (CSR arrays) and the cold-start list. Its two
signatures:

- ``serving_default(examples: tf.string [B])``: serialized ``tf.Example`` protos, each with
  one ``user_id`` feature (``bytes_list`` for string ids, ``int64_list`` for integer ids),
  as TFX's Evaluator and TFMA send them;
- ``recommend(user_id: tf.string or tf.int64 [B])``: the raw ids themselves (REST clients).

Both return ``item_ids`` [B, k] (the raw item ids, of the data's type), ``scores`` float32
[B, k] (best first) and ``is_fallback`` bool [B]: true for a user id the model never saw,
whose list is the cold-start list (the most popular training items, their scores the
training interaction counts; or, without counts, the items best for the mean user).
"""

from __future__ import annotations

import numpy as np

from kdtfrs._keras import tf

USER_FEATURE = "user_id"
OUTPUTS = ("item_ids", "scores", "is_fallback")


def id_dtype(ids, what: str):
    """``tf.string`` or ``tf.int64``: the TensorFlow type of a raw-id array."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or not ids.size:
        raise ValueError(f"the raw {what} ids must be a non-empty 1-D array, got shape "
                         f"{ids.shape}.")
    if ids.dtype.kind in "USO":
        return tf.string
    if ids.dtype.kind in "iu":
        return tf.int64
    raise ValueError(f"the raw {what} ids must be strings or integers, got dtype {ids.dtype}.")


def id_tensor(ids, dtype):
    """A raw-id array as a constant of ``dtype`` (strings as UTF-8 bytes)."""
    ids = np.asarray(ids)
    if dtype == tf.string:
        return tf.constant([str(value).encode("utf-8") if not isinstance(value, bytes)
                            else value for value in ids.tolist()], tf.string)
    return tf.constant(ids.astype(np.int64), tf.int64)


class Servable(tf.Module):
    """A frozen recommender answering top-k requests by raw id (module docstring).

    Args:
      user_table: float32 [num_users, d], the final user embeddings.
      search: a ``kdtfrs.serving.search`` module over the final item embeddings.
      user_ids, item_ids: raw id of each user / item index (strings or integers).
      exclude: ``(indptr int64 [U + 1], indices int32 [nnz])``, the CSR rows of the items to
        leave out per user, or None.
      fallback: ``(items int32 [k], scores float32 [k])``, the cold-start list.
    """

    def __init__(self, user_table, search, user_ids, item_ids, exclude, fallback):
        super().__init__(name="kdtfrs_servable")
        user_table = np.asarray(user_table, np.float32)
        if user_table.shape[0] != len(user_ids):
            raise ValueError(f"{len(user_ids)} raw user ids for a user table of "
                             f"{user_table.shape[0]} rows: pass the ids of the model's data.")
        if search.num_items != len(item_ids):
            raise ValueError(f"{len(item_ids)} raw item ids for {search.num_items} items: "
                             "pass the ids of the model's data.")
        if len(np.unique(np.asarray(user_ids))) != len(user_ids):
            raise ValueError("the raw user ids are not unique: each user index needs its own "
                             "id.")
        self.user_id_dtype = id_dtype(user_ids, "user")
        self.item_id_dtype = id_dtype(item_ids, "item")
        self.k = search.k
        self.search = search
        self.user_table = tf.Variable(user_table, trainable=False, name="user_table")
        self.user_index = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                id_tensor(user_ids, self.user_id_dtype),
                tf.range(len(user_ids), dtype=tf.int64)),
            default_value=-1)
        self.item_ids = tf.Variable(id_tensor(item_ids, self.item_id_dtype), trainable=False,
                                    name="item_ids")
        self.excludes = exclude is not None
        if self.excludes:
            indptr, indices = exclude
            self.exclude_indptr = tf.Variable(np.asarray(indptr, np.int64), trainable=False,
                                              name="exclude_indptr")
            self.exclude_indices = tf.Variable(np.asarray(indices, np.int32), trainable=False,
                                               name="exclude_indices")
        fallback_items, fallback_scores = fallback
        self.fallback_items = tf.Variable(np.asarray(fallback_items, np.int32),
                                          trainable=False, name="fallback_items")
        self.fallback_scores = tf.Variable(np.asarray(fallback_scores, np.float32),
                                           trainable=False, name="fallback_scores")

        self.recommend = tf.function(
            self._recommend,
            input_signature=[tf.TensorSpec([None], self.user_id_dtype, name=USER_FEATURE)])
        self.serving_default = tf.function(
            self._serving_default,
            input_signature=[tf.TensorSpec([None], tf.string, name="examples")])

    def signatures(self) -> dict:
        return {"serving_default": self.serving_default.get_concrete_function(),
                "recommend": self.recommend.get_concrete_function()}

    def feature_spec(self) -> dict:
        """The ``tf.io.parse_example`` spec of the request examples."""
        return {USER_FEATURE: tf.io.FixedLenFeature([], self.user_id_dtype)}

    def _serving_default(self, examples):
        features = tf.io.parse_example(examples, self.feature_spec())
        return self._recommend(features[USER_FEATURE])

    def _recommend(self, user_id):
        users = self.user_index.lookup(user_id)
        known = users >= 0
        rows, items = self._excluded(users, known)
        queries = tf.gather(self.user_table, tf.maximum(users, 0))
        queries = tf.where(known[:, None], queries, tf.zeros_like(queries))
        found, scores = self.search(queries, rows, items)
        batch = tf.shape(users)[0]
        fallback_items = tf.tile(self.fallback_items[None, :], [batch, 1])
        fallback_scores = tf.tile(self.fallback_scores[None, :], [batch, 1])
        found = tf.where(known[:, None], found, fallback_items)
        scores = tf.where(known[:, None], scores, fallback_scores)
        return {"item_ids": tf.gather(self.item_ids, found), "scores": scores,
                "is_fallback": tf.logical_not(known)}

    def _excluded(self, users, known):
        """(row of the batch, item) of every item to leave out, from the CSR rows (None,
        None when the export excludes nothing)."""
        if not self.excludes:
            return None, None
        safe = tf.maximum(users, 0)
        starts = tf.gather(self.exclude_indptr, safe)
        ends = tf.where(known, tf.gather(self.exclude_indptr, safe + 1), starts)
        offsets = tf.ragged.range(starts, ends)
        rows = tf.cast(offsets.value_rowids(), tf.int32)
        return rows, tf.gather(self.exclude_indices, offsets.flat_values)


__all__ = ["OUTPUTS", "Servable", "USER_FEATURE", "id_dtype", "id_tensor"]
