"""IR-RRD: item-side ranking regularised distillation (Kang et al., Information Sciences 2021)."""

from kdtfrs import samplers
from kdtfrs._keras import tf
from kdtfrs.embeddings import Embeddings
from kdtfrs.tasks.base import check_list_length
from kdtfrs.tasks.rrd import RRD, leave_room, list_exclusion, relaxed_ranking_targets
from kdtfrs.tasks.unique_entities import sum_on_rows, unique_with_rows
from kdtfrs.signals import transpose
from kdtfrs.validation import check_number

#: The items IR-RRD ranks users for: each row's positive item, or the paper's set.
ITEM_SETS = ("positives", "paper")


class IRRRD(RRD):
    """User-side RRD plus an item-side relaxed ranking over users.

    Item side: for the positive item i of each row, ``item_interesting`` users drawn from the
    teacher's top-``max_rank`` users of i (training users excluded; cut by ``leave_room``) with
    p(r) ~ exp(-(r+1)/item_temperature), kept in teacher order, and ``item_uninteresting``
    users uniform over the users neither in that list nor among i's training users; the RRD
    loss is applied with users in place of items:

        IR(i) = -sum_k [ s_{v_k,i} - log( sum_{l>=k} e^{s_{v_l,i}} + sum_{w in N_i} e^{s_{w,i}} ) ]

    ``L = L_BPR + weight * URRD + item_weight * IR``.

    Which items the item side ranks users for (``item_set``):

    - "positives" (default): the batch's positive items, one per row, so the item side costs
      what the user side does: ``IR`` averaged over the rows.
    - "paper": as the paper, every item of ``I* = unique(interesting ∪ uninteresting)``, the
      items the user side drew for the batch, each once: ``Σ_{i∈I*} IR(i) / B`` (the
      reference's sum divided by the batch, as kdtfrs' per-row λ). |I*| can reach
      ``B·(K + L)`` items (or the catalogue), so it costs up to ``(K+L)·(K_I+L_I)/(K+L)``
      times the user side; ``item_weight`` is then the paper's λ_IR unchanged.

    Defaults: the IR-RRD paper (lambda_U 1e-3, K 40, L 40, T 10; lambda_IR 5e-4, K_I 20,
    L_I 20, T_I 10).
    """

    method_id = "ir_rrd"

    def __init__(self, weight=0.001, num_interesting=40, num_uninteresting=40, temperature=10.0,
                 max_rank=500, item_weight=0.0005, item_interesting=20, item_uninteresting=20,
                 item_temperature=10.0, exclude_train=True, name=None, item_set="positives"):
        super().__init__(weight, num_interesting, num_uninteresting, temperature, max_rank,
                         exclude_train, name)
        check_number("item_weight", item_weight, minimum=0)
        check_number("item_interesting", item_interesting, above=0, integer=True)
        check_number("item_uninteresting", item_uninteresting, minimum=0, integer=True)
        check_number("item_temperature", item_temperature, above=0)
        if item_set not in ITEM_SETS:
            raise ValueError(f"item_set must be one of {', '.join(ITEM_SETS)}; received "
                             f"item_set={item_set!r}.")
        self.item_set = item_set
        self.item_weight = float(item_weight)
        self.item_interesting = item_interesting
        self.item_uninteresting = item_uninteresting
        self.item_temperature = float(item_temperature)

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        ranked_users = signals.top_users(self.max_rank, self.exclude_train)
        train_users = transpose(train)
        if self.item_uninteresting:
            ranked_users = leave_room(ranked_users, train_users)
        check_list_length("item_interesting", self.item_interesting, ranked_users.shape[1],
                          "the teacher's user lists")
        self.ranked_users = tf.constant(ranked_users)
        self.uninteresting_users = (list_exclusion(train_users, ranked_users)
                                    if self.item_uninteresting else None)

    def item_side_targets(self, items, seed):
        """(users int32 [B, n], labels) ranking users for each item of ``items`` [B]."""
        return relaxed_ranking_targets(
            self.ranked_users, items, self.item_interesting, self.item_temperature,
            self.uninteresting_users, self.item_uninteresting, seed)

    def weighted_loss(self, features, student, seed):
        user_seed, item_seed = tf.unstack(samplers.split_seed(seed, 2))
        if self.item_set == "positives":
            user_side = self.per_row_loss(features, student, user_seed)
            return self.weight * user_side + self.item_weight * self.item_side_loss(
                features["pos_item"], student, item_seed)
        drawn, labels = self.targets(features, user_seed)
        user_side = self.loss(labels, student.score(features["user"], drawn))
        items, rows = unique_with_rows(drawn)  # I*, each on the first row that drew it
        item_side = sum_on_rows(self.item_side_loss(items, student, item_seed), rows,
                                tf.shape(drawn)[0])
        return self.weight * user_side + self.item_weight * item_side

    def item_side_loss(self, items, student, seed):
        """float32 [N]: the relaxed ranking loss over users of each item of ``items`` [N]."""
        users, labels = self.item_side_targets(items, seed)
        return self.loss(labels, Embeddings.of(student).transposed().score(items, users))

    def get_config(self):
        config = {
            **super().get_config(),
            "item_weight": self.item_weight,
            "item_interesting": self.item_interesting,
            "item_uninteresting": self.item_uninteresting,
            "item_temperature": self.item_temperature,
        }
        if self.item_set != "positives":  # left out by default: recorded configs stay equal
            config["item_set"] = self.item_set
        return config
