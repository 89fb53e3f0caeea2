"""An interrupted fit_model resumes with its early-stopping state and its earlier epochs."""

import numpy as np
import pytest

from kdtfrs._keras import keras
from kdtfrs.data import make_synthetic, split_random
from kdtfrs.fitting import FitConfig, fit_model, history_summary
from kdtfrs.models import BPRMF
from kdtfrs.resumable import ResumableEarlyStopping


class Interrupt(keras.callbacks.Callback):
    """Keeps the logs of each epoch run; raises, as a killed process would stop, once
    ``epoch`` has been backed up (never with ``epoch=None``)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.logs = epoch, []

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append(dict(logs))
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def split():
    return split_random(make_synthetic(num_users=60, num_items=70, num_clusters=3,
                                       mean_interactions_per_user=8, seed=0), seed=0)


def test_a_resumed_fit_reports_every_epoch(split, tmp_path):
    config = FitConfig(epochs=5, batch_size=64, learning_rate=0.01, patience=100)
    interrupt = Interrupt(epoch=2)
    interrupted = BPRMF(split.num_users, split.num_items, 4, seed=0)
    with pytest.raises(KeyboardInterrupt):
        fit_model(interrupted, interrupted, split, config, tmp_path, verbose=0,
                  callbacks=[interrupt])
    model = BPRMF(split.num_users, split.num_items, 4, seed=0)
    resumed = Interrupt(epoch=None)
    history = fit_model(model, model, split, config, tmp_path, verbose=0, callbacks=[resumed])
    assert len(resumed.logs) == 2  # epochs 3 and 4 only
    assert history.epoch == [0, 1, 2, 3, 4]
    assert history_summary(history)["epochs"] == 5
    before = [logs["val_ndcg@20"] for logs in interrupt.logs]
    np.testing.assert_allclose(history.history["val_ndcg@20"][:3], before, rtol=1e-6)
    assert not any(tmp_path.iterdir())  # state removed at the end


@pytest.mark.parametrize("with_checkpoints", [False, True])
def test_history_has_one_value_per_epoch_and_the_best_epoch_with_sparse_evaluation(
        split, tmp_path, with_checkpoints):
    config = FitConfig(epochs=6, batch_size=64, learning_rate=0.01, patience=100, eval_every=2)
    model = BPRMF(split.num_users, split.num_items, 4, seed=0)
    seen = Interrupt(epoch=None)
    history = fit_model(model, model, split, config, tmp_path if with_checkpoints else None,
                        verbose=0, callbacks=[seen])
    scores = np.asarray(history.history["val_ndcg@20"])
    assert scores.shape == (6,) and np.isnan(scores[0::2]).all()
    evaluated = [logs["val_ndcg@20"] for logs in seen.logs if "val_ndcg@20" in logs]
    np.testing.assert_allclose(scores[1::2], evaluated, rtol=1e-6)
    summary = history_summary(history)
    assert summary["best_val_ndcg@20"] == pytest.approx(max(evaluated))
    assert summary["best_epoch"] == 2 * (int(np.argmax(evaluated)) + 1)


def test_early_stopping_state_survives_a_restart(tmp_path):
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    first = ResumableEarlyStopping(tmp_path, monitor="val_ndcg@20", mode="max", patience=3,
                                   restore_best_weights=True)
    first.set_model(model)
    first.on_train_begin()
    first.on_epoch_end(0, {"val_ndcg@20": 0.5})
    best_weights = [weight.copy() for weight in model.get_weights()]
    model.set_weights([weight + 1.0 for weight in best_weights])
    first.on_epoch_end(1, {"val_ndcg@20": 0.3})

    resumed = ResumableEarlyStopping(tmp_path, monitor="val_ndcg@20", mode="max", patience=3,
                                     restore_best_weights=True)
    resumed.set_model(model)
    resumed.on_train_begin()
    assert (resumed.best, resumed.wait, resumed.best_epoch) == (0.5, 1, 0)
    resumed.on_epoch_end(2, {"val_ndcg@20": 0.4})
    resumed.on_epoch_end(3, {"val_ndcg@20": 0.4})
    assert resumed.model.stop_training  # patience 3 counted across the restart
    resumed.on_train_end()
    for restored, best in zip(model.get_weights(), best_weights):
        np.testing.assert_array_equal(restored, best)
    assert not any(tmp_path.iterdir())


def test_early_stopping_counts_evaluations_only_and_may_keep_state_in_memory():
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    stopping = ResumableEarlyStopping(None, monitor="val_ndcg@20", mode="max", patience=2)
    stopping.set_model(model)
    stopping.on_train_begin()
    stopping.on_epoch_end(0, {"val_ndcg@20": 0.5})
    for epoch in (1, 2, 3):  # not evaluated: no wait counted
        stopping.on_epoch_end(epoch, {"loss": 1.0})
    assert (stopping.wait, stopping.best_epoch) == (0, 0) and not model.stop_training
    stopping.on_epoch_end(4, {"val_ndcg@20": 0.4})
    stopping.on_epoch_end(5, {"val_ndcg@20": 0.4})
    assert model.stop_training
    stopping.on_train_end()
