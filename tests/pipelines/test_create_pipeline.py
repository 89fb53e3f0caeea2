"""create_pipeline: the components it assembles, and the settings it refuses before any run."""

import pytest

from pipelines.pipeline import create_pipeline, split_input_config

ARGS = ("kdtfrs", "/tmp/root", "/tmp/data", "/tmp/serving")


def _ids(pipeline):
    return [component.id for component in pipeline.components]


def test_tfrecord_input_uses_import_example_gen_and_the_scratch_row_is_optional():
    ids = _ids(create_pipeline(*ARGS, data_format="tfrecord", scratch_baseline=False))
    assert ids[0] == "ImportExampleGen"
    assert "ScratchTrainer" not in ids and {"TeacherTrainer", "StudentTrainer"} <= set(ids)


def test_each_split_is_read_from_its_own_folder():
    splits = split_input_config().splits
    assert [(split.name, split.pattern) for split in splits] == [
        ("train", "train/*"), ("eval", "eval/*"), ("test", "test/*")]


@pytest.mark.parametrize("options, message", [
    ({"data_format": "parquet"}, "data_format must be one of"),
    ({"metric": "mrr"}, "metric must be one of"),
    ({"method": "rrd", "method_params": {"num_interesting": 0}}, "method 'rrd'"),
    ({"method": "nope"}, "method 'nope'"),
])
def test_bad_settings_are_refused_when_the_pipeline_is_built(options, message):
    with pytest.raises(ValueError, match=message):
        create_pipeline(*ARGS, **options)
