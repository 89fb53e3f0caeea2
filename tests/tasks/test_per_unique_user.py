"""``per_unique_user``: the list methods distil each unique user of a batch once."""

import numpy as np
import pytest

from kdtfrs import tasks
from kdtfrs._keras import tf
from kdtfrs.embeddings import Embeddings
from tests.tasks import task_checks as checks

LIST_METHODS = ("rrd", "sld", "dcd", "blackd")


def prepared(method_id, signals, train, student, **options):
    method = tasks.get(method_id, **checks.SMALL_RANKING[method_id], **options)
    method.prepare(signals, train)
    method.refresh(Embeddings.frozen(student), 0)
    return method


@pytest.mark.parametrize("method_id", LIST_METHODS)
def test_each_unique_user_is_distilled_once_on_its_first_row(method_id, signals, train,
                                                              features, student):
    once = prepared(method_id, signals, train, student, per_unique_user=True)
    per_row = once.per_row_loss(features, student, checks.SEED).numpy()
    users = features["user"].numpy()
    _, first = np.unique(users, return_index=True)
    first = np.sort(first)
    repeated = np.setdiff1d(np.arange(users.size), first)
    assert repeated.size  # the fixture repeats a user
    np.testing.assert_array_equal(per_row[repeated], 0.0)
    # The first rows hold the per-row loss of a batch of the unique users, same seed.
    plain = prepared(method_id, signals, train, student)
    expected = plain.per_row_loss({"user": tf.constant(users[first])}, student, checks.SEED)
    np.testing.assert_allclose(per_row[first], expected.numpy(), rtol=1e-6)
    assert np.all(per_row[first] > 0)


@pytest.mark.parametrize("method_id", LIST_METHODS)
def test_the_option_round_trips_and_is_left_out_when_off(method_id):
    config = checks.assert_config_round_trip(
        tasks.get(method_id, **checks.SMALL_RANKING[method_id], per_unique_user=True)).get_config()
    assert config["per_unique_user"] is True
    assert "per_unique_user" not in tasks.get(method_id).get_config()


def test_trains_the_student_only(signals, train, features, student, teacher):
    method = prepared("rrd", signals, train, student, per_unique_user=True)
    checks.assert_loss_trains_student_only(method, features, student, teacher)


def test_ir_rrd_does_not_offer_it():
    with pytest.raises(ValueError, match="unexpected keyword argument 'per_unique_user'"):
        tasks.get("ir_rrd", per_unique_user=True)
