"""The command line end to end on a small synthetic-like CSV: train, distill, evaluate."""

import json

import numpy as np
import pytest

from kdtfrs import cli
from kdtfrs.data import make_synthetic


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    data = make_synthetic(num_users=120, num_items=100, num_clusters=4,
                          mean_interactions_per_user=10, seed=0)
    path = tmp_path_factory.mktemp("data") / "events.csv"
    rows = np.stack([data.users, data.items, data.order], axis=1)
    np.savetxt(path, rows, fmt=["u%d", "i%d", "%.0f"], delimiter=",",
               header="user,item,timestamp", comments="")
    return path


def run(*argv):
    assert cli.main([str(a) for a in argv]) == 0


@pytest.mark.slow
def test_train_distill_evaluate(csv_path, tmp_path):
    common = ["--epochs", 2, "--batch-size", 256, "--verbose", 0]
    run("train", "--dataset", csv_path, "--dim", 16, "--output", tmp_path / "teacher", *common)
    metrics = json.loads((tmp_path / "teacher" / "metrics.json").read_text())
    assert 0 <= metrics["test"]["ndcg@20"] <= 1

    run("distill", "--teacher", tmp_path / "teacher", "--method", "rrd", "--dim", 4,
        "--param", "num_interesting=5", "--param", "num_uninteresting=5",
        "--param", "max_rank=20", "--output", tmp_path / "rrd", *common)
    student = json.loads((tmp_path / "rrd" / "metrics.json").read_text())
    assert student["method"] == "rrd" and student["method_config"]["num_interesting"] == 5

    run("evaluate", "--model-dir", tmp_path / "rrd", "--ks", 5, 10)
    evaluated = json.loads((tmp_path / "rrd" / "metrics-test.json").read_text())
    assert set(evaluated) >= {"recall@5", "ndcg@10"}


def test_errors_are_reported_not_raised(tmp_path, capsys):
    assert cli.main(["evaluate", "--model-dir", str(tmp_path)]) == 2
    assert "not a kdtfrs model directory" in capsys.readouterr().err
    assert cli.main(["train", "--dataset", str(tmp_path / "missing.csv"),
                     "--output", str(tmp_path / "m")]) == 2
    with pytest.raises(SystemExit):
        cli.main(["distill", "--teacher", str(tmp_path), "--method", "nope",
                  "--output", str(tmp_path / "s")])


def test_bad_param_syntax(tmp_path):
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        cli.main(["distill", "--teacher", str(tmp_path), "--method", "rrd",
                  "--param", "oops", "--output", str(tmp_path / "s")])
