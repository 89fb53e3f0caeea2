"""Model directories: Keras-loadable, with provenance and raw ids; damage reported by file."""

import json

import numpy as np
import pytest

from kdtfrs import data, model_dir
from kdtfrs._keras import keras
from kdtfrs.models import BPRMF, LightGCN
from kdtfrs.provenance import DataSpec, ProvenanceError, load_verified
from tests.run_helpers import run, save_untrained, write_csv


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("data") / "events.csv", num_users=60)


@pytest.fixture(scope="module")
def split(csv_path):
    return DataSpec(str(csv_path)).load()


@pytest.mark.parametrize("cls", [BPRMF, LightGCN])
def test_a_directory_is_a_keras_model_with_its_ids_and_data(cls, split, csv_path, tmp_path):
    extra = {"train_matrix": split.train} if cls is LightGCN else {}
    model = cls(split.num_users, split.num_items, 4, seed=0, **extra)
    record = DataSpec(str(csv_path)).record(split)
    directory = model_dir.save(model, tmp_path / "m", record,
                               ids=(split.user_ids, split.item_ids))
    loaded = model_dir.load(directory)  # a LightGCN needs no training matrix: it carries it
    by_keras = keras.models.load_model(str(directory / "model.keras"), compile=False)
    expected = model.score_all(np.arange(5)).numpy()
    for other in (loaded, by_keras):
        assert type(other) is cls
        np.testing.assert_array_equal(other.score_all(np.arange(5)).numpy(), expected)
    description = model_dir.describe(directory)
    assert description["format"] == 2 and "train_matrix" not in description["config"]
    assert description["data"]["dataset"] == str(csv_path.resolve())
    assert description["data"]["fingerprint"] == data.split_fingerprint(split)
    user_ids, item_ids = model_dir.load_ids(directory)
    np.testing.assert_array_equal(user_ids, split.user_ids)
    np.testing.assert_array_equal(item_ids, split.item_ids)


def test_a_model_with_non_finite_weights_is_never_saved_nor_loaded(split, tmp_path):
    model = BPRMF(split.num_users, split.num_items, 4, seed=0)
    model.user_embedding.assign(np.full(model.user_embedding.shape, np.nan, np.float32))
    with pytest.raises(ValueError, match="user_embedding holds non-finite"):
        model_dir.save(model, tmp_path / "m", {})
    assert not any(tmp_path.iterdir())
    model.save(str(tmp_path / "model.keras"))  # bypassing the check, as a damaged file would
    good = model_dir.save(BPRMF(split.num_users, split.num_items, 4), tmp_path / "m", {})
    (tmp_path / "model.keras").replace(good / "model.keras")
    description = model_dir.describe(good)
    del description["files"]
    (good / "model.json").write_text(json.dumps(description))
    with pytest.raises(model_dir.ModelDirError, match="non-finite"):
        model_dir.load(good)


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_byte(path):
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))


DAMAGE = [
    ("model.keras", lambda path: path.unlink(), "model.keras: is missing"),
    ("model.keras", _truncate, "model.keras: has "),
    ("model.keras", _flip_a_byte, "does not match the checksum"),
    ("model.json", lambda path: path.write_text('{"class": "BPRMF", '), "is not valid JSON"),
    ("model.json", lambda path: path.write_text("[1, 2]"), "does not hold a JSON object"),
    ("model.json", lambda path: path.unlink(), "is not a kdtfrs model directory"),
]


@pytest.mark.parametrize("name, damage, message", DAMAGE)
def test_a_damaged_directory_is_reported_by_file_without_a_traceback(
        csv_path, tmp_path, capsys, name, damage, message):
    directory = save_untrained(tmp_path / "m", csv_path)
    damage(directory / name)
    assert run("evaluate", "--model-dir", directory) == 2
    err = capsys.readouterr().err
    assert message in err and str(directory) in err and "Traceback" not in err
    assert err.count("\n") == 1  # one line: the file, the problem, what to do


def test_a_damaged_ids_file_is_reported(csv_path, tmp_path):
    directory = save_untrained(tmp_path / "m", csv_path)
    _truncate(directory / "ids.npz")
    with pytest.raises(model_dir.ModelDirError, match=r"ids\.npz: has \d+ bytes"):
        model_dir.load_ids(directory)


def test_a_directory_of_the_first_format_still_loads(split, csv_path, tmp_path, capsys):
    model = BPRMF(split.num_users, split.num_items, 4, seed=0)
    old = tmp_path / "old"
    old.mkdir()
    model.save_weights(str(old / "weights"))
    (old / "model.json").write_text(json.dumps({
        "class": "BPRMF", "config": model.get_config(),
        "data": {"dataset": str(csv_path), "data_dir": None, "split": None, "seed": 0},
        "extra": {}}))
    loaded = model_dir.load(old)
    np.testing.assert_array_equal(loaded.user_embedding.numpy(), model.user_embedding.numpy())
    assert model_dir.load_ids(old) is None
    assert run("evaluate", "--model-dir", old) == 0
    assert "records no fingerprint of its data" in capsys.readouterr().err
    (old / "weights.index").unlink()
    assert run("evaluate", "--model-dir", old) == 2
    assert "weights.index: is missing" in capsys.readouterr().err


def test_the_recorded_data_is_absolute_verified_and_can_be_re_pointed(
        split, tmp_path, monkeypatch, capsys):
    csv_path = write_csv(tmp_path / "data" / "events.csv", num_users=60)
    directory = save_untrained(tmp_path / "m", csv_path)
    monkeypatch.chdir(tmp_path / "data")  # another folder: the absolute path still works
    assert run("evaluate", "--model-dir", directory) == 0

    moved = csv_path.rename(tmp_path / "moved.csv")
    assert run("evaluate", "--model-dir", directory) == 2
    err = capsys.readouterr().err
    assert "events.csv does not exist" in err and "point --dataset or --data-dir" in err
    assert run("evaluate", "--model-dir", directory, "--dataset", moved) == 0

    changed = tmp_path / "changed.csv"
    changed.write_text(moved.read_text() + "u0,inew,1\n")
    assert run("evaluate", "--model-dir", directory, "--dataset", changed) == 2
    err = capsys.readouterr().err
    assert "is not the data" in err and "recorded" in err and "--dataset" in err


def test_fingerprint_differences_say_what_differs(split):
    recorded = data.split_fingerprint(split)
    assert data.fingerprint_differences(recorded, recorded) == []
    users, items = split.test.to_pairs()
    fewer = data.InteractionMatrix.from_pairs(users[1:], items[1:], split.num_users,
                                              split.num_items)
    other = data.SplitData(split.train, split.valid, fewer, split.user_ids,
                           split.item_ids[::-1].copy(), split.name)
    differences = data.fingerprint_differences(recorded, data.split_fingerprint(other))
    assert differences == [f"test has {fewer.nnz} pairs, recorded {split.test.nnz}",
                           "the raw item ids differ"]
    with pytest.raises(ProvenanceError, match="the raw item ids differ"):
        record = {"dataset": "synthetic", "seed": 0, "split": "random",
                  "fingerprint": {**data.split_fingerprint(data.load_dataset("synthetic")),
                                  "sha256": "0", "parts": {"item_ids": "0"}}}
        load_verified(record, "model")


def test_a_named_dataset_is_recorded_with_its_absolute_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KDTFRS_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    resolved = DataSpec("citeulike-t").resolved()
    assert (resolved.data_dir, resolved.split) == (str(tmp_path.resolve()), "ordered")
    assert DataSpec("synthetic").resolved().data_dir is None
    relative = DataSpec("events.csv", delimiter=";").resolved()
    assert (relative.dataset, relative.delimiter) == (str(tmp_path / "events.csv"), ";")
