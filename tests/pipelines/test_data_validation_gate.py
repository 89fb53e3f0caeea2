"""Tests of the data gate's checks on TFDV statistics: clean splits pass; a malformed id, an
empty split and drifted item popularity are each reported with the feature and what to do."""

import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import statistics_pb2

from components.data_validation_gate import check_splits
from pipelines.pipeline import SCHEMA_FILE


@pytest.fixture(scope="module")
def schema():
    return tfdv.load_schema_text(str(SCHEMA_FILE))


def _statistics(frame, schema):
    return tfdv.generate_statistics_from_dataframe(
        frame, stats_options=tfdv.StatsOptions(schema=schema))


def _interactions(split, items, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user_id": rng.integers(0, 100, items.size), "item_id": items,
                         "split": split})


def _splits(schema, test_items=None, train_frame=None):
    rng = np.random.default_rng(0)
    train = train_frame if train_frame is not None else _interactions(
        "train", rng.integers(0, 200, 4000), 1)
    test = _interactions("test", test_items if test_items is not None
                         else rng.integers(0, 200, 1000), 2)
    statistics = {"train": _statistics(train, schema), "test": _statistics(test, schema)}
    anomalies = {split: tfdv.validate_statistics(stats, schema)
                 for split, stats in statistics.items()}
    return statistics, anomalies


def test_clean_splits_pass(schema):
    assert check_splits(*_splits(schema), schema) == []


def test_a_non_numeric_id_is_named_with_what_to_do(schema):
    train = _interactions("train", np.arange(50) % 20, 1).astype({"user_id": str})
    train.loc[3, "user_id"] = "abc"
    problems = check_splits(*_splits(schema, train_frame=train), schema)
    assert any("split 'train', feature 'user_id'" in problem and "must be an integer" in problem
               for problem in problems), problems


def test_an_empty_split_is_reported(schema):
    statistics, anomalies = _splits(schema)
    statistics["test"] = statistics_pb2.DatasetFeatureStatisticsList(
        datasets=[statistics_pb2.DatasetFeatureStatistics(num_examples=0)])
    problems = check_splits(statistics, anomalies, schema)
    assert problems and "split 'test' holds no interaction" in problems[0]


def test_drifted_item_popularity_is_reported(schema):
    problems = check_splits(*_splits(schema, test_items=np.arange(1000) % 5), schema)
    assert len(problems) == 1
    assert "split 'test', feature 'item_id'" in problems[0] and "drift" in problems[0].lower()
