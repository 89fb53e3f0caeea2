"""benchmarks/step_cost.py on the embedded synthetic data: methods as distill.py runs them."""

import json

from benchmarks import report, step_cost


def run(tmp_path, *arguments):
    """{method: record} of a small step_cost run on synthetic data with ``arguments``."""
    results = tmp_path / "step_cost.json"
    step_cost.main(["--dataset", "synthetic", "--batch-size", "256", "--teacher-dim", "32",
                    "--student-dim", "8", "--repeats", "1", *arguments,
                    "--results", str(results)])
    return {r["method"]: r for r in json.loads(results.read_text())}


def test_methods_run_with_distill_s_settings_for_the_dataset(tmp_path, monkeypatch):
    monkeypatch.setitem(step_cost.SETTINGS, "synthetic",
                        {"params": {"rrd": {"weight": 10.0, "draw_every": "epoch"}}})
    records = run(tmp_path, "--methods", "kd", "rrd")
    assert set(records) == {"scratch", "kd", "rrd"}
    assert (records["rrd"]["draw_every"], records["kd"]["draw_every"]) == ("epoch", "step")
    table = "\n".join(report.step_cost_section(list(records.values())))
    assert "| rrd, drawn per epoch |" in table and "| kd |" in table


def test_bd_is_timed_beside_its_trainable_teacher_s_step(tmp_path):
    records = run(tmp_path, "--methods", "kd", "--bd")
    assert set(records) == {"scratch", "kd", "teacher step", "bd"}
    assert records["bd"]["step_ms"] > 0 and records["bd"]["refresh_seconds"] is None
    table = "\n".join(report.bd_step_section(list(records.values())))
    assert "| synthetic | 256 | 32 / 8 |" in table
