"""Faults as real processes: a killed run resumed to identical weights, Ctrl-C, two runs at once.

Two child processes start together (one module fixture) so that their TensorFlow start-ups
overlap: one is killed (SIGKILL) mid-epoch, the other is held after its first epoch while a
third tries the same output, then gets SIGINT. ``tests/faulty_kdtfrs.py`` injects the faults.
The uninterrupted reference and the resumed runs run in the test process meanwhile.
"""

import json
import os
import pathlib
import shlex
import subprocess
import sys

import numpy as np
import pytest

from kdtfrs import model_dir
from tests.run_helpers import FAST, run, write_csv

pytestmark = pytest.mark.slow

HELPER = pathlib.Path(__file__).with_name("faulty_kdtfrs.py")
TIMEOUT = 300


class Runs:
    """The child processes of the module, by name."""

    def __init__(self, folder, csv_path):
        self.folder, self.processes = folder, {}
        self.args = ["train", "--dataset", str(csv_path), "--epochs", "6", "--patience", "3",
                     *map(str, FAST)]

    def start(self, name, fault, *extra):
        self.processes[name] = subprocess.Popen(
            [sys.executable, str(HELPER), fault, *self.args, *map(str, extra)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, cwd=self.folder)

    def wait(self, name):
        """(exit status, stderr) of a run."""
        process = self.processes[name]
        _, err = process.communicate(timeout=TIMEOUT)
        return process.returncode, err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    runs = Runs(folder, write_csv(folder / "events.csv", num_users=80))
    runs.start("killed", "kill@2.1", "--output", folder / "killed")  # SIGKILL mid-epoch 3
    ready, go = folder / "first-ready", folder / "first-go"
    # held after epoch 1 (a second run tries meanwhile), then Ctrl-C in epoch 2
    runs.start("first", f"pause@0:{ready}:{go},sigint@1", "--output", folder / "first")
    runs.start("second", f"after:{ready}", "--output", folder / "first")  # while it is held
    yield runs
    go.touch()
    for process in runs.processes.values():
        if process.poll() is None:
            process.kill()
        process.communicate()


def weights(directory):
    return model_dir.load(directory).get_weights()


def test_a_second_run_into_the_same_output_is_refused_while_the_first_runs(runs):
    status, err = runs.wait("second")
    assert status == 2
    assert f"is being written by another kdtfrs run (pid {runs.processes['first'].pid}" in err
    (runs.folder / "first-go").touch()


def test_ctrl_c_keeps_the_best_model_so_far_and_says_how_to_resume(runs):
    (runs.folder / "first-go").touch()
    status, err = runs.wait("first")
    assert status == 130, err
    assert "Traceback" not in err
    assert "SIGINT: stopped after 2 finished epochs." in err
    best = runs.folder / "first.partial" / "best"
    assert "the best model so far (epoch " in err and str(best) in err
    assert model_dir.describe(best)["extra"]["interrupted"]["epochs_done"] == 2
    assert model_dir.load(best).embedding_dim == 4
    assert not (runs.folder / "first").exists()
    command = next(line for line in err.splitlines() if "resume with:" in line)
    argv = shlex.split(command.split("resume with: kdtfrs ", 1)[1])
    assert argv[-1] == "--resume"
    assert run(*argv) == 0  # the printed command, as it is
    assert model_dir.is_model_dir(runs.folder / "first")
    assert not (runs.folder / "first.partial").exists()


def test_a_killed_run_resumes_to_the_weights_and_metrics_of_an_uninterrupted_one(runs,
                                                                                 capsys):
    assert run(*runs.args, "--output", runs.folder / "reference") == 0  # here, meanwhile
    status, err = runs.wait("killed")
    assert status == -9, err
    work = runs.folder / "killed.partial"
    assert not (runs.folder / "killed").exists()
    assert sorted(path.name for path in (work / "checkpoints").iterdir()) == ["epoch-00002"]
    capsys.readouterr()
    assert run(*runs.args, "--output", runs.folder / "killed", "--resume") == 0
    assert "resuming the interrupted run" in capsys.readouterr().err
    for got, expected in zip(weights(runs.folder / "killed"), weights(runs.folder / "reference")):
        np.testing.assert_array_equal(got, expected)
    metrics = [json.loads((runs.folder / name / "metrics.json").read_text())
               for name in ("killed", "reference")]
    assert metrics[0]["test"] == metrics[1]["test"]
    for key in ("epochs", "best_epoch", "best_val_ndcg@20"):
        assert metrics[0]["training"][key] == metrics[1]["training"][key]
    assert not work.exists()
