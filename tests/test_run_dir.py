"""A commit killed between its two renames is finished (or undone) by the next run."""

import pytest

from kdtfrs.run_dir import RunDirectory


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
