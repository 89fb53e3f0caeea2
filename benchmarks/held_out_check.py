"""Do pairs held out of training rank models as the test part does? (Gowalla)

    python benchmarks/held_out_check.py

benchmarks/tune.py and tune_weights.py choose Gowalla's settings on 10% of the training
pairs held out, since its split has no validation part. This scores three models that see
only the other 90% on the held-out pairs and on the test part, so the two can be compared:
the two reference models of tune_weights.py (its ``--dataset gowalla`` teacher, trained
here if missing, and the scratch student, seed 0, not checkpointed) and the most-popular
ranking (every user gets the items by their count in the 90% part). Each record also
gives the mean count of the items the model puts in its top 20 (over the users with
held-out pairs), and the most-popular record says how concentrated each part is on popular
items: the share of its interactions on the 1% most popular items, and the mean popularity
of its items, both counted on the 90% part. Nothing is chosen here. Records:
benchmarks/results/held_out_check.json, one per dataset x model; resumable.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import RESULTS, benchmark_parser  # noqa: E402
from benchmarks.distill import SETTINGS  # noqa: E402
from benchmarks.popularity import HEAD_SHARE, head_items  # noqa: E402
from benchmarks.records import ResultsFile  # noqa: E402
from benchmarks.tune_weights import validation_setup  # noqa: E402
from kdtfrs.data import hold_out_validation  # noqa: E402
from kdtfrs.experiment import DataSpec, distill_student, evaluate_split  # noqa: E402
from kdtfrs.models import BPRMF  # noqa: E402
from kdtfrs.ranking import top_k_items  # noqa: E402

DATASET = "gowalla"


def scores(model, split):
    valid = evaluate_split(model, split, "valid", ks=(20,))
    test = evaluate_split(model, split, "test", ks=(20,))
    users = np.flatnonzero(split.valid.row_lengths() > 0)
    top, _ = top_k_items(model, users, 20, exclude=split.train)
    return {"held_out_ndcg@20": valid["ndcg@20"], "held_out_recall@20": valid["recall@20"],
            "test_ndcg@20": test["ndcg@20"], "test_recall@20": test["recall@20"],
            "top20_mean_popularity": float(split.train.item_popularity()[top].mean())}


def most_popular(train):
    """The most-popular ranking as a 1-d BPR-MF: user vectors 1, item vectors their count."""
    model = BPRMF(train.num_users, train.num_items, embedding_dim=1)
    model.user_embedding.assign(np.ones((train.num_users, 1), np.float32))
    model.item_embedding.assign(train.item_popularity().astype(np.float32)[:, None])
    return model


def popularity_concentration(split):
    """Per part: share of its interactions on the ``HEAD_SHARE`` most popular items of
    ``split.train``, and the mean training popularity of its items."""
    popularity = split.train.item_popularity()
    head = head_items(split.train)
    summary = {}
    for name, part in (("train", split.train), ("held_out", split.valid), ("test", split.test)):
        _, items = part.to_pairs()
        summary[f"{name}_head_share"] = float(head[items].mean())
        summary[f"{name}_mean_popularity"] = float(popularity[items].mean())
    return summary


def run(args):
    results = ResultsFile(args.results, ("dataset", "model"))
    if not results.has(dataset=DATASET, model="most_popular"):
        split = hold_out_validation(DataSpec(DATASET).load(), seed=0)
        results.add({"dataset": DATASET, "model": "most_popular",
                     **scores(most_popular(split.train), split),
                     "head_share": HEAD_SHARE, **popularity_concentration(split)})
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
