"""End to end on real data: the local pipeline on MovieLens-100K from ../shared/data."""

import pytest

from kdtfrs.experiment import BackboneSpec
from kdtfrs.fitting import FitConfig
from pipelines.commands import run_locally

pytestmark = pytest.mark.slow


def test_the_pipeline_runs_on_movielens_100k(tmp_path, shared_data_dir):
    if not (shared_data_dir / "movielens-100k").is_dir():
        pytest.skip(f"MovieLens-100K not found in {shared_data_dir}")
    summary, _, layout = run_locally(
        tmp_path, "movielens-100k", data_dir=shared_data_dir, method="kd",
        teacher=BackboneSpec(dim=16), student=BackboneSpec(dim=4),
        fit=FitConfig(epochs=1, batch_size=4096), scratch_baseline=False, serving_k=20)
    assert set(summary.executions.values()) == {"complete"}
    assert summary.report["data"].startswith("examples: 943 users")
    assert summary.report["metrics"]["teacher"]["recall@50"] > 0
    assert summary.blessed is not None
    assert (summary.pushed_to is not None) == summary.blessed
    assert (layout.data("movielens-100k") / "test" / "interactions.csv").is_file()
