"""Teachers known by their weights: equal across saves, names and paths; older records too."""

import json
import shutil

import numpy as np
import pytest

from kdtfrs import model_dir, teacher_identity
from kdtfrs.commands import _settings_differences
from kdtfrs.models import BPRMF
from tests.run_helpers import FAST, run, save_untrained, write_csv


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("data") / "events.csv", num_users=40)


def test_the_digest_follows_the_weights_not_the_files_or_names(csv_path, tmp_path):
    first = save_untrained(tmp_path / "a", csv_path)
    second = save_untrained(tmp_path / "b", csv_path)  # same seed: the same weights
    assert (model_dir.file_sha256(first / model_dir.MODEL_FILE)
            != model_dir.file_sha256(second / model_dir.MODEL_FILE))  # paths are recorded
    a, b = model_dir.load(first), model_dir.load(second)  # two models of one process
    assert teacher_identity.weights_digest(a) == teacher_identity.weights_digest(b)

    other_seed = model_dir.load(save_untrained(tmp_path / "c", csv_path, seed=1))
    assert teacher_identity.weights_digest(other_seed) != teacher_identity.weights_digest(a)
    bigger = BPRMF(a.num_users, a.num_items, 8, seed=0)
    assert teacher_identity.weights_digest(bigger) != teacher_identity.weights_digest(a)
    a.metrics[0].update_state(3.0)  # a loss tracker's state is not the teacher's
    assert teacher_identity.weights_digest(a) == teacher_identity.weights_digest(b)
    a.user_embedding.assign_add(np.full(a.user_embedding.shape, 1e-7, np.float32))
    assert teacher_identity.weights_digest(a) != teacher_identity.weights_digest(b)


def test_a_record_is_the_same_teacher_moved_and_older_records_by_their_file(csv_path, tmp_path):
    directory = save_untrained(tmp_path / "teacher", csv_path)
    model = model_dir.load(directory)
    now = teacher_identity.record(directory, model)
    moved = {**now, "path": "/elsewhere/teacher"}
    assert teacher_identity.same(moved, now)
    assert teacher_identity.same([moved, moved], [now, now])
    assert not teacher_identity.same([moved], [now, now])
    assert not teacher_identity.same({**now, teacher_identity.DIGEST: "0" * 64}, now)
    assert teacher_identity.same(None, None) and not teacher_identity.same(None, now)

    legacy = {"path": str(directory),
              teacher_identity.LEGACY_DIGEST: model_dir.file_sha256(directory / "model.json")}
    assert teacher_identity.same(legacy, now)
    assert not teacher_identity.same({**legacy, teacher_identity.LEGACY_DIGEST: "0" * 64}, now)
    assert not teacher_identity.same(legacy, {**now, "path": str(tmp_path / "gone")})


def test_a_run_resumes_with_its_teacher_moved_but_not_with_another(csv_path, tmp_path):
    directory = save_untrained(tmp_path / "teacher", csv_path)
    now = {"command": "distill", "data": {"fingerprint": {}},
           "teacher": teacher_identity.record(directory, model_dir.load(directory))}
    moved = {**now, "teacher": {**now["teacher"], "path": "/elsewhere"}}
    assert _settings_differences(moved, now) == []
    other = save_untrained(tmp_path / "other", csv_path, seed=3)
    changed = {**now, "teacher": teacher_identity.record(other, model_dir.load(other))}
    assert _settings_differences(now, changed) == ["--teacher differs (other weights)"]


@pytest.mark.slow
def test_a_sweep_continues_with_its_teacher_saved_again_elsewhere(csv_path, tmp_path, capsys):
    teacher = tmp_path / "teacher"
    assert run("train", "--dataset", csv_path, "--epochs", 1, "--output", teacher, *FAST) == 0
    sweep = ["--methods", "scratch", "--epochs", 1, "--dim", 4, "--batch-size", 128,
             "--verbose", 0, "--output", tmp_path / "sweep"]
    settings_file = tmp_path / "sweep" / "sweep.json"

    # A sweep recorded by an earlier version: its teacher by model.json's hash.
    assert run("tune", "--teacher", teacher, *sweep) == 0
    written = settings_file.read_text()
    legacy = json.loads(written)
    legacy["teacher"] = {teacher_identity.LEGACY_DIGEST:
                         model_dir.file_sha256(teacher / model_dir.MODEL_FILE)}
    settings_file.write_text(json.dumps(legacy))
    assert run("tune", "--teacher", teacher, *sweep) == 0
    assert "1 trials (1 already done)" in capsys.readouterr().out

    # The same weights saved again, elsewhere: other file hashes, the same teacher.
    settings_file.write_text(written)
    description = model_dir.describe(teacher)
    again = model_dir.save(model_dir.load(teacher), tmp_path / "again", description["data"],
                           description["extra"])
    assert (model_dir.file_sha256(again / model_dir.MODEL_FILE)
            != model_dir.file_sha256(teacher / model_dir.MODEL_FILE))
    assert run("tune", "--teacher", again, *sweep) == 0
    assert "1 trials (1 already done)" in capsys.readouterr().out

    shutil.rmtree(again)
    other = save_untrained(again, csv_path, dim=8)
    assert run("tune", "--teacher", other, *sweep) == 2
    recorded = teacher_identity.weights_digest(model_dir.load(teacher))[:12]
    now = teacher_identity.weights_digest(model_dir.load(other))[:12]
    assert (f"other settings (teacher differ; its teacher: weights sha256 {recorded}…, this "
            f"one: weights sha256 {now}…)") in capsys.readouterr().err
    assert np.isfinite(json.loads((tmp_path / "sweep" / "trials.json").read_text())[0][
        "val_ndcg@20"])
