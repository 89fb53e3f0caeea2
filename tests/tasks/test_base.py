"""The shared pieces of kdtfrs.tasks.base."""

import numpy as np
import pytest

from kdtfrs import losses
from kdtfrs._keras import tf
from kdtfrs.tasks.base import DistillationTask, all_users_top_items, check_list_length
from tests.tasks import task_checks as checks


class _Constant(DistillationTask):
    """A minimal method: the batch's positive item with relevance 1."""

    method_id = "constant"

    def targets(self, features, seed):
        del seed
        items = features["pos_item"][:, None]
        return items, tf.ones(tf.shape(items), tf.float32)

    def make_loss(self):
        return losses.RDLoss(reduction="none")


def test_base_method_defaults(student, features):
    method = _Constant(weight=0.0)
    assert not method.needs_refresh and method.exclude_train and method.name == "constant"
    method.refresh(student, 4)
    assert int(method.epoch.numpy()) == 4
    assert method.loss is method.loss  # built once
    assert method.get_config() == {"weight": 0.0, "exclude_train": True, "name": "constant"}
    np.testing.assert_array_equal(method.weighted_loss(features, student, checks.SEED), 0.0)
    assert np.all(method.per_row_loss(features, student, checks.SEED).numpy() > 0)
    with pytest.raises(NotImplementedError):
        DistillationTask.targets(method, features, checks.SEED)
    assert _Constant(weight=1.0, name="my-method").name == "my-method"


def test_all_users_top_items(student, train):
    lists = all_users_top_items(student, train.num_users, 5, train, batch_size=16)
    checks.assert_is_top_k(lists, checks.model_scores(student), checks.dense(train), 5)
    room = train.num_items - int(train.row_lengths().max())
    lists = all_users_top_items(student, train.num_users, 1000, train)
    checks.assert_is_top_k(lists, checks.model_scores(student), checks.dense(train), room)


def test_check_list_length():
    check_list_length("num_items", 5, 5)
    with pytest.raises(ValueError, match=r"^num_items \(6\) exceeds the 5 entries of the"):
        check_list_length("num_items", 6, 5)
