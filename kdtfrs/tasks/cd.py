"""CD: collaborative distillation (Lee et al., ICDM 2019), as woriazzc/KDs ``CD``."""

from kdtfrs import losses, samplers
from kdtfrs._keras import keras, tf
from kdtfrs.tasks.base import DistillationTask, all_users_top_items, check_draw_every
from kdtfrs.signals import allowed_length
from kdtfrs.validation import check_number

GUIDES = ("student", "teacher")


class CD(DistillationTask):
    """Rank-aware soft-label BCE on items picked by tournament from a guide's top list.

    Signals: the guide's top-``sample_num`` items per user, training items excluded
    (``guide="student"``, the KDs default, refreshes the list every epoch; ``"teacher"`` is
    fixed). Per row: ``num_items`` tournament picks, each the better of two draws with
    p(r) ~ exp(-(r+1)/(sample_num * temperature)). y_true: teacher scores.
    Loss: ``kdtfrs.losses.CDLoss`` with w = sigmoid((t + t2) / t1).
    """

    method_id = "cd"

    def __init__(self, weight=0.5, num_items=2, sample_num=3000, temperature=20.0,
                 guide="student", label_scale=2.0, label_shift=0.0, exclude_train=True,
                 name=None, draw_every="step"):
        super().__init__(weight, exclude_train, name)
        self.draw_every = check_draw_every(draw_every)
        check_number("num_items", num_items, above=0, integer=True)
        check_number("sample_num", sample_num, above=0, integer=True)
        check_number("temperature", temperature, above=0)
        check_number("label_scale", label_scale, above=0)
        if guide not in GUIDES:
            raise ValueError(f"guide must be one of {GUIDES}, got {guide!r}.")
        self.num_items = num_items
        self.sample_num = sample_num
        self.temperature = float(temperature)
        self.guide = guide
        self.label_scale = float(label_scale)
        self.label_shift = float(label_shift)
        self.needs_refresh = guide == "student"

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        self.train = train if self.exclude_train else None
        length = allowed_length(self.sample_num, train.num_items, self.train)
        if self.guide == "teacher":
            self.guide_items = tf.constant(signals.top_items(length, self.exclude_train))
        else:
            self.guide_items = tf.Variable(tf.zeros((train.num_users, length), tf.int32),
                                           trainable=False, name="student_top_items")
        self.prepare_draws()

    def update_for_epoch(self, student, epoch):
        if self.guide == "student":
            self.guide_items.assign(all_users_top_items(
                student, self.user_count, int(self.guide_items.shape[1]), self.train))

    def targets(self, features, seed):
        self._require_prepared()
        users = features["user"]
        length = int(self.guide_items.shape[1])
        positions = samplers.tournament_positions(
            tf.shape(users)[0], length, self.num_items, self.temperature, seed)
        items = samplers.lookup_positions(self.guide_items, users, positions)
        return items, self.teacher_scores(users, items)

    def make_loss(self):
        return losses.CDLoss(temperature=self.label_scale, shift=self.label_shift,
                             reduction=keras.losses.Reduction.NONE)

    def get_config(self):
        return {**super().get_config(), "num_items": self.num_items,
                "sample_num": self.sample_num, "temperature": self.temperature,
                "guide": self.guide, "label_scale": self.label_scale,
                "label_shift": self.label_shift}
