"""The package surface: method ids, registration, argument checks, use in model.fit."""

import numpy as np
import pytest

import kdtfrs.losses as losses
from kdtfrs._keras import keras
from tests.losses import loss_checks as checks

REQUIRED_ARGS = {losses.RCEKD: {"num_top": 2, "num_closure": 1}}


@pytest.mark.parametrize("method_id", losses.METHOD_IDS)
def test_every_method_id_gives_a_registered_loss(method_id):
    cls = losses.get(method_id)
    assert issubclass(cls, losses.DistillationLoss)
    loss = cls(**REQUIRED_ARGS.get(cls, {}))
    assert keras.utils.get_registered_name(cls) == f"kdtfrs>{cls.__name__}"
    assert type(keras.losses.get(keras.losses.serialize(loss))) is cls


def test_item_side_rrd_is_rrd():
    assert losses.get("ir_rrd") is losses.RRD


def test_unknown_method_id_lists_the_known_ones():
    with pytest.raises(ValueError, match="method_id='rdd'.*rrd, ir_rrd"):
        losses.get("rdd")


def test_padding_is_nan():
    assert np.isnan(losses.PADDING)


@pytest.mark.parametrize(
    "cls, argument",
    [
        (losses.KD, "temperature"),
        (losses.BlackD, "rank_temperature"),
        (losses.BlackD, "temperature"),
        (losses.PointwiseBCE, "temperature"),
        (losses.RD, "rank_temperature"),
        (losses.CD, "temperature"),
        (losses.RCEKD, "temperature"),
    ],
)
def test_positive_hyperparameters_are_checked(cls, argument):
    with pytest.raises(ValueError, match=f"`{argument}` must be .* received {argument}=-2.0"):
        cls(**{**REQUIRED_ARGS.get(cls, {}), argument: -2.0})


@pytest.mark.parametrize("cls", [losses.KD, losses.RRD])
def test_mismatched_shapes_are_refused(cls):
    with pytest.raises(ValueError, match=r"same shape .* \(2, 3\) and y_pred \(2, 4\)"):
        cls()(np.zeros((2, 3)), np.zeros((2, 4)))


@pytest.mark.parametrize(
    "loss, y_true",
    [
        (losses.RRD(), checks.relevance_inputs(seed=111, rows=8, ranked=2, unranked=1)[0]),
        (losses.KD(), checks.score_inputs(seed=112, rows=8, items=4)[0]),
    ],
)
def test_trains_with_model_fit(loss, y_true):
    # run_eagerly: the graph path is covered per loss; autograph-converting Keras' own
    # train_function costs ~25 s of CPU on the first fit of a process.
    features = np.random.default_rng(113).normal(size=(8, 3)).astype(np.float32)
    model = keras.Sequential([keras.layers.Dense(y_true.shape[1])])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, run_eagerly=True)
    history = model.fit(features, y_true, batch_size=4, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
