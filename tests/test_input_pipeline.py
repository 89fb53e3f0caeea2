"""benchmarks/input_pipeline.py on the embedded synthetic data: one finite record."""

import json
import math

import pytest

from benchmarks import input_pipeline, report


def test_records_the_four_timings(tmp_path):
    results = tmp_path / "pipeline.json"
    input_pipeline.main(["--dataset", "synthetic", "--batch-size", "256", "--dim", "4",
                         "--epochs", "1", "--results", str(results)])
    record, = json.loads(results.read_text())
    assert record["batches"] > 0
    assert record["steps_per_execution"] == 16
    for key in ("pipeline_seconds", "train_live_seconds", "train_cached_seconds",
                "train_grouped_seconds"):
        assert math.isfinite(record[key]) and record[key] > 0
    assert any(line.startswith("| synthetic | 256 |")
               for line in report.input_pipeline_section([record]))


@pytest.mark.parametrize("flag", ["--epochs", "--steps-per-execution"])
def test_nothing_to_time_is_refused(tmp_path, flag):
    with pytest.raises(SystemExit):
        input_pipeline.main(["--dataset", "synthetic", flag, "0",
                             "--results", str(tmp_path / "pipeline.json")])
    assert not (tmp_path / "pipeline.json").exists()
