"""The command line: train, distill, evaluate end to end; help, flags, defaults, messages."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from kdtfrs import cli, model_dir
from kdtfrs.data import load_dataset
from kdtfrs.evaluation import evaluate
from kdtfrs.experiment import BackboneSpec
from tests.run_helpers import FAST, run, write_csv


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("data") / "events.csv")


@pytest.mark.slow
def test_train_distill_evaluate(csv_path, tmp_path, capsys):
    assert run("train", "--dataset", csv_path, "--epochs", 2, "--output", tmp_path / "teacher",
               *FAST) == 0
    metrics = json.loads((tmp_path / "teacher" / "metrics.json").read_text())
    assert 0 <= metrics["test"]["ndcg@20"] <= 1 and metrics["training"]["epochs"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["teacher"]  # no work area left

    assert run("distill", "--teacher", tmp_path / "teacher", "--method", "rrd", "--epochs", 2,
               "--param", "num_interesting=5", "--param", "num_uninteresting=5",
               "--param", "max_rank=20", "--stop-on", "ndcg@10", "--output", tmp_path / "rrd",
               *FAST) == 0
    student = json.loads((tmp_path / "rrd" / "metrics.json").read_text())
    assert student["method"] == "rrd" and student["method_config"]["num_interesting"] == 5
    assert student["fit"]["stop_on"] == "ndcg@10"  # the reference protocol's stopping rule
    assert {"best_val_ndcg@10", "best_val_ndcg@20"} <= set(student["training"])

    assert run("evaluate", "--model-dir", tmp_path / "rrd", "--ks", 5, 10) == 0
    evaluated = json.loads((tmp_path / "rrd" / "metrics-test.json").read_text())
    assert set(evaluated) >= {"recall@5", "ndcg@10"}
    user_ids, item_ids = model_dir.load_ids(tmp_path / "rrd")
    assert user_ids[0] == "u0" and str(item_ids[0]).startswith("i")
    assert "test metrics" in capsys.readouterr().out

    # The reference protocol leaves only the training items out of the test ranking.
    assert run("evaluate", "--model-dir", tmp_path / "rrd", "--ks", 5, 10,
               "--protocol", "reference") == 0
    reference = json.loads((tmp_path / "rrd" / "metrics-test-reference.json").read_text())
    split = load_dataset(str(csv_path))
    expected = evaluate(model_dir.load(tmp_path / "rrd", split.train), split.test,
                        exclude=(split.train,), ks=(5, 10)).metrics
    assert reference == pytest.approx({key: float(value) for key, value in expected.items()})


def test_help_answers_without_starting_tensorflow():
    code = ("import sys; from kdtfrs import cli; cli.build_parser().format_help(); "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False"] and out.stderr == ""
    script = [os.path.join(os.path.dirname(sys.executable), "kdtfrs"), "--help"]
    shown = subprocess.run(script, capture_output=True, text=True, check=True)
    assert shown.stderr == "" and "distill" in shown.stdout


def test_every_option_says_its_default():
    parser = cli.build_parser(method_ids=["kd", "rrd"])
    commands = parser._subparsers._group_actions[0].choices
    formatter = cli._HelpFormatter("kdtfrs")
    for name, command in commands.items():
        for action in command._actions:
            if not action.option_strings or action.required or action.nargs == 0:
                continue  # positional, required, or an on/off switch (--help, --overwrite...)
            assert "default" in formatter._get_help_string(action), (name, action.dest)


@pytest.mark.parametrize("flag, value, fragment", [
    ("--lr", "nan", "`--lr` must be a finite number > 0"),
    ("--lr", "-1", "`--lr` must be a finite number > 0"),
    ("--lr", "inf", "`--lr` must be a finite number"),
    ("--epochs", "0", "`--epochs` must be an integer >= 1"),
    ("--patience", "-1", "`--patience` must be an integer >= 1"),
    ("--batch-size", "1.5", "expected an integer"),
    ("--dim", "0", "`--dim` must be an integer >= 1"),
    ("--l2", "-0.1", "`--l2` must be a finite number >= 0"),
    ("--seed", "-3", "`--seed` must be an integer >= 0"),
    ("--delimiter", "ab", "one character"),
])
def test_numeric_flags_are_checked_before_anything_runs(tmp_path, capsys, flag, value,
                                                        fragment):
    assert run("train", flag, value, "--output", tmp_path / "m") == 2
    err = capsys.readouterr().err
    assert fragment in err and f"argument {flag}" in err
    assert not any(tmp_path.iterdir())


def test_library_messages_name_cli_flags():
    assert cli.cli_message("data folder /x (from the data_dir argument) does not exist. Pass "
                           "data_dir=, or set KDTFRS_DATA_DIR") == (
        "data folder /x (from --data-dir) does not exist. Pass --data-dir, or set "
        "KDTFRS_DATA_DIR")
    assert cli.cli_message("Fix the header or pass the right delimiter=") == (
        "Fix the header or pass the right --delimiter")
    assert cli.cli_message("user_column=7 is out of range; or pass order_column=None.") == (
        "--user-column 7 is out of range; or pass --order-column none.")
    assert cli.cli_message("user_column='x' is a name but header=False") == (
        "--user-column x is a name but --no-header")
    assert cli.cli_message("split='given' needs gowalla") == "--split given needs gowalla"


def test_data_errors_are_reported_with_flags_not_raised(tmp_path, capsys):
    assert run("evaluate", "--model-dir", tmp_path) == 2
    assert "not a kdtfrs model directory" in capsys.readouterr().err
    assert run("train", "--dataset", tmp_path / "missing.csv", "--output", tmp_path / "m") == 2
    assert "missing.csv does not exist" in capsys.readouterr().err
    odd = tmp_path / "odd.csv"
    odd.write_text("who,what\na,b\nc,d\n")
    assert run("train", "--dataset", odd, "--output", tmp_path / "m") == 2
    err = capsys.readouterr().err
    assert "--user-column and --item-column" in err and "user_column=" not in err
    assert run("train", "--dataset", "citeulike-t", "--data-dir", tmp_path / "nowhere",
               "--output", tmp_path / "m") == 2
    err = capsys.readouterr().err
    assert "(from --data-dir) does not exist" in err and "data_dir=" not in err
    assert not (tmp_path / "m").exists() and not (tmp_path / "m.partial").exists()


def test_distill_refuses_unknown_methods_and_bad_params(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["distill", "--teacher", str(tmp_path), "--method", "nope",
                  "--output", str(tmp_path / "s")])
    assert run("distill", "--teacher", tmp_path, "--method", "rrd", "--param", "oops",
               "--output", tmp_path / "s") == 2
    assert "--param expects KEY=VALUE" in capsys.readouterr().err
    assert run("distill", "--teacher", tmp_path, "--method", "rrd", "--param", "weight=-1",
               "--output", tmp_path / "s") == 2
    assert "`weight` must be a finite number >= 0" in capsys.readouterr().err


@pytest.mark.slow
def test_csv_options_as_flags(tmp_path):
    source = np.loadtxt(write_csv(tmp_path / "events.csv"), dtype=str, delimiter=",",
                        skiprows=1)
    headerless = tmp_path / "events.txt.csv"
    headerless.write_text("".join(f"{t};{u};{i}\n" for u, i, t in source))
    assert run("train", "--dataset", headerless, "--no-header", "--delimiter", "semicolon",
               "--user-column", 1, "--item-column", 2, "--order-column", 0, "--split",
               "ordered", "--epochs", 1, "--output", tmp_path / "m", *FAST) == 0
    record = model_dir.describe(tmp_path / "m")["data"]
    assert (record["delimiter"], record["user_column"], record["header"]) == (";", 1, False)
    assert run("evaluate", "--model-dir", tmp_path / "m") == 0  # the options are recorded


@pytest.mark.slow
def test_train_and_distill_under_the_mirrored_strategy(csv_path, tmp_path):
    """--strategy mirrored on the tests' two logical CPUs: --batch-size is per replica."""
    assert run("train", "--dataset", csv_path, "--epochs", 1, "--strategy", "mirrored",
               "--output", tmp_path / "teacher", *FAST) == 0
    assert model_dir.describe(tmp_path / "teacher")["extra"]["distribution"] == {
        "strategy": "mirrored", "replicas": 2, "batch_size_per_replica": 128,
        "global_batch_size": 256}
    assert run("distill", "--teacher", tmp_path / "teacher", "--method", "rrd", "--epochs", 1,
               "--param", "num_interesting=5", "--param", "num_uninteresting=5",
               "--param", "max_rank=20", "--strategy", "mirrored",
               "--output", tmp_path / "rrd", *FAST) == 0
    student = json.loads((tmp_path / "rrd" / "metrics.json").read_text())
    assert student["distribution"]["replicas"] == 2 and 0 <= student["test"]["ndcg@20"] <= 1


def test_multi_worker_needs_tf_config(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert run("train", "--strategy", "multi_worker", "--output", tmp_path / "m") == 2
    assert "needs the TF_CONFIG environment variable" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
    assert run("train", "--strategy", "tpu", "--output", tmp_path / "m") == 2
    assert "invalid choice: 'tpu'" in capsys.readouterr().err


def test_a_run_resumes_only_on_its_strategy():
    from kdtfrs.commands import _settings_differences

    before = {"command": "train", "data": {"fingerprint": {}}}  # started before --strategy
    now = {**before, "distribution": {"strategy": "default", "replicas": 1}}
    assert _settings_differences(before, now) == []
    mirrored = {**before, "distribution": {"strategy": "mirrored", "replicas": 2}}
    assert _settings_differences(now, mirrored) == ["replicas was 1, now 2",
                                                    "--strategy was default, now mirrored"]


def test_l2_form_is_recorded_only_when_not_the_default(csv_path, tmp_path):
    assert run("train", "--dataset", csv_path, "--epochs", 1, "--l2-form", "tables",
               "--output", tmp_path / "tables", *FAST) == 0
    recorded = json.loads((tmp_path / "tables" / "metrics.json").read_text())["backbone"]
    assert recorded["l2_form"] == "tables"
    assert model_dir.load(tmp_path / "tables").l2_form == "tables"
    assert "l2_form" not in BackboneSpec().config()  # configs from before it compare equal
    from kdtfrs.models import L2_FORMS

    for form in L2_FORMS:  # the flag offers every form the models take
        assert cli.build_parser().parse_args(["train", "--output", "o", "--l2-form",
                                              form]).l2_form == form
    with pytest.raises(ValueError, match="l2_form must be one of"):
        BackboneSpec(l2_form="batch")


def test_a_run_resumes_only_with_its_l2_form():
    from kdtfrs.commands import _settings_differences

    before = {"command": "train", "data": {"fingerprint": {}}, "backbone": {"l2": 0.01}}
    assert _settings_differences(before, before) == []
    tables = {**before, "backbone": {"l2": 0.01, "l2_form": "tables"}}
    assert _settings_differences(tables, before) == ["--l2-form was tables, now rows"]


def test_a_run_recorded_before_stop_on_resumes_with_the_default_only():
    from kdtfrs.commands import _settings_differences

    before = {"command": "train", "data": {"fingerprint": {}}, "fit": {"epochs": 5}}
    now = {**before, "fit": {"epochs": 5, "stop_on": "ndcg@20"}}
    assert _settings_differences(before, now) == []
    reference = {**before, "fit": {"epochs": 5, "stop_on": "ndcg@10"}}
    assert _settings_differences(before, reference) == ["--stop-on was ndcg@20, now ndcg@10"]
