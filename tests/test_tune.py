"""Weight sweeps: kdtfrs.tuning, its SVG plot and the `kdtfrs tune` command."""

import json
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from kdtfrs import tuning
from kdtfrs.data import Interactions, load_dataset, split_random
from kdtfrs.provenance import DataSpec
from kdtfrs.tuning_plot import validation_plot
from tests.run_helpers import FAST, digests, run, save_untrained, write_csv

SVG = "{http://www.w3.org/2000/svg}"


def record(method, weight, score, lr=1e-3, l2=1e-4, seed=0, **extra):
    return {"method": method, "weight": weight, "learning_rate": lr, "l2": l2, "seed": seed,
            "val_ndcg@20": score, "best_epoch": 2, "epochs": 3, "seconds_per_epoch": 0.5,
            **extra}


def test_trial_grid_tries_scratch_once_per_rate_and_l2():
    trials = tuning.trial_grid(["scratch", "kd", "kd"], [0.1, 0.01], [1e-3, 5e-3], [1e-4])
    assert [(t.method, t.weight, t.learning_rate) for t in trials] == [
        ("scratch", 0.0, 1e-3), ("scratch", 0.0, 5e-3),
        ("kd", 0.01, 1e-3), ("kd", 0.01, 5e-3), ("kd", 0.1, 1e-3), ("kd", 0.1, 5e-3)]
    assert trials[2].name == "kd-w0.01-lr0.001-l20.0001-seed0"
    seeded = tuning.trial_grid(["scratch"], [], [1e-3], [1e-4, 1e-2], seeds=[2, 0, 2])
    assert [(t.l2, t.seed) for t in seeded] == [(1e-4, 0), (1e-4, 2), (1e-2, 0), (1e-2, 2)]


def test_settings_are_ranked_by_their_mean_over_seeds():
    records = [record("scratch", 0.0, 0.040, lr=1e-2, seed=0),  # one lucky seed
               record("scratch", 0.0, 0.020, lr=1e-2, seed=1),
               record("scratch", 0.0, 0.032, lr=2e-3, seed=0),
               record("scratch", 0.0, 0.030, lr=2e-3, seed=1, best_epoch=4),
               record("kd", 0.1, 0.05, seed=0),
               {**record("kd", 0.1, None, seed=1), "diverged": "NaN"}]
    rows = {(r["method"], r["learning_rate"]): r for r in tuning.settings(records)}
    steady = rows["scratch", 2e-3]
    assert steady["seeds"] == [0, 1] and steady["best_epoch"] == 3
    np.testing.assert_allclose(steady["val_ndcg@20"], 0.031)
    np.testing.assert_allclose(steady["standard_error"], 0.001)  # std 0.0014 / sqrt(2)
    np.testing.assert_allclose(rows["scratch", 1e-2]["val_ndcg@20"], 0.030)
    assert rows["kd", 1e-3]["val_ndcg@20"] is None  # a seed diverged: not usable
    best = tuning.best_settings(list(rows.values()))
    assert best == {"scratch": steady}

@pytest.mark.parametrize("methods, weights, message", [
    (["rrd"], [0.0], "weight"),
    (["rrd"], [], "weights"),
    (["nope"], [0.1], "unknown method 'nope'"),
    ([], [0.1], "at least one method"),
])
def test_trial_grid_refuses_bad_settings(methods, weights, message):
    with pytest.raises(ValueError, match=message):
        tuning.trial_grid(methods, weights)


def test_table_marks_each_methods_best_and_shows_divergence():
    records = [record("kd", 0.1, 0.02), record("kd", 1.0, 0.03), record("kd", 1.0, 0.04, seed=1),
               record("scratch", 0.0, 0.025),
               {**record("rrd", 10.0, None), "diverged": "loss became NaN"}]
    rows = tuning.settings(records)
    text = tuning.table(rows, tuning.best_settings(rows), teacher_score=0.04)
    lines = text.splitlines()
    assert "Teacher: 0.0400." in lines
    body = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert [line.split(" | ")[0] for line in body] == ["| scratch", "| kd", "| kd", "| rrd"]
    assert body[1].endswith("| yes |") and "| 0.0350 ± 0.0050 | 0 1 |" in body[1]
    assert "| 0.0200 | 0 |" in body[2]
    assert "diverged" in body[3]


def test_plot_draws_a_line_per_method_and_the_references():
    records = [record("kd", 0.1, 0.02), record("kd", 1.0, 0.03), record("kd", 1.0, 0.01, lr=5e-3),
               record("rrd", 0.01, 0.028), record("scratch", 0.0, 0.025),
               {**record("rrd", 10.0, None), "diverged": "NaN"}]
    root = ElementTree.fromstring(validation_plot(tuning.settings(records), teacher_score=0.04))
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2  # kd and rrd; scratch is a reference line
    assert len(lines[0].get("points").split()) == 2  # kd at 0.1 and 1 (its best at 1)
    labels = [text.text for text in root.iter(f"{SVG}text")]
    assert "scratch (best) 0.0250" in labels and "teacher 0.0400" in labels


def test_plot_of_an_empty_sweep_says_so():
    root = ElementTree.fromstring(validation_plot(tuning.settings([record("scratch", 0.0, 0.02)])))
    assert any("no distillation trial" in (text.text or "") for text in root.iter(f"{SVG}text"))


# -- the command and the held-out teacher -----------------------------------------------------
@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tune")
    csv = write_csv(folder / "events.csv")
    assert run("train", "--dataset", csv, "--epochs", 2, "--output", folder / "teacher",
               *FAST) == 0
    return folder / "teacher"


SWEEP = ["--epochs", "2", "--dim", "4", "--batch-size", "128", "--verbose", "0"]


@pytest.mark.slow
def test_tune_writes_records_table_and_plot_and_continues(teacher, tmp_path, capsys):
    output = tmp_path / "sweep"
    assert run("tune", "--teacher", teacher, "--methods", "scratch", "kd", "--weights", 0.01,
               0.1, "--output", output, *SWEEP) == 0
    records = json.loads((output / "trials.json").read_text())
    assert sorted((r["method"], r["weight"]) for r in records) == [
        ("kd", 0.01), ("kd", 0.1), ("scratch", 0.0)]
    assert all(0 <= r["val_ndcg@20"] <= 1 for r in records)
    assert (output / "table.md").read_text().count("| kd |") == 2
    ElementTree.fromstring((output / "validation.svg").read_text())
    assert not (output / "work").exists()  # finished trials leave no work area
    assert "best per method" in capsys.readouterr().out

    # Extending the sweep trains only the new trial.
    assert run("tune", "--teacher", teacher, "--methods", "scratch", "kd", "--weights", 0.01,
               0.1, 1.0, "--output", output, *SWEEP) == 0
    out = capsys.readouterr().out
    assert "3 trials" not in out and "4 trials (3 already done)" in out
    assert [line[:6] for line in out.splitlines() if line.startswith("[")] == ["[4/4] "]
    assert len(json.loads((output / "trials.json").read_text())) == 4


@pytest.mark.slow
def test_a_sweep_of_one_seed_continues_with_more_seeds(teacher, tmp_path, capsys):
    """A sweep recorded when --seed took one value (no seed in its records, the seed in
    sweep.json's fit) counts its trials as that seed's."""
    output = tmp_path / "sweep"
    assert run("tune", "--teacher", teacher, "--methods", "scratch", "--seed", 3,
               "--output", output, *SWEEP) == 0
    records = json.loads((output / "trials.json").read_text())
    assert [r["seed"] for r in records] == [3]
    settings = json.loads((output / "sweep.json").read_text())
    settings["fit"]["seed"] = 3  # as written before
    (output / "sweep.json").write_text(json.dumps(settings))
    (output / "trials.json").write_text(json.dumps([
        {key: value for key, value in r.items() if key != "seed"} for r in records]))
    capsys.readouterr()
    assert run("tune", "--teacher", teacher, "--methods", "scratch", "--seed", 3, 4,
               "--output", output, *SWEEP) == 0
    out = capsys.readouterr().out
    assert "2 trials (1 already done)" in out and "seed 4: validation" in out
    assert sorted(r["seed"] for r in json.loads((output / "trials.json").read_text())) == [3, 4]
    assert "| 3 4 |" in (output / "table.md").read_text()


@pytest.mark.slow
def test_tune_refuses_other_settings_in_the_same_output(teacher, tmp_path, capsys):
    output = tmp_path / "sweep"
    assert run("tune", "--teacher", teacher, "--methods", "scratch", "--output", output,
               *SWEEP) == 0
    before = digests(output)
    assert run("tune", "--teacher", teacher, "--methods", "scratch", "--output", output,
               *SWEEP, "--epochs", "3") == 2
    assert "other settings (fit differ)" in capsys.readouterr().err
    assert digests(output) == before
    (output / "notes.txt").write_text("mine")
    assert run("tune", "--teacher", teacher, "--methods", "scratch", "--output", output,
               *SWEEP, "--epochs", "3", "--overwrite") == 0
    assert json.loads((output / "sweep.json").read_text())["fit"]["epochs"] == 3
    assert (output / "notes.txt").read_text() == "mine"  # not the sweep's: kept


@pytest.mark.slow
def test_a_sweep_takes_each_methods_hyperparameters_and_keeps_them(teacher, tmp_path, capsys):
    output = tmp_path / "sweep"
    kd = ["--methods", "kd", "--weights", 0.1, "--param", "temperature=2"]
    assert run("tune", "--teacher", teacher, "--methods", "scratch", "--output", output,
               *SWEEP) == 0
    assert run("tune", "--teacher", teacher, *kd, "--output", output, *SWEEP) == 0
    assert run("tune", "--teacher", teacher, "--methods", "mse", "--weights", 0.1,
               "--param", "num_items=5", "--output", output, *SWEEP) == 0
    assert json.loads((output / "sweep.json").read_text())["params"] == {
        "kd": {"temperature": 2.0}, "mse": {"num_items": 5}}
    before = digests(output)
    capsys.readouterr()
    assert run("tune", "--teacher", teacher, *kd[:-1], "temperature=3", "--output", output,
               *SWEEP) == 2
    assert ("a sweep of kd with other hyperparameters (temperature=2, given temperature=3)"
            in capsys.readouterr().err)
    assert digests(output) == before
    assert run("tune", "--teacher", teacher, *kd, "--output", output, *SWEEP) == 0
    assert "1 trials (1 already done)" in capsys.readouterr().out


def test_a_method_swept_before_sweeps_named_their_hyperparameters_ran_with_none(tmp_path):
    from kdtfrs.tune_command import _merged_params

    (tmp_path / "trials.json").write_text(json.dumps([record("kd", 0.1, 0.02)]))
    assert _merged_params(tmp_path, {}, {"kd": {}}) == {"kd": {}}
    assert _merged_params(tmp_path, {}, {"rd": {"mu": 0.2}}) == {"rd": {"mu": 0.2}}
    with pytest.raises(ValueError, match=r"kd with other hyperparameters \(none, given"):
        _merged_params(tmp_path, {}, {"kd": {"temperature": 2.0}})


@pytest.mark.parametrize("flags, message", [
    (["--methods", "kd"], "--weights is needed to tune kd"),
    (["--methods", "kd", "rrd", "--weights", "0.1", "--param", "temperature=2"],
     "one distillation method"),
    (["--methods", "kd", "--weights", "0.1", "--strategy", "mirrored"], "one device"),
    (["--methods", "kd", "--weights", "0.1", "--hold-out", "1"], "--hold-out must lie in"),
    (["--methods", "kd", "--weights", "0.1", "--param", "nope=3"],
     "--methods kd --param/--config"),
])
def test_tune_usage_errors(teacher, tmp_path, capsys, flags, message):
    assert run("tune", "--teacher", teacher, "--output", tmp_path / "sweep", *flags) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


def test_tune_refuses_an_output_inside_the_teacher(teacher, capsys):
    before = digests(teacher)
    assert run("tune", "--teacher", teacher, "--methods", "scratch",
               "--output", teacher / "sweep") == 2
    assert "overlaps the teacher directory" in capsys.readouterr().err
    assert digests(teacher) == before


def without_validation(split):
    """The interactions of ``split`` split again 8:0:2 (no validation part, like Gowalla's)."""
    pairs = [part.to_pairs() for part in (split.train, split.valid, split.test)]
    users, items = (np.concatenate(arrays) for arrays in zip(*pairs))
    interactions = Interactions(users, items, np.arange(users.size, dtype=np.float64),
                                split.user_ids, split.item_ids, split.name)
    return split_random(interactions, ratios=(0.8, 0.0, 0.2))


@pytest.mark.slow
def test_held_out_validation_retrains_the_teacher_once(teacher, tmp_path):
    spec = DataSpec(str(teacher.parent / "events.csv"))
    given = without_validation(spec.load())
    held = tuning.held_out_split(given, fraction=0.2)
    assert held.valid.nnz > 0 and held.train.nnz < given.train.nnz
    assert tuning.held_out_split(held, fraction=0.2) is held  # has a validation part
    output = tmp_path / "teacher-held-out"
    assert not tuning.is_trained(output)
    model = tuning.retrain_teacher(teacher, held, spec, output)
    assert model.embedding_dim == 4 and tuning.is_trained(output)
    assert not (tmp_path / tuning.WORK_DIR / output.name).exists()  # no empty checkpoint folder
    saved = digests(output)
    tuning.retrain_teacher(teacher, held, spec, output)  # reused, not trained again
    assert digests(output) == saved


def write_gowalla(folder, num_users=60, num_items=40, seed=0):
    """A small folder in Gowalla's format (train.txt and test.txt, no validation part)."""
    rng = np.random.default_rng(seed)
    lines = {"train": [], "test": []}
    for user in range(num_users):
        items = rng.choice(num_items, 8, replace=False)
        items[0] = user % num_items  # every item used
        lines["train"].append(" ".join(map(str, [user, *items[:6]])))
        lines["test"].append(" ".join(map(str, [user, *items[6:]])))
    (folder / "gowalla").mkdir(parents=True)
    for part, rows in lines.items():
        (folder / "gowalla" / f"{part}.txt").write_text("\n".join(rows) + "\n")
    return folder


@pytest.mark.slow
def test_a_held_out_sweep_of_scratch_students_does_not_retrain_the_teacher(tmp_path, capsys):
    data = ["--dataset", "gowalla", "--data-dir", write_gowalla(tmp_path / "data")]
    assert run("train", *data, "--epochs", 2, "--output", tmp_path / "teacher", *FAST) == 0
    output = tmp_path / "sweep"
    assert run("tune", "--teacher", tmp_path / "teacher", *data, "--methods", "scratch",
               "--lr", 0.01, 0.02, "--output", output, *SWEEP) == 0
    captured = capsys.readouterr()
    assert "holding out 0.1 of each user's training items" in captured.err
    assert "training the teacher again" not in captured.err
    assert "2 trials (0 already done)\n" in captured.out
    assert not (output / tuning.HELD_OUT_TEACHER).exists()
    assert "Teacher" not in (output / "table.md").read_text()
    assert len(json.loads((output / "trials.json").read_text())) == 2


def test_a_teacher_without_training_settings_cannot_be_retrained(tmp_path):
    untrained = save_untrained(tmp_path / "teacher", "synthetic")
    split = load_dataset("synthetic")
    with pytest.raises(ValueError, match="records no training settings"):
        tuning.retrain_teacher(untrained, split, DataSpec("synthetic"), tmp_path / "held")


def test_an_interrupted_sweep_says_how_to_continue(capsys):
    from types import SimpleNamespace

    from kdtfrs.commands import _report_interruption
    from kdtfrs.run_guards import RunInterrupted

    argv = ["tune", "--teacher", "t", "--methods", "kd", "--weights", "0.1", "--output", "s"]
    _report_interruption("kdtfrs tune", SimpleNamespace(command="tune", output="s", argv=argv),
                         RunInterrupted())
    err = capsys.readouterr().err
    assert "s/trials.json" in err and "continue with: kdtfrs tune --teacher t" in err
    assert "--resume" not in err


def test_a_diverged_trial_is_recorded_and_the_sweep_goes_on(teacher, tmp_path, monkeypatch):
    from kdtfrs.experiment import BackboneSpec, load_teacher
    from kdtfrs.fitting import FitConfig
    from kdtfrs.run_guards import NonFiniteLossError

    model, split, spec = load_teacher(teacher)

    def diverging(*args, **kwargs):
        raise NonFiniteLossError("loss", float("nan"), 0, 3)

    monkeypatch.setattr(tuning, "distill_student", diverging)
    sweep = tuning.Sweep(tmp_path / "sweep")
    trials = tuning.trial_grid(["kd"], [1.0, 10.0])
    records = sweep.run(model, split, spec, trials, BackboneSpec(dim=4), FitConfig(epochs=1),
                        report=lambda line: None)
    assert [("diverged" in r, r["weight"]) for r in records] == [(True, 1.0), (True, 10.0)]
    saved = json.loads((tmp_path / "sweep" / "trials.json").read_text())
    assert len(saved) == 2 and sweep.best() == {}
    assert "diverged" in (tmp_path / "sweep" / "table.md").read_text()
