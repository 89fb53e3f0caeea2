"""Tests of the split as pipeline files: the CSV folders written, tf.Example files read back."""

import csv

import numpy as np
import pytest
import tensorflow as tf

from kdtfrs.data import read_split_examples, write_split_csv
from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.interactions import Interactions
from kdtfrs.data.split import split_random
from kdtfrs.data.synthetic import make_synthetic


def _raw_pairs(split, part):
    users, items = getattr(split, part).to_pairs()
    return set(zip(split.user_ids[users].tolist(), split.item_ids[items].tolist()))


def _write_examples(path, rows, compress=True):
    """rows: (user_id, item_id, split) -> one GZIP TFRecord file of tf.Examples."""
    options = tf.io.TFRecordOptions(compression_type="GZIP" if compress else "")
    with tf.io.TFRecordWriter(str(path), options) as writer:
        for user, item, split in rows:
            feature = {"user_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[user])),
                       "item_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[item])),
                       "split": tf.train.Feature(bytes_list=tf.train.BytesList(
                           value=[split.encode()]))}
            writer.write(tf.train.Example(
                features=tf.train.Features(feature=feature)).SerializeToString())


def _csv_rows(folder):
    rows = []
    for name in ("train", "eval", "test"):
        with open(folder / name / "interactions.csv", newline="") as file:
            reader = csv.reader(file)
            assert next(reader) == ["user_id", "item_id", "split"]
            rows += [(int(user), int(item), split) for user, item, split in reader]
    return rows


@pytest.fixture(scope="module")
def split():
    data = make_synthetic(num_users=40, num_items=60, mean_interactions_per_user=8, seed=2)
    return split_random(data, seed=1)


def test_write_split_csv_writes_one_folder_per_part_with_the_raw_ids(tmp_path, split):
    write_split_csv(split, tmp_path)
    rows = _csv_rows(tmp_path)
    for part, name in (("train", "train"), ("valid", "eval"), ("test", "test")):
        written = {(user, item) for user, item, label in rows if label == name}
        assert written == _raw_pairs(split, part)
    assert {label for _, _, label in rows} == {"train", "eval", "test"}


def test_an_empty_part_gets_a_header_only_file(tmp_path):
    data = Interactions.from_raw([7, 7, 9], [1, 2, 1])
    write_split_csv(split_random(data, ratios=(1.0, 0.0, 0.0)), tmp_path)
    assert (tmp_path / "test" / "interactions.csv").read_text() == "user_id,item_id,split\n"


def test_string_ids_are_refused_with_what_to_do(tmp_path):
    data = split_random(Interactions.from_raw(["ann", "bob"], ["x", "y"]))
    with pytest.raises(DataFormatError, match="user ids of type .* Map the ids to integers"):
        write_split_csv(data, tmp_path)


def test_examples_read_back_give_the_same_pairs_and_ids(tmp_path, split):
    write_split_csv(split, tmp_path / "csv")
    rows = _csv_rows(tmp_path / "csv")
    _write_examples(tmp_path / "a.gz", rows[::2])
    _write_examples(tmp_path / "b", rows[1::2], compress=False)
    read = read_split_examples([str(tmp_path / "a.gz"), str(tmp_path / "b")])
    for part in ("train", "valid", "test"):
        assert _raw_pairs(read, part) == _raw_pairs(split, part)
    used_items = np.unique(np.concatenate([getattr(split, part).to_pairs()[1]
                                           for part in ("train", "valid", "test")]))
    np.testing.assert_array_equal(read.item_ids, split.item_ids[used_items])
    np.testing.assert_array_equal(read.user_ids, split.user_ids)


@pytest.mark.parametrize("rows, message", [
    ([(1, 2, "train"), (1, 2, "test")], "1 .user, item. pairs lie in two splits, e.g. user 1"),
    ([(1, 2, "train"), (1, 3, "validation")], "split value b'validation' is not one of"),
])
def test_inconsistent_examples_are_refused(tmp_path, rows, message):
    _write_examples(tmp_path / "data.gz", rows)
    with pytest.raises(DataFormatError, match=message):
        read_split_examples(str(tmp_path / "*"))


def test_no_matching_file_is_an_error(tmp_path):
    with pytest.raises(DataFormatError, match="no example files match"):
        read_split_examples(str(tmp_path / "Split-train" / "*"))
