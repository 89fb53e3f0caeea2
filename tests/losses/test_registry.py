"""The package surface: method ids, registration, argument checks, finite y_true, model.fit."""

import numpy as np
import pytest

import kdtfrs.losses as losses
from kdtfrs._keras import keras, tf
from tests.losses import loss_checks as checks

REQUIRED_ARGS = {losses.RCEKDLoss: {"num_top": 2, "num_closure": 1},
                 losses.HetCompLoss: {"list_length": 2, "num_observed": 1}}

CLASS_NAMES = ["KDLoss", "BlackDLoss", "PointwiseMSELoss", "PointwiseBCELoss", "RDLoss",
               "CDLoss", "RRDLoss", "SLDLoss", "DCDLoss", "UnKDLoss", "RCEKDLoss", "HetCompLoss"]


def valid_inputs(cls):
    """A small finite (y_true, y_pred) for ``cls``."""
    if cls is losses.RCEKDLoss:
        return np.zeros((2, 5, 3), np.float32), np.zeros((2, 5), np.float32)
    if cls is losses.UnKDLoss:
        return np.ones((2, 3, 2), np.float32), np.zeros((2, 3, 2), np.float32)
    return np.full((2, 4), 2.0, np.float32), np.zeros((2, 4), np.float32)


@pytest.mark.parametrize("method_id", losses.METHOD_IDS)
def test_every_method_id_gives_a_registered_loss(method_id):
    cls = losses.get(method_id)
    assert issubclass(cls, losses.DistillationLoss)
    loss = cls(**REQUIRED_ARGS.get(cls, {}))
    assert keras.utils.get_registered_name(cls) == f"kdtfrs>{cls.__name__}"
    assert type(keras.losses.get(keras.losses.serialize(loss))) is cls


def test_one_public_name_per_method():
    assert sorted(cls.__name__ for cls in set(map(losses.get, losses.METHOD_IDS))) == sorted(
        CLASS_NAMES)
    for name in CLASS_NAMES:
        assert getattr(losses, name).__name__ == name
    for old in ("KD", "RRD", "RCEKD", "PADDING"):
        assert not hasattr(losses, old)


def test_item_side_rrd_is_rrd():
    assert losses.get("ir_rrd") is losses.RRDLoss


def test_unknown_method_id_lists_the_known_ones():
    with pytest.raises(ValueError, match="method_id='rdd'.*rrd, ir_rrd"):
        losses.get("rdd")


@pytest.mark.parametrize("method_id", sorted(set(losses.METHOD_IDS) - {"ir_rrd"}))
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_teacher_signal_is_an_error_not_padding(method_id, bad):
    cls = losses.get(method_id)
    loss = cls(**REQUIRED_ARGS.get(cls, {}))
    y_true, y_pred = valid_inputs(cls)
    assert np.isfinite(loss(y_true, y_pred).numpy())
    y_true[(0,) * y_true.ndim] = bad
    message = (f"{cls.__name__}: y_true holds a NaN or infinite value. Teacher signals must "
               "be finite")
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        loss(y_true, y_pred)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        tf.function(loss.__call__)(y_true, y_pred)


@pytest.mark.parametrize(
    "cls, argument",
    [
        (losses.KDLoss, "temperature"),
        (losses.BlackDLoss, "rank_temperature"),
        (losses.BlackDLoss, "temperature"),
        (losses.PointwiseBCELoss, "temperature"),
        (losses.RDLoss, "rank_temperature"),
        (losses.RDLoss, "mu"),
        (losses.RDLoss, "num_items"),
        (losses.CDLoss, "temperature"),
        (losses.RCEKDLoss, "temperature"),
    ],
)
def test_positive_hyperparameters_are_checked(cls, argument):
    with pytest.raises(ValueError, match=f"`{argument}` must be .* received {argument}=-2.0"):
        cls(**{**REQUIRED_ARGS.get(cls, {}), argument: -2.0})


@pytest.mark.parametrize("cls", [losses.KDLoss, losses.RRDLoss])
def test_mismatched_shapes_are_refused(cls):
    with pytest.raises(ValueError, match=r"same shape .* \(2, 3\) and y_pred \(2, 4\)"):
        cls()(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"mask must have y_pred's shape.* \(2, 3\) and y_pred"):
        cls()(np.zeros((2, 4)), np.zeros((2, 4)), mask=np.ones((2, 3), bool))


@pytest.mark.parametrize(
    "loss, inputs",
    [
        (losses.RRDLoss(), checks.relevance_inputs(seed=111, rows=8, ranked=2, unranked=1)),
        (losses.KDLoss(), checks.score_inputs(seed=112, rows=8, items=4, padding=0.0)),
    ],
)
def test_trains_with_model_fit(loss, inputs):
    # run_eagerly: the graph path is covered per loss; autograph-converting Keras' own
    # train_function costs ~25 s of CPU on the first fit of a process.
    y_true = inputs[0]
    features = np.random.default_rng(113).normal(size=(8, 3)).astype(np.float32)
    model = keras.Sequential([keras.layers.Dense(y_true.shape[1])])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, run_eagerly=True)
    history = model.fit(features, y_true, batch_size=4, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
