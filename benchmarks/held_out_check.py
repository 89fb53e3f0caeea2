"""Do pairs held out of training rank models as the test part does? (Gowalla)

    python benchmarks/held_out_check.py

benchmarks/tune.py and tune_weights.py choose Gowalla's settings on 10% of the training
pairs held out, since its split has no validation part. This scores the two reference
models of tune_weights.py, both trained on the other 90% (the teacher of ``tune_weights.py
--dataset gowalla``, trained here if missing, and the scratch student, seed 0), on the
held-out pairs and on the test part, so the two can be compared. Nothing is chosen here;
the scratch student (25 epochs) is not checkpointed. Records:
benchmarks/results/held_out_check.json, one per dataset x model; resumable.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import RESULTS, benchmark_parser  # noqa: E402
from benchmarks.distill import SETTINGS  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402
from benchmarks.tune_weights import validation_setup  # noqa: E402
from kdtfrs.experiment import distill_student, evaluate_split  # noqa: E402

DATASET = "gowalla"


def scores(model, split):
    valid = evaluate_split(model, split, "valid", ks=(20,))
    test = evaluate_split(model, split, "test", ks=(20,))
    return {"held_out_ndcg@20": valid["ndcg@20"], "held_out_recall@20": valid["recall@20"],
            "test_ndcg@20": test["ndcg@20"], "test_recall@20": test["recall@20"]}


def run(args):
    results = ResultsFile(args.results, ("dataset", "model"))
    if all(results.has(dataset=DATASET, model=model) for model in ("teacher", "scratch")):
        return
    settings = SETTINGS[DATASET]
    distilled = ResultsFile(RESULTS / "distill.json", ("dataset", "method", "seed"))
    validation = validation_setup(DATASET, settings, args.work, distilled, args.verbose)
    results.add({"dataset": DATASET, "model": "teacher",
                 **scores(validation.teacher, validation.split)})
    fit = dataclasses.replace(settings["student_fit"], seed=0)
    student, _ = distill_student(validation.teacher, validation.split, validation.data_spec,
                                 None, settings["student"], fit, verbose=args.verbose)
    results.add({"dataset": DATASET, "model": "scratch", **scores(student, validation.split)})


def main(argv=None):
    run(benchmark_parser(__doc__, "held_out_check.json").parse_args(argv))


if __name__ == "__main__":
    main()
