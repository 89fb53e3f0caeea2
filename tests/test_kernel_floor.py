"""benchmarks/kernel_floor.py at small shapes: the kernels chosen by --only, timed and recorded."""

import json

import pytest

from benchmarks import kernel_floor

SMALL = ["--items", "50", "--batch", "8", "--rows-per-example", "4", "--dim", "4",
         "--teacher-dim", "6", "--experts", "2", "--list-length", "20", "--draws", "5",
         "--repeats", "1"]


def test_only_times_the_kernels_it_names(tmp_path):
    results = tmp_path / "kernels.json"
    kernel_floor.main(SMALL + ["--only", "top_k", "gumbel", "--results", str(results)])
    names = {r["kernel"] for r in json.loads(results.read_text())}
    assert names == {"gumbel_noise (B x 20)", "top_k (5 of 20)", "top_k unordered (5 of 20)"}
    with pytest.raises(SystemExit, match="no kernel"):
        kernel_floor.main(SMALL + ["--only", "nothing", "--results", str(results)])


def test_scores_are_timed_at_once_and_in_row_chunks(tmp_path):
    results = tmp_path / "kernels.json"
    kernel_floor.main(SMALL + ["--only", "scores", "--results", str(results)])
    names = {r["kernel"] for r in json.loads(results.read_text())}
    assert names == {"teacher_scores (d_T=6)", "teacher_scores (d_T=6) (XLA)",
                     "teacher_scores (d_T=6) in row chunks", "scores at once",
                     "scores in row chunks", "scores of variables (d_T=6)"}


def test_list_math_is_timed_both_ways(tmp_path):
    results = tmp_path / "kernels.json"
    kernel_floor.main(SMALL + ["--only", "cumsum", "teacher order", "--results", str(results)])
    names = {r["kernel"] for r in json.loads(results.read_text())}
    assert names == {"cumsum", "cumsum in blocks", "teacher order, sorted and gathered",
                     "teacher order, kept as listed"}


def test_reads_of_gathered_variables_are_timed_whole_and_by_rows(tmp_path):
    results = tmp_path / "kernels.json"
    kernel_floor.main(SMALL + ["--only", "variable", "--results", str(results)])
    names = {r["kernel"] for r in json.loads(results.read_text())}
    assert names == {"dense read of a gathered variable (d_T=6)", "scores of variables (d_T=6)"}
