"""Tests of load_dataset: names, splits, CSV paths and the data folder lookup."""

import numpy as np
import pytest

from kdtfrs.data.errors import DataFormatError, DataNotFoundError
from kdtfrs.data.registry import DATASETS, load_dataset, resolve_data_dir


def test_synthetic_needs_no_files_and_follows_the_seed(tmp_path):
    split = load_dataset("synthetic", data_dir=tmp_path / "absent")
    assert split.name == "synthetic" and split.valid.nnz > 0
    again = load_dataset("synthetic", seed=0)
    np.testing.assert_array_equal(split.test.indices, again.test.indices)
    assert not np.array_equal(load_dataset("synthetic", seed=1).test.indices, split.test.indices)
    loo = load_dataset("synthetic", split="loo")
    assert loo.test.nnz == loo.num_users


def test_csv_path_is_split_randomly_by_default(tmp_path):
    path = tmp_path / "clicks.csv"
    rows = [f"u{u},i{(u * 7 + k) % 13},{k}" for u in range(6) for k in range(10)]
    path.write_text("UserId,ItemId,Timestamp\n" + "\n".join(rows) + "\n")
    split = load_dataset(path)
    assert (split.num_users, split.name) == (6, "clicks")
    assert split.train.nnz + split.valid.nnz + split.test.nnz == 60
    ordered = load_dataset(str(path), split="ordered")
    last_items = {f"i{(u * 7 + 9) % 13}" for u in range(6)}
    assert set(ordered.item_ids[ordered.test.indices].tolist()) == last_items


def test_csv_without_recognisable_columns(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("a\tb\n1\t2\n")
    with pytest.raises(DataFormatError, match="cannot tell the user and item columns"):
        load_dataset(path)


@pytest.mark.parametrize(
    "name, split, fragment",
    [
        ("netflix", None, "unknown dataset 'netflix'"),
        ("synthetic", "temporal", "split must be one of"),
        ("synthetic", "given", "needs a dataset that ships a split"),
    ],
)
def test_bad_names_and_splits(name, split, fragment):
    with pytest.raises(DataFormatError, match=fragment):
        load_dataset(name, split=split)


def test_data_folder_lookup(tmp_path, monkeypatch):
    monkeypatch.setenv("KDTFRS_DATA_DIR", str(tmp_path))
    assert resolve_data_dir() == tmp_path
    assert resolve_data_dir(tmp_path / "..") == tmp_path / ".."
    monkeypatch.setenv("KDTFRS_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(
        DataNotFoundError, match=r"nowhere \(from \$KDTFRS_DATA_DIR\) does not exist"
    ):
        load_dataset("citeulike-t")


def test_every_name_has_a_description():
    assert set(DATASETS) == {"synthetic", "movielens-100k", "gowalla", "citeulike-t", "citeulike-a"}
    assert all(spec.description for spec in DATASETS.values())


def test_named_datasets_on_the_shared_copy(shared_data_dir):
    citeulike = load_dataset("citeulike-t", data_dir=shared_data_dir)
    assert (citeulike.num_users, citeulike.num_items) == (5219, 25181)
    assert (citeulike.train.nnz, citeulike.valid.nnz, citeulike.test.nnz) == (
        98_405,
        12_451,
        14_724,
    )
    movielens = load_dataset("movielens-100k", data_dir=shared_data_dir)
    assert movielens.train.nnz + movielens.valid.nnz + movielens.test.nnz == 100_000
    gowalla = load_dataset("gowalla", data_dir=shared_data_dir)
    assert (gowalla.train.nnz, gowalla.valid.nnz, gowalla.test.nnz) == (810_128, 0, 217_242)
