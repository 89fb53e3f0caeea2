"""benchmarks/epoch_boundary.py on the embedded synthetic data: one record per dim and mode."""

import json
import math

import pytest

from benchmarks import epoch_boundary


def test_records_each_dim_with_autotuning_on_and_off(tmp_path):
    results = tmp_path / "boundary.json"
    epoch_boundary.main(["--dataset", "synthetic", "--dims", "4", "--batch-size", "64",
                         "--epochs", "3", "--results", str(results)])
    records = json.loads(results.read_text())
    assert [(r["dim"], r["autotune"]) for r in records] == [(4, True), (4, False)]
    for record in records:
        for key in ("train_seconds", "boundary_seconds", "boundary_max_seconds"):
            assert math.isfinite(record[key]) and record[key] >= 0
        assert record["boundary_max_seconds"] >= record["boundary_seconds"]


def test_too_few_epochs_to_leave_the_first_out_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        epoch_boundary.main(["--dataset", "synthetic", "--epochs", "2",
                             "--results", str(tmp_path / "boundary.json")])
