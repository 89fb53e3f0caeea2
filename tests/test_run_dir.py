"""A commit killed between its two renames is finished (or undone) by the next run; a
multi-worker run's other workers start as the chief's run does (``RunDirectory.follow``)."""

import json

import pytest

from kdtfrs.run_dir import OutputError, RunDirectory


def fake_model(folder, tag):
    folder.mkdir(parents=True)
    (folder / "model.json").write_text("{}")
    (folder / "tag").write_text(tag)


@pytest.mark.parametrize("staged", [True, False])
def test_a_swap_killed_halfway_is_completed_or_undone(tmp_path, staged, capsys):
    output = tmp_path / "model"
    fake_model(tmp_path / ".model.replaced-123", "old")  # renamed aside, then killed
    if staged:
        fake_model(tmp_path / "model.partial" / "model", "new")
    with RunDirectory(output, overwrite=True) as run_dir:
        assert (output / "tag").read_text() == ("new" if staged else "old")
        assert not list(tmp_path.glob(".model.replaced-*"))
        assert run_dir.output == output
    assert ("finished the replacement" if staged else "put back") in capsys.readouterr().err


def test_the_old_model_left_aside_after_a_finished_swap_is_removed(tmp_path):
    output = tmp_path / "model"
    fake_model(output, "new")
    fake_model(tmp_path / ".model.replaced-123", "old")
    with RunDirectory(output, overwrite=True):
        pass
    assert (output / "tag").read_text() == "new"
    assert not list(tmp_path.glob(".model.replaced-*"))


def interrupted_run(output):
    """The work area a run killed after its second epoch leaves beside ``output``."""
    work = output.with_name(output.name + ".partial")
    (work / "checkpoints" / "epoch-00002").mkdir(parents=True)
    (work / "checkpoints" / "epoch-00002" / "state.index").write_text("state")
    (work / "checkpoints" / ".epoch-00003.tmp").mkdir()  # one being written when killed
    (work / "run.json").write_text(json.dumps({"command": "train", "seed": 3}))
    return work


def tree(folder):
    return sorted((str(path.relative_to(folder)), path.read_text() if path.is_file() else "")
                  for path in folder.rglob("*"))


def test_another_worker_resumes_from_a_copy_of_the_chiefs_checkpoint(tmp_path):
    chief = interrupted_run(tmp_path / "shared" / "student")
    before = tree(chief)
    worker = RunDirectory(tmp_path / "scratch" / "student", resume=True)
    worker.follow(tmp_path / "shared" / "student")
    with worker:
        assert worker.resuming
        assert tree(worker.checkpoints) == [("epoch-00002", ""),
                                            ("epoch-00002/state.index", "state")]
        assert worker.settings() == {"command": "train", "seed": 3}
    assert tree(chief) == before  # only read


def test_another_worker_stops_where_the_chief_will(tmp_path):
    chief_output = tmp_path / "shared" / "student"
    interrupted_run(chief_output)
    with pytest.raises(OutputError, match="holds an interrupted run .* Pass --resume"):
        RunDirectory(tmp_path / "scratch" / "student").follow(chief_output)
    fake_model(tmp_path / "shared" / "finished", "old")
    with pytest.raises(OutputError, match="already holds a model. Pass --overwrite"):
        RunDirectory(tmp_path / "scratch" / "finished").follow(tmp_path / "shared" / "finished")
    worker = RunDirectory(tmp_path / "scratch" / "student", overwrite=True)
    worker.follow(chief_output)  # the chief starts over: so does this worker
    with worker:
        assert not worker.resuming and not worker.has_checkpoint()


def test_another_worker_starts_fresh_when_the_chief_has_nothing_to_resume(tmp_path):
    worker = RunDirectory(tmp_path / "scratch" / "student", resume=True)
    worker.follow(tmp_path / "shared" / "student")
    with worker:
        assert not worker.resuming
    assert not (tmp_path / "shared").exists()
