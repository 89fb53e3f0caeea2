"""The base class of every kdtfrs backbone: embeddings, scores and the base ranking loss."""

from __future__ import annotations

import tensorflow_recommenders as tfrs

from kdtfrs._keras import keras, tf
from kdtfrs.replicas import global_mean, global_step_logs, replica_count

LOSSES = ("bpr", "softmax")
#: Where ``l2`` applies: the rows a batch uses (default) or the whole tables at every step.
L2_FORMS = ("rows", "tables")


def _check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return value


class Recommender(tfrs.models.Model):
    """A user/item embedding model scored by dot product, trained with a sampled ranking loss.

    Teacher and student are the same class with different ``embedding_dim``. Subclasses define
    how the trainable layer-0 ("ego") tables become the final embeddings by overriding
    ``propagate``; the default (BPR-MF) uses the tables as they are.

    Scores are ``s_ui = <e_u, e_i>``. ``compute_loss`` takes a batch of
    ``kdtfrs.data.bpr_triples``: ``{"user": [B], "pos_item": [B], "neg_item": [B, n]}`` and
    returns, per example b = (u, i, j_1..j_n):

    - ``loss="bpr"`` (Rendle et al., UAI 2009):
      ``l_b = (1/n) sum_k -log sigmoid(s_ui - s_uj_k)``;
    - ``loss="softmax"`` (sampled softmax over the positive and the example's own n sampled
      negatives, no logQ correction since negatives are uniform):
      ``l_b = -s_ui + log(exp(s_ui) + sum_k exp(s_uj_k))``;

    plus an L2 penalty on the ego (layer-0) tables, in one of two forms (``l2_form``):

    - ``"rows"`` (default): the per-batch weight decay
      ``reg_b = l2 * (|e_u|^2 + |e_i|^2 + (1/n) sum_k |e_j_k|^2)`` on the rows example b uses
      (the LightGCN paper's regulariser), so a row decays only in the steps that use it;
    - ``"tables"``: ``reg = l2 * (||E_U||_F^2 + ||E_I||_F^2)`` over every row of both tables,
      once per step: the coupled decay the KDs reference code gets by passing
      ``weight_decay`` to PyTorch's Adam, which pulls every row toward 0 at every step. Its
      gradient reaches every row, so even ``LazyAdam`` then updates whole tables.

    The returned loss is the mean of ``l_b + reg_b`` over the *global* batch
    (``kdtfrs.replicas.global_mean``), right per replica under ``tf.distribute``, and a mean
    rather than the reference code's sum, so that the weights of terms added to it mean the
    same for any batch size; ``"tables"`` adds ``reg`` to that mean once per global step (each
    replica ``reg / replicas``).
    The epoch mean of ``l_b`` (without the decay) is recorded in the metric ``"<loss>_loss"``.

    Args:
      num_users: rows of the user table.
      num_items: rows of the item table.
      embedding_dim: width of both tables.
      loss: "bpr" or "softmax".
      l2: weight of the L2 term (>= 0).
      l2_form: "rows" (the rows each batch uses) or "tables" (whole tables, every step).
      init_stddev: standard deviation of the normal initialiser of both tables.
      seed: seed of the initialiser (None: random).
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int,
        loss: str = "bpr",
        l2: float = 0.0,
        init_stddev: float = 0.01,
        seed: int | None = None,
        l2_form: str = "rows",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.distribute_reduction_method = "first"  # every log is global: train_step
        self.num_users = _check_positive_int("num_users", num_users)
        self.num_items = _check_positive_int("num_items", num_items)
        self.embedding_dim = _check_positive_int("embedding_dim", embedding_dim)
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")
        if not l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {l2!r}.")
        if l2_form not in L2_FORMS:
            raise ValueError(f"l2_form must be one of {L2_FORMS}, got {l2_form!r}.")
        if not init_stddev > 0:
            raise ValueError(f"init_stddev must be > 0, got {init_stddev!r}.")
        self.loss_name = loss
        self.l2 = float(l2)
        self.l2_form = l2_form
        self.init_stddev = float(init_stddev)
        self.seed = seed
        item_seed = None if seed is None else seed + 1
        self.user_embedding = self.add_weight(
            name="user_embedding",
            shape=(num_users, embedding_dim),
            initializer=keras.initializers.RandomNormal(stddev=init_stddev, seed=seed),
        )
        self.item_embedding = self.add_weight(
            name="item_embedding",
            shape=(num_items, embedding_dim),
            initializer=keras.initializers.RandomNormal(stddev=init_stddev, seed=item_seed),
        )
        self.loss_tracker = keras.metrics.Mean(name=f"{loss}_loss")
        self._frozen_embeddings = None
        self.built = True

    def propagate(self, user_table, item_table, training: bool = False):
        """Final (user [U, d], item [I, d]) embeddings from the ego tables; identity here."""
        del training
        return user_table, item_table

    def embeddings(self, training: bool = False):
        """(user [U, d], item [I, d]) embeddings used for scoring (cached once frozen)."""
        if self._frozen_embeddings is not None:
            return self._frozen_embeddings
        return self.propagate(self.user_embedding, self.item_embedding, training=training)

    def score(self, users, items, embeddings=None, training: bool = False):
        """Scores [B, N] of each user ``users[b]`` with the items ``items[b, :]``.

        ``embeddings`` may pass a precomputed ``self.embeddings()`` pair to avoid recomputing it.
        """
        user_emb, item_emb = embeddings if embeddings is not None else self.embeddings(training)
        user_vectors = tf.gather(user_emb, users)
        item_vectors = tf.gather(item_emb, items)
        return tf.linalg.matvec(item_vectors, user_vectors)

    def score_all(self, users, embeddings=None, training: bool = False):
        """Scores [B, num_items] of the users against the whole catalogue."""
        user_emb, item_emb = embeddings if embeddings is not None else self.embeddings(training)
        return tf.matmul(tf.gather(user_emb, users), item_emb, transpose_b=True)

    def call(self, inputs, training: bool = False):
        """Keras entry point: ``score_all(users)`` for a tensor of users, or
        ``score(user, item)`` for a dict ``{"user": [B], "item": [B, N, ...]}`` (the plain Keras
        distillation path, ``kdtfrs.distill.signal_dataset``)."""
        if isinstance(inputs, dict):
            items = inputs["item"]
            if items.shape.rank == 2:
                return self.score(inputs["user"], items, training=training)
            shape = tf.shape(items)
            flat = tf.reshape(items, [shape[0], -1])
            return tf.reshape(self.score(inputs["user"], flat, training=training), shape)
        return self.score_all(inputs, training=training)

    def train_step(self, data):
        """TFRS training on BPR-triple dicts; Keras' own step on ``(inputs, y_true)`` pairs, so
        that ``compile(loss=kdtfrs.losses.RRDLoss())`` + ``fit(signal_dataset(...))`` works."""
        if not isinstance(data, tuple):  # every log global (kdtfrs.replicas)
            return global_step_logs(super().train_step(data))
        if self.compiled_loss is None:
            raise ValueError(
                "fit got (inputs, y_true) batches but no loss was compiled: call "
                "compile(optimizer=..., loss=kdtfrs.losses.RRDLoss()) (or another kdtfrs loss)."
            )
        inputs, targets, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            predictions = self(inputs, training=True)
            loss = self.compiled_loss(targets, predictions, sample_weight,
                                      regularization_losses=self.losses)
        self.optimizer.minimize(loss, self.trainable_variables, tape=tape)
        self.compiled_metrics.update_state(targets, predictions, sample_weight)
        return {metric.name: metric.result() for metric in self.metrics}

    def freeze(self) -> "Recommender":
        """Makes the model a fixed teacher: no trainable weights, embeddings computed once.

        The final embeddings (propagated, for graph models) are cached as constants and every
        later ``embeddings``/``score``/``score_all`` call reuses them. Returns ``self``.
        """
        user_emb, item_emb = self.embeddings(training=False)
        self._frozen_embeddings = (tf.identity(user_emb), tf.identity(item_emb))
        self.trainable = False
        return self

    @property
    def frozen(self) -> bool:
        return self._frozen_embeddings is not None

    def compute_loss(self, inputs, training: bool = False, embeddings=None):
        """The base ranking loss of a ``bpr_triples`` batch (class docstring), a scalar.

        ``embeddings`` may pass this step's ``self.embeddings(training)`` pair, computed once
        and shared with the distillation tasks (``kdtfrs.Distiller``).
        """
        users, pos_items, neg_items = self._unpack_triples(inputs)
        user_emb, item_emb = embeddings if embeddings is not None else self.embeddings(training)
        user_vectors = tf.gather(user_emb, users)
        pos_scores = tf.reduce_sum(user_vectors * tf.gather(item_emb, pos_items), axis=-1)
        neg_scores = tf.linalg.matvec(tf.gather(item_emb, neg_items), user_vectors)
        if self.loss_name == "bpr":
            per_example = tf.reduce_mean(
                tf.nn.softplus(neg_scores - pos_scores[:, None]), axis=-1
            )
        else:
            logits = tf.concat([pos_scores[:, None], neg_scores], axis=1)
            per_example = tf.reduce_logsumexp(logits, axis=1) - pos_scores
        self.loss_tracker.update_state(per_example)
        if self.l2 > 0 and self.l2_form == "rows":
            per_example += self.l2 * self._ego_squared_norms(users, pos_items, neg_items)
        loss = global_mean(per_example)
        if self.l2 > 0 and self.l2_form == "tables":
            loss += self.l2 * self._table_squared_norm() / replica_count()
        return loss

    def _table_squared_norm(self):
        """||E_U||_F^2 + ||E_I||_F^2 over the ego tables, a scalar."""
        return (tf.reduce_sum(tf.square(self.user_embedding))
                + tf.reduce_sum(tf.square(self.item_embedding)))

    def _ego_squared_norms(self, users, pos_items, neg_items):
        """|e_u|^2 + |e_i|^2 + mean_k |e_j_k|^2 over the ego (layer-0) rows, per example [B]."""
        user_rows = tf.gather(self.user_embedding, users)
        pos_rows = tf.gather(self.item_embedding, pos_items)
        neg_rows = tf.gather(self.item_embedding, neg_items)
        return (
            tf.reduce_sum(tf.square(user_rows), axis=-1)
            + tf.reduce_sum(tf.square(pos_rows), axis=-1)
            + tf.reduce_mean(tf.reduce_sum(tf.square(neg_rows), axis=-1), axis=-1)
        )

    @staticmethod
    def _unpack_triples(inputs):
        if not isinstance(inputs, dict) or not {"user", "pos_item", "neg_item"} <= inputs.keys():
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(
                "compute_loss expects a dict with keys 'user' [B], 'pos_item' [B] and "
                f"'neg_item' [B, n] (a kdtfrs.data.bpr_triples batch), got {got}."
            )
        neg_items = tf.convert_to_tensor(inputs["neg_item"])
        if neg_items.shape.rank == 1:
            neg_items = neg_items[:, None]
        return inputs["user"], inputs["pos_item"], neg_items

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "num_users": self.num_users,
            "num_items": self.num_items,
            "embedding_dim": self.embedding_dim,
            "loss": self.loss_name,
            "l2": self.l2,
            "init_stddev": self.init_stddev,
            "seed": self.seed,
            "l2_form": self.l2_form,
        }

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)
