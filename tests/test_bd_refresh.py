"""benchmarks/bd_refresh.py on the embedded synthetic data: every phase timed and recorded."""

import json

from benchmarks import bd_refresh


def test_every_phase_and_the_whole_refresh_are_recorded(tmp_path):
    results = tmp_path / "bd_refresh.json"
    bd_refresh.main(["--dataset", "synthetic", "--teacher-dim", "8", "--student-dim", "4",
                     "--repeats", "1", "--results", str(results)])
    records = json.loads(results.read_text())
    measures = {r["measure"] for r in records}
    assert {"block: scores", "block: ranks", "block: ranks by argsort", "block: log weights",
            "block: draws", "refresh: 1 thread"} <= measures
    assert all(r.get("ms", 1) > 0 and r.get("seconds", 1) > 0 for r in records)
