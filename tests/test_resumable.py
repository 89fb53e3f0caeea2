"""An interrupted fit_model resumes to exactly the weights and History of an uninterrupted run."""

import numpy as np
import pytest

from kdtfrs._keras import keras, tf
from kdtfrs.data import make_synthetic, split_random
from kdtfrs.fitting import FitConfig, fit_model, history_summary
from kdtfrs.models import BPRMF
from kdtfrs.resumable import CheckpointMismatchError, ResumableEarlyStopping, TrainingCheckpoint
from kdtfrs.run_guards import RunInterrupted


class Interrupt(keras.callbacks.Callback):
    """Keeps the logs of each epoch run; raises KeyboardInterrupt, as Ctrl-C would, once
    ``epoch`` has been checkpointed (or at ``batch`` of it, mid-epoch; never with None)."""

    def __init__(self, epoch, batch=None):
        super().__init__()
        self.epoch, self.batch, self.logs, self._current = epoch, batch, [], None

    def on_epoch_begin(self, epoch, logs=None):
        self._current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.batch is not None and (self._current, batch) == (self.epoch, self.batch):
            raise KeyboardInterrupt

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append(dict(logs))
        if self.batch is None and epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def split():
    return split_random(make_synthetic(num_users=60, num_items=70, num_clusters=3,
                                       mean_interactions_per_user=8, seed=0), seed=0)


def train(split, config, checkpoint_dir=None, callbacks=()):
    model = BPRMF(split.num_users, split.num_items, 4, seed=0)
    history = fit_model(model, model, split, config, checkpoint_dir, verbose=0,
                        callbacks=callbacks)
    return model, history


#: stops early (patience 2) after 4 epochs of at most 30
STOPPING = FitConfig(epochs=30, batch_size=64, learning_rate=0.02, patience=2)


@pytest.fixture(scope="module")
def reference(split):
    """(model, history) of an uninterrupted run with ``STOPPING``."""
    model, history = train(split, STOPPING)
    assert 3 < len(history.epoch) < 30
    return model, history


def assert_same_run(model, history, reference):
    reference_model, reference_history = reference
    for got, expected in zip(model.get_weights(), reference_model.get_weights()):
        np.testing.assert_array_equal(got, expected)
    assert history.epoch == reference_history.epoch
    for key in ("val_ndcg@20", "loss"):
        np.testing.assert_array_equal(history.history[key], reference_history.history[key])
    assert history_summary(history)["best_epoch"] == history_summary(reference_history)[
        "best_epoch"]


def test_a_fit_interrupted_mid_epoch_resumes_to_the_uninterrupted_weights_and_history(
        split, tmp_path, reference):
    with pytest.raises(RunInterrupted) as interrupted:
        train(split, STOPPING, tmp_path, callbacks=[Interrupt(epoch=2, batch=1)])
    assert interrupted.value.epochs_done == 2
    resumed_logs = Interrupt(epoch=None)
    model, history = train(split, STOPPING, tmp_path, callbacks=[resumed_logs])
    assert len(resumed_logs.logs) == len(history.epoch) - 2  # epochs 3.. only
    assert_same_run(model, history, reference)
    assert not any(tmp_path.iterdir())  # checkpoints removed at the end
    # The training time counts the epochs of the interrupted process too.
    walls = history.history["epoch_wall_seconds"]
    assert len(walls) == len(history.epoch) and all(wall > 0 for wall in walls)
    assert history_summary(history)["training_seconds"] == pytest.approx(sum(walls))
    assert sum(walls) > sum(logs["epoch_wall_seconds"] for logs in resumed_logs.logs)


def test_a_fit_interrupted_after_it_stopped_early_does_not_train_on(split, tmp_path, reference):
    last = reference[1].epoch[-1]
    with pytest.raises(RunInterrupted):  # raised after the stopping epoch's checkpoint
        train(split, STOPPING, tmp_path, callbacks=[Interrupt(epoch=last)])
    model, history = train(split, STOPPING, tmp_path)
    assert_same_run(model, history, reference)


class BPRMFWithState(BPRMF):
    """BPR-MF with one more variable, as a later version of a method may keep."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.places = tf.Variable(tf.zeros([3], tf.int32), trainable=False, name="places")


@pytest.mark.parametrize("written_by, resumed_by", [(BPRMF, BPRMFWithState),
                                                    (BPRMFWithState, BPRMF)])
def test_a_checkpoint_of_another_model_is_refused_and_kept(split, tmp_path, written_by,
                                                            resumed_by):
    config = FitConfig(epochs=4, batch_size=64, learning_rate=0.02, patience=10)
    model = written_by(split.num_users, split.num_items, 4, seed=0)
    with pytest.raises(RunInterrupted):
        fit_model(model, model, split, config, tmp_path, verbose=0,
                  callbacks=[Interrupt(epoch=1)])
    saved = sorted(path.name for path in tmp_path.rglob("*"))
    model = resumed_by(split.num_users, split.num_items, 4, seed=0)
    with pytest.raises(CheckpointMismatchError, match="epoch-00002 does not hold the state of "
                       r"this model.*--overwrite \(without --resume\)") as error:
        fit_model(model, model, split, config, tmp_path, verbose=0)
    assert ("variables without a saved value: places" if resumed_by is BPRMFWithState
            else "saved values without a variable: model.places") in str(error.value)
    assert sorted(path.name for path in tmp_path.rglob("*")) == saved


def test_an_interruption_leaves_the_best_weights_in_the_model(split, tmp_path):
    config = FitConfig(epochs=6, batch_size=64, learning_rate=0.01, patience=10)
    seen = Interrupt(epoch=3)
    model = BPRMF(split.num_users, split.num_items, 4, seed=0)
    best = {}

    class KeepBest(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs["val_ndcg@20"] > best.get("score", -1):
                best.update(score=logs["val_ndcg@20"], epoch=epoch + 1,
                            weights=model.get_weights())

    with pytest.raises(RunInterrupted) as interrupted:
        fit_model(model, model, split, config, tmp_path, verbose=0, callbacks=[KeepBest(), seen])
    assert interrupted.value.best_epoch == best["epoch"]
    assert interrupted.value.best_score == pytest.approx(best["score"])
    for got, expected in zip(model.get_weights(), best["weights"]):
        np.testing.assert_array_equal(got, expected)
    assert TrainingCheckpoint(tmp_path).latest().name == "epoch-00004"


def test_history_has_one_value_per_epoch_and_the_best_epoch_with_sparse_evaluation(
        split, tmp_path):
    config = FitConfig(epochs=6, batch_size=64, learning_rate=0.01, patience=100, eval_every=2)
    seen = Interrupt(epoch=None)
    _, history = train(split, config, tmp_path, callbacks=[seen])
    scores = np.asarray(history.history["val_ndcg@20"])
    assert scores.shape == (6,) and np.isnan(scores[0::2]).all()
    evaluated = [logs["val_ndcg@20"] for logs in seen.logs if "val_ndcg@20" in logs]
    np.testing.assert_allclose(scores[1::2], evaluated, rtol=1e-6)
    summary = history_summary(history)
    assert summary["best_val_ndcg@20"] == pytest.approx(max(evaluated))
    assert summary["best_epoch"] == 2 * (int(np.argmax(evaluated)) + 1)


def test_early_stopping_state_round_trips(tmp_path):
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    first = ResumableEarlyStopping(monitor="val_ndcg@20", mode="max", patience=3,
                                   restore_best_weights=True)
    first.set_model(model)
    first.on_train_begin()
    first.on_epoch_end(0, {"val_ndcg@20": 0.5})
    best_weights = [weight.copy() for weight in model.get_weights()]
    model.set_weights([weight + 1.0 for weight in best_weights])
    first.on_epoch_end(1, {"val_ndcg@20": 0.3})

    resumed = ResumableEarlyStopping(monitor="val_ndcg@20", mode="max", patience=3,
                                     restore_best_weights=True)
    resumed.set_model(model)
    resumed.set_state(*first.get_state())
    resumed.on_train_begin()
    assert (resumed.best, resumed.wait, resumed.best_epoch) == (0.5, 1, 0)
    resumed.on_epoch_end(2, {"val_ndcg@20": 0.4})
    resumed.on_epoch_end(3, {"val_ndcg@20": 0.4})
    assert resumed.model.stop_training  # patience 3 counted across the restart
    assert resumed.get_state()[0]["stopped_epoch"] == 3
    resumed.on_train_end()
    for restored, best in zip(model.get_weights(), best_weights):
        np.testing.assert_array_equal(restored, best)


def test_early_stopping_counts_evaluations_only():
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    stopping = ResumableEarlyStopping(monitor="val_ndcg@20", mode="max", patience=2)
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


def test_early_stopping_can_follow_ndcg_at_10_as_the_reference_protocol(split):
    config = FitConfig(epochs=8, batch_size=64, learning_rate=0.02, patience=100,
                       stop_on="ndcg@10")
    model, history = train(split, config)
    scores = np.asarray(history.history["val_ndcg@10"])
    assert scores.shape == (8,) and "val_ndcg@20" in history.history
    best = int(np.argmax(scores))
    summary = history_summary(history, config.monitor)
    assert summary["best_epoch"] == best + 1
    assert summary["best_val_ndcg@10"] == pytest.approx(scores[best])
    assert summary["best_val_ndcg@20"] == pytest.approx(history.history["val_ndcg@20"][best])


def test_an_unknown_stopping_metric_is_refused():
    with pytest.raises(ValueError, match="stop_on must be one of ndcg@10, ndcg@20"):
        FitConfig(stop_on="auc")
