"""Wall time of the local TFX pipeline, per component, on the synthetic default and MovieLens.

    python benchmarks/pipeline.py                                   # both datasets
    python benchmarks/pipeline.py --datasets synthetic --beam-workers 2

Each record is one run into a new folder (nothing cached) with the demo's settings (64-d
teacher, 8-d scratch and RRD students, at most 30 epochs, patience 5; ``kdtfrs.demo``):
the seconds of every component as the local runner saw them, the whole run (pipeline
construction and data staging included), the test NDCG@20 of each model and the blessing,
and the load average before and after (the machine's cores are shared). Run
it from a snapshot of the repository, not from a tree others edit. Records:
benchmarks/results/pipeline.json, one per dataset x Beam workers (rerun to replace).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from kdtfrs.cli import quiet_tensorflow  # noqa: E402

quiet_tensorflow()

from benchmarks.records import ResultsFile  # noqa: E402
from kdtfrs import demo  # noqa: E402
from kdtfrs.experiment import BackboneSpec  # noqa: E402
from kdtfrs.fitting import FitConfig  # noqa: E402
from pipelines.commands import run_locally  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "pipeline.json"


def measure(dataset: str, beam_workers: int, data_dir=None) -> dict:
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kdtfrs-pipeline-") as output:
        summary, seconds, _ = run_locally(
            output, dataset, data_dir=data_dir, beam_workers=beam_workers, method="rrd",
            method_params=demo.RRD_PARAMS, teacher=BackboneSpec(dim=demo.TEACHER_DIM),
            student=BackboneSpec(dim=demo.STUDENT_DIM),
            fit=FitConfig(epochs=30, batch_size=1024, learning_rate=5e-3, patience=5),
            min_fraction_of_teacher=demo.MIN_FRACTION_OF_TEACHER)
        total = time.perf_counter() - start
    metrics = summary.report["metrics"]
    return {
        "dataset": dataset, "beam_workers": beam_workers, "data": summary.report["data"],
        "components": {node: value["seconds"] for node, value in seconds.items()},
        "total_seconds": round(total, 1),
        "ndcg@20": {name: round(values["ndcg@20"], 4) for name, values in metrics.items()},
        "blessed": summary.blessed,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["synthetic", "movielens-100k"])
    parser.add_argument("--beam-workers", type=int, default=1,
                        help="DirectRunner processes of the data components")
    parser.add_argument("--data-dir", help="folder of the named datasets")
    args = parser.parse_args(argv)
    results = ResultsFile(RESULTS, ("dataset", "beam_workers"))
    for dataset in args.datasets:
        record = measure(dataset, args.beam_workers, args.data_dir)
        results.add(record)
        print(f"{dataset}: {record['total_seconds']} s; {record['components']}")


if __name__ == "__main__":
    main()
