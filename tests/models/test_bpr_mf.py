"""BPRMF: initialisation, training, config and save/load round trips."""

import numpy as np
import pytest

from kdtfrs._keras import keras, tf
from kdtfrs.models import BPRMF, LazyAdam

NUM_USERS, NUM_ITEMS = 20, 30


def dataset(batch_size=16, steps=4, seed=0):
    """Triples where each user prefers items of its own parity (a learnable pattern)."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, NUM_USERS, batch_size * steps)
    pos = 2 * rng.integers(0, NUM_ITEMS // 2, users.size) + users % 2
    neg = 2 * rng.integers(0, NUM_ITEMS // 2, (users.size, 2)) + 1 - users[:, None] % 2
    triples = {"user": users, "pos_item": pos, "neg_item": neg}
    return tf.data.Dataset.from_tensor_slices(
        {key: value.astype(np.int32) for key, value in triples.items()}
    ).batch(batch_size)


def test_default_initialisation_is_normal_with_std_0_01():
    model = BPRMF(500, 400, 16, seed=0)
    assert abs(model.user_embedding.numpy().std() - 0.01) < 0.001
    assert abs(model.item_embedding.numpy().mean()) < 0.001


def test_same_seed_same_weights():
    first, second = BPRMF(5, 6, 3, seed=7), BPRMF(5, 6, 3, seed=7)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer", [keras.optimizers.Adam, LazyAdam])
@pytest.mark.parametrize("loss", ["bpr", "softmax"])
def test_a_few_epochs_of_fit_reduce_the_loss(optimizer, loss):
    model = BPRMF(NUM_USERS, NUM_ITEMS, 8, loss=loss, l2=1e-4, init_stddev=0.1, seed=0)
    model.compile(optimizer=optimizer(0.05, jit_compile=False))  # XLA compiles take seconds
    history = model.fit(dataset(), epochs=5, verbose=0).history[f"{loss}_loss"]
    assert history[-1] < 0.7 * history[0]


def test_get_config_round_trip():
    model = BPRMF(NUM_USERS, NUM_ITEMS, 8, loss="softmax", l2=0.5, init_stddev=0.2, seed=3,
                  name="teacher", l2_form="tables")
    config = model.get_config()
    rebuilt = BPRMF.from_config(config)
    assert rebuilt.get_config() == config and rebuilt.l2_form == "tables"
    # A config saved before l2_form existed loads with the per-batch form.
    before = {key: value for key, value in config.items() if key != "l2_form"}
    assert BPRMF.from_config(before).l2_form == "rows"
    serialized = keras.saving.serialize_keras_object(model)
    assert serialized["registered_name"] == "kdtfrs>BPRMF"
    assert keras.saving.deserialize_keras_object(serialized).get_config() == config


def test_weights_round_trip(tmp_path):
    model = BPRMF(NUM_USERS, NUM_ITEMS, 8, init_stddev=0.5, seed=1)
    model.save_weights(str(tmp_path / "weights"))
    restored = BPRMF(NUM_USERS, NUM_ITEMS, 8, seed=2)
    restored.load_weights(str(tmp_path / "weights"))
    np.testing.assert_array_equal(restored.score_all([0, 5]).numpy(),
                                  model.score_all([0, 5]).numpy())


def test_saved_model_round_trip(tmp_path):
    model = BPRMF(NUM_USERS, NUM_ITEMS, 8, init_stddev=0.5, seed=1)
    users = tf.constant([0, 3, 19])
    expected = model(users).numpy()
    model.save(str(tmp_path / "saved"), save_format="tf")
    restored = keras.models.load_model(str(tmp_path / "saved"))
    assert isinstance(restored, BPRMF)
    np.testing.assert_allclose(restored(users).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(restored.score_all(users).numpy(), expected, rtol=1e-6)
