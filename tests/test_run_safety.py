"""Runs keep a user's work safe: no model replaced unasked, the teacher never the output, one
run per output, checks before training, nothing non-finite written, interrupted runs resumed.

The rules behind each case: no command exits 0 after writing a wrong or non-finite result,
and no command destroys a model it did not create.
"""

import json
import math

import numpy as np
import pytest

from kdtfrs import commands, fitting, model_dir
from kdtfrs.atomic_files import write_json
from kdtfrs.run_dir import OutputError, RunDirectory, RunLockedError
from tests import faulty_kdtfrs
from tests.run_helpers import FAST, digests, run, save_untrained, write_csv


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("data") / "events.csv")


@pytest.fixture(scope="module")
def teacher(csv_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "teacher"
    assert run("train", "--dataset", csv_path, "--epochs", 1, "--output", path, *FAST) == 0
    return path


def no_training(monkeypatch):
    """Makes any training fail the test: the checks must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("training started")
    monkeypatch.setattr(commands, "train_backbone", refuse)
    monkeypatch.setattr(commands, "distill_student", refuse)


def test_an_existing_model_is_replaced_only_with_overwrite(csv_path, tmp_path, capsys,
                                                          monkeypatch):
    target = save_untrained(tmp_path / "model", csv_path)
    before = digests(target)
    with monkeypatch.context() as patched:
        no_training(patched)
        assert run("train", "--dataset", csv_path, "--epochs", 1, "--seed", 1, "--output",
                   target, *FAST) == 2
    assert "already holds a model. Pass --overwrite" in capsys.readouterr().err
    assert digests(target) == before
    assert run("train", "--dataset", csv_path, "--epochs", 1, "--seed", 1, "--output", target,
               "--overwrite", *FAST) == 0
    after = digests(target)
    assert after["model.keras"] != before["model.keras"] and set(after) == set(before)
    assert model_dir.describe(target)["extra"]["run"]["command"] == "train"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]  # nothing beside


def test_the_teacher_is_never_the_output(teacher, monkeypatch, capsys):
    no_training(monkeypatch)
    before = digests(teacher)
    for output in (teacher, teacher.parent, teacher / "student"):
        assert run("distill", "--teacher", teacher, "--method", "kd", "--output", output,
                   "--overwrite") == 2
        assert "a run never writes over the model it reads" in capsys.readouterr().err
    assert digests(teacher) == before


def test_output_problems_are_found_before_training(tmp_path, monkeypatch, capsys):
    no_training(monkeypatch)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_text("mine")
    cases = [(a_file, "is a file, not a folder"), (a_file / "model", "is a file, not a folder"),
             (other, "is not a kdtfrs model directory and is not empty")]
    for output, message in cases:
        assert run("train", "--output", output, "--overwrite") == 2
        assert message in capsys.readouterr().err
    assert a_file.read_text() == "mine" and (other / "cat.jpg").read_text() == "mine"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt", "photos"]


def test_a_second_run_into_a_locked_output_is_refused(tmp_path, monkeypatch, capsys):
    no_training(monkeypatch)
    holder = RunDirectory(tmp_path / "model").open()
    try:
        assert run("train", "--output", tmp_path / "model") == 2
        assert "is being written by another kdtfrs run (pid" in capsys.readouterr().err
        with pytest.raises(RunLockedError):
            RunDirectory(tmp_path / "model", overwrite=True).open()
    finally:
        holder.close()
    assert not (tmp_path / "model.partial").exists()  # nothing to resume: removed


def test_a_diverging_run_fails_and_keeps_the_old_model(csv_path, tmp_path, capsys):
    target = save_untrained(tmp_path / "model", csv_path)
    before = digests(target)
    assert run("train", "--dataset", csv_path, "--epochs", 2, "--lr", "1e30", "--overwrite",
               "--output", target, *FAST[:4], "--verbose", 0) == 1
    err = capsys.readouterr().err
    assert "the training loss became nan" in err and "nothing was saved" in err
    assert digests(target) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]


def per_user_csv(path, items_per_user, num_users=40):
    rows = [f"u{user},i{(user * 7 + k) % 60},{k}" for user in range(num_users)
            for k in range(items_per_user)]
    path.write_text("user,item,timestamp\n" + "\n".join(rows) + "\n")
    return path


def test_an_empty_test_part_is_an_error_and_an_empty_validation_part_a_warning(tmp_path,
                                                                               capsys):
    single = per_user_csv(tmp_path / "single.csv", items_per_user=1)  # 8:1:1 -> 1/0/0
    assert run("train", "--dataset", single, "--output", tmp_path / "a", *FAST) == 2
    assert "the test part of single is empty" in capsys.readouterr().err
    five = per_user_csv(tmp_path / "five.csv", items_per_user=5)  # 8:1:1 -> 4/0/1
    assert run("train", "--dataset", five, "--epochs", 1, "--output", tmp_path / "b",
               *FAST) == 0
    assert "warning: five has no validation interactions: no early stopping" in (
        capsys.readouterr().err)
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text(),
                         parse_constant=lambda name: pytest.fail(f"{name} in metrics.json"))
    assert all(math.isfinite(value) for value in metrics["test"].values())
    assert run("evaluate", "--model-dir", tmp_path / "b", "--on", "valid") == 2
    assert "the valid part of five is empty" in capsys.readouterr().err


def test_results_files_hold_finite_numbers_only(tmp_path):
    with pytest.raises(ValueError, match=r"test\.ndcg@20=nan"):
        write_json(tmp_path / "metrics.json", {"test": {"ndcg@20": float("nan")}})
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_an_interrupted_distillation_resumes_to_the_uninterrupted_student(
        teacher, tmp_path, monkeypatch, capsys):
    args = ["distill", "--teacher", teacher, "--method", "rrd", "--epochs", 3,
            "--param", "num_interesting=5", "--param", "num_uninteresting=5",
            "--param", "max_rank=20", *FAST]
    assert run(*args, "--output", tmp_path / "reference") == 0
    monkeypatch.setattr(fitting, "EpochTimer", fitting.EpochTimer)  # restored after the test
    faulty_kdtfrs.install("sigint@0")  # Ctrl-C during the first epoch
    assert run(*args, "--output", tmp_path / "student") == 130
    err = capsys.readouterr().err
    assert "SIGINT: stopped after 1 finished epoch." in err and "--resume" in err
    best = model_dir.describe(tmp_path / "student.partial" / "best")
    assert best["extra"]["interrupted"]["epochs_done"] == 1
    assert not (tmp_path / "student").exists()
    monkeypatch.undo()

    assert run(*args, "--output", tmp_path / "student") == 2
    assert "holds an interrupted run" in capsys.readouterr().err
    assert run(*args, "--output", tmp_path / "student", "--resume", "--lr", 0.02) == 2
    assert "--lr was 0.01, now 0.02" in capsys.readouterr().err
    assert run(*args, "--output", tmp_path / "student", "--resume") == 0
    assert "resuming the interrupted run" in capsys.readouterr().err
    reference, resumed = (model_dir.load(tmp_path / name) for name in ("reference", "student"))
    for got, expected in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, expected)
    metrics = [json.loads((tmp_path / name / "metrics.json").read_text())
               for name in ("reference", "student")]
    assert metrics[0]["test"] == metrics[1]["test"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["reference", "student"]


def test_a_run_directory_is_replaced_whole_and_leaves_nothing_beside(tmp_path):
    output = tmp_path / "model"
    output.mkdir()
    (output / "model.json").write_text("{}")  # an old model
    with pytest.raises(OutputError, match="already holds a model"):
        RunDirectory(output).open()
    run_dir = RunDirectory(output, overwrite=True, resume=True).open()
    assert not run_dir.resuming  # nothing to resume: a new run
    run_dir.staging.mkdir()
    (run_dir.staging / "model.json").write_text('{"new": true}')
    run_dir.commit()
    assert json.loads((output / "model.json").read_text()) == {"new": True}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]
