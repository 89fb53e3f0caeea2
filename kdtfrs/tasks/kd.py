"""KD: softmax cross-entropy between teacher and student scores (Hinton et al., 2015),
on the guide model's top-K items as in woriazzc/KDs ``KD``."""

from kdtfrs import losses
from kdtfrs._keras import keras, tf
from kdtfrs.tasks.base import DistillationTask, all_users_top_items
from kdtfrs.signals import allowed_length
from kdtfrs.validation import check_number

GUIDES = ("student", "teacher")


class KD(DistillationTask):
    """Hinton-style KD over each user's guide top-K.

    Signals: the guide's top-``num_items`` items per user, training items excluded (the
    reference keeps them; pass ``exclude_train=False`` for that). ``guide="teacher"`` uses a
    fixed teacher list; ``guide="student"`` (KDs default) recomputes the student's list at the
    start of every epoch. y_true: teacher scores of those items, scored once per list (at
    ``prepare`` or ``refresh``), not per batch.
    Loss: ``kdtfrs.losses.KDLoss`` -sum_i softmax(t/tau)_i log softmax(s/tau)_i.
    """

    method_id = "kd"

    def __init__(self, weight=1.0, num_items=50, temperature=1.0, guide="student",
                 exclude_train=True, name=None):
        super().__init__(weight, exclude_train, name)
        check_number("num_items", num_items, above=0, integer=True)
        check_number("temperature", temperature, above=0)
        if guide not in GUIDES:
            raise ValueError(f"guide must be one of {GUIDES}, got {guide!r}.")
        self.num_items = num_items
        self.temperature = float(temperature)
        self.guide = guide
        self.needs_refresh = guide == "student"

    def prepare(self, signals, train, student=None):
        super().prepare(signals, train, student)
        self.train = train if self.exclude_train else None
        if self.guide == "teacher":
            items = signals.top_items(self.num_items, self.exclude_train)
            self.guide_items = tf.constant(items)
            self.guide_scores = tf.constant(self.teacher_list_scores(items))
        else:
            shape = (train.num_users, allowed_length(self.num_items, train.num_items, self.train))
            self.guide_items = tf.Variable(tf.zeros(shape, tf.int32), trainable=False,
                                           name="student_top_items")
            self.guide_scores = tf.Variable(tf.zeros(shape), trainable=False,
                                            name="teacher_scores_of_student_top_items")

    def update_for_epoch(self, student, epoch):
        if self.guide == "student":
            items = all_users_top_items(
                student, self.user_count, int(self.guide_items.shape[1]), self.train)
            self.guide_items.assign(items)
            self.guide_scores.assign(self.teacher_list_scores(items))

    def targets(self, features, seed):
        del seed
        self._require_prepared()
        users = features["user"]
        return tf.gather(self.guide_items, users), tf.gather(self.guide_scores, users)

    def make_loss(self):
        return losses.KDLoss(temperature=self.temperature,
                             reduction=keras.losses.Reduction.NONE)

    def get_config(self):
        return {**super().get_config(), "num_items": self.num_items,
                "temperature": self.temperature, "guide": self.guide}
