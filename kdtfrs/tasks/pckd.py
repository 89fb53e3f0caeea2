"""PCKD: preference-consistent distillation (Zhu & Zhang, TKDE 2025, arXiv 2311.04549)."""

from __future__ import annotations

from kdtfrs import samplers
from kdtfrs._keras import tf
from kdtfrs.tasks.base import check_list_length
from kdtfrs.tasks.de import DE
from kdtfrs.validation import check_number

REGULARISERS = ("pair", "list", "hybrid")


def list_consistency(pre, post, tau):
    """float32 [B]: ``−Σ_q softmax(pre/τ)_q · log softmax(post/τ)_q`` over the Q columns."""
    return -tf.reduce_sum(tf.nn.softmax(pre / tau, axis=-1)
                          * tf.nn.log_softmax(post / tau, axis=-1), axis=-1)


def pair_consistency(pre, post):
    """float32 [B]: ``−log σ((b_i − b_j)(a_i − a_j))`` of the first two columns i, j."""
    return -tf.math.log_sigmoid((post[:, 0] - post[:, 1]) * (pre[:, 0] - pre[:, 1]))


class PCKD(DE):
    """DE plus a regulariser that keeps the projectors from changing the student's preferences.

        L = L_DE + α · R

    ``L_DE`` is ``kdtfrs.tasks.DE``'s loss (unique entities). R compares, for each batch row
    (duplicate users kept, as in the reference), the student's scores before projection with
    the scores after it, both on *detached* student embeddings (R trains only the projectors
    and their gates, never the student):

        a_ui = <sg(e^S_u), sg(e^S_i)>,    b_ui = <P_U(sg(e^S_u)), P_I(sg(e^S_i))>

    over Q items per row drawn from the teacher's top-``max_rank`` list of the row's user,
    without replacement with p(r) ∝ exp(−(r+1)/T_s) (rank-aware sampling; ``exclude_train=False``
    keeps training positives in the list, as the reference does):

    - ``"list"``: ``R = −Σ_q softmax(a_u·/τ)_q log softmax(b_u·/τ)_q`` (the paper's Eq. 5);
    - ``"pair"``: ``R = −log σ((b_ui − b_uj)(a_ui − a_uj))`` for the first two items drawn
      (Eq. 3; only those two are drawn);
    - ``"hybrid"``: ``R = pair_weight · R_pair + list_weight · R_list`` with the pair drawn
      first among the row's Q items. This combination is our reading of the paper: its Eq. 8
      and the pair's sampling distributions were not retrievable and are in no released code.

    Zhu and Zhang, "Preference-Consistent Knowledge Distillation for Recommender System" (TKDE
    2025); woriazzc/KDs class ``CPD`` (pair and list, teacher-guided rank sampling).
    Differences: items are drawn per row and step (KDs: per user and epoch); Gumbel noise is
    active in the regulariser's projections, as in KDs.

    Reduction: ``weight · (L_DE-per-row + α R_row)`` averaged over the B rows, so ``weight``
    and ``alpha`` are KDs' λ and α unchanged (KDs sums both over the batch).

    Example::

        task = PCKDList(weight=0.05, alpha=0.1)

    Args:
      weight: λ; default 0.05 (KDs citeulike/bpr).
      regulariser: "list" (default, every KDs config), "pair" or "hybrid".
      alpha: α, the regulariser's weight inside the task; default 0.1.
      num_samples: Q, items per row; default 5.
      tau: τ of the list-wise softmaxes; default 0.1.
      sample_temperature: T_s of rank-aware sampling; default 10.
      max_rank: mxK, the teacher list's length; default 100.
      pair_weight, list_weight: the hybrid's weights (only with ``regulariser="hybrid"``).
      num_experts, max_epochs, end_temperature: as ``DE`` (E default 30).
      exclude_train: mask training items out of the teacher's list; default False (KDs).
      name: metric name; default the method id.
      expert_dtype: the experts' products, "float32" (default) or "bfloat16" (as ``DE``).
    """

    method_id = "pckd"

    def __init__(self, weight: float = 0.05, regulariser: str = "list", alpha: float = 0.1,
                 num_samples: int = 5, tau: float = 0.1, sample_temperature: float = 10.0,
                 max_rank: int = 100, pair_weight: float = 1.0, list_weight: float = 1.0,
                 num_experts: int = 30, max_epochs: int = 1000, end_temperature: float = 1e-10,
                 exclude_train: bool = False, name: str | None = None,
                 expert_dtype: str = "float32"):
        super().__init__(weight, num_experts, max_epochs, end_temperature, exclude_train, name,
                         expert_dtype)
        if regulariser not in REGULARISERS:
            raise ValueError(f"`regulariser` must be one of {REGULARISERS}; received "
                             f"regulariser={regulariser!r}.")
        self.regulariser = regulariser
        self.alpha = check_number("alpha", alpha, minimum=0)
        self.num_samples = check_number("num_samples", num_samples, minimum=2, integer=True)
        self.tau = check_number("tau", tau, above=0)
        self.sample_temperature = check_number("sample_temperature", sample_temperature,
                                               above=0)
        self.max_rank = check_number("max_rank", max_rank, above=0, integer=True)
        if self.num_samples > self.max_rank:
            raise ValueError(
                f"`num_samples` ({num_samples}) must not exceed max_rank ({max_rank}): items are "
                "drawn without replacement from the teacher's top-max_rank list.")
        self.pair_weight = check_number("pair_weight", pair_weight, minimum=0)
        self.list_weight = check_number("list_weight", list_weight, minimum=0)
        if regulariser != "hybrid" and (self.pair_weight, self.list_weight) != (1.0, 1.0):
            raise ValueError("`pair_weight` and `list_weight` weigh the hybrid regulariser only; "
                             f"received pair_weight={pair_weight!r}, list_weight={list_weight!r}"
                             f" with regulariser={regulariser!r}.")
        self.ranked = None

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        ranked = signals.top_items(self.max_rank, self.exclude_train)
        check_list_length("num_samples", self.num_samples, ranked.shape[1])
        self.ranked = tf.constant(ranked)

    # -- per batch -------------------------------------------------------------------------------
    def sampled_items(self, users, seed):
        """int32 [B, n]: items of the users' teacher lists drawn with p(r) ∝ exp(−(r+1)/T_s).

        Without replacement, in the order drawn (Gumbel top-k); n = 2 for "pair", else Q.
        """
        self._require_prepared()
        count = 2 if self.regulariser == "pair" else self.num_samples
        positions = samplers.rank_aware_positions(
            tf.shape(users)[0], int(self.ranked.shape[1]), count, self.sample_temperature, seed,
            list_order=False)
        return samplers.lookup_positions(self.ranked, users, positions)

    def scores_before_and_after(self, users, items, student, seed):
        """(a float32 [B, n], b float32 [B, n]): student scores before and after projection.

        Both use stop-gradient student vectors: only projectors and gates get gradients. The
        items' projections are never formed: ``ExpertProjector.inner_products`` takes ``b``
        through the projected user, a fraction of the cost for n of 2 or more.
        """
        user_seed, item_seed = tf.unstack(samplers.split_seed(seed, 2))
        user_vectors = tf.stop_gradient(student.users(users))
        item_vectors = tf.stop_gradient(student.items(items))
        teacher_users = tf.stop_gradient(self.teacher.users(users))
        teacher_items = tf.stop_gradient(self.teacher.items(items))
        before = tf.einsum("bd,bnd->bn", user_vectors, item_vectors)
        projected_users = self.user_projector(user_vectors, teacher_users, user_seed)
        after = self.item_projector.inner_products(projected_users, item_vectors,
                                                   teacher_items, item_seed)
        return before, after

    def regulariser_loss(self, features, student, seed):
        """float32 [B]: R of each row (unweighted)."""
        sample_seed, projection_seed = tf.unstack(samplers.split_seed(seed, 2))
        users = features["user"]
        items = self.sampled_items(users, sample_seed)
        before, after = self.scores_before_and_after(users, items, student, projection_seed)
        if self.regulariser == "list":
            return list_consistency(before, after, self.tau)
        if self.regulariser == "pair":
            return pair_consistency(before, after)
        return (self.pair_weight * pair_consistency(before, after)
                + self.list_weight * list_consistency(before, after, self.tau))

    def per_row_loss(self, features, student, seed):
        de_seed, regulariser_seed = tf.unstack(samplers.split_seed(seed, 2))
        return (self.de_loss(features, student, de_seed)
                + self.alpha * self.regulariser_loss(features, student, regulariser_seed))

    def get_config(self):
        return {**super().get_config(), "regulariser": self.regulariser, "alpha": self.alpha,
                "num_samples": self.num_samples, "tau": self.tau,
                "sample_temperature": self.sample_temperature, "max_rank": self.max_rank,
                "pair_weight": self.pair_weight, "list_weight": self.list_weight}


class _FixedRegulariser(PCKD):
    """A PCKD whose regulariser is set by its class (one method id per regulariser)."""

    fixed_regulariser = ""

    def __init__(self, **hyperparameters):
        if "regulariser" in hyperparameters:
            raise TypeError(f"{type(self).__name__} always uses regulariser="
                            f"{self.fixed_regulariser!r}; use PCKD(regulariser=...) to choose.")
        super().__init__(regulariser=self.fixed_regulariser, **hyperparameters)

    def get_config(self):
        config = super().get_config()
        del config["regulariser"]
        return config


class PCKDList(_FixedRegulariser):
    """PCKD with the list-wise regulariser (method id "pckd_list"); arguments as ``PCKD``."""

    method_id = "pckd_list"
    fixed_regulariser = "list"


class PCKDPair(_FixedRegulariser):
    """PCKD with the pair-wise regulariser (method id "pckd_pair"); arguments as ``PCKD``."""

    method_id = "pckd_pair"
    fixed_regulariser = "pair"


class PCKDHybrid(_FixedRegulariser):
    """PCKD with ``pair_weight · R_pair + list_weight · R_list`` (method id "pckd_hybrid").

    Arguments as ``PCKD``; the combination is unverified (see ``PCKD``).
    """

    method_id = "pckd_hybrid"
    fixed_regulariser = "hybrid"
