"""Files and folders written whole: the destination holds the old version or the new one."""

import json
import os

import pytest

from kdtfrs.atomic_files import non_finite_entries, replace_directory, write_json, write_text


def test_a_file_is_replaced_and_no_temporary_is_left(tmp_path):
    path = tmp_path / "notes.txt"
    write_text(path, "old")
    write_text(path, "new")
    assert path.read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_non_finite_results_are_refused_and_the_old_file_kept(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"ndcg@20": 0.25})
    with pytest.raises(ValueError, match=r"ndcg@20=nan"):
        write_json(path, {"ndcg@20": float("nan")})
    assert json.loads(path.read_text()) == {"ndcg@20": 0.25}
    assert non_finite_entries({"a": [1.0, float("inf")]}) == [("a.1", float("inf"))]


def test_a_folder_is_swapped_whole(tmp_path):
    destination = tmp_path / "model"
    destination.mkdir()
    (destination / "old.txt").write_text("old")
    source = tmp_path / ".model.new"
    (source / "nested").mkdir(parents=True)
    (source / "nested" / "new.txt").write_text("new")
    replace_directory(source, destination)
    assert (destination / "nested" / "new.txt").read_text() == "new"
    assert not (destination / "old.txt").exists()
    assert sorted(os.listdir(tmp_path)) == ["model"]


def test_a_failed_swap_puts_the_old_folder_back(tmp_path):
    destination = tmp_path / "model"
    destination.mkdir()
    (destination / "old.txt").write_text("old")
    with pytest.raises(OSError):
        replace_directory(tmp_path / "missing", destination)
    assert (destination / "old.txt").read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["model"]
