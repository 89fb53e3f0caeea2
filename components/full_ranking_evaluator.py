"""FullRankingEvaluator: full-ranking Recall@K / NDCG@K of the student beside the teacher,
and the blessing the Pusher respects.

The stock Evaluator's artifact contract (inputs ``model``, ``baseline_model``, ``examples``;
outputs ``evaluation``: ModelEvaluation and ``blessing``: ModelBlessing), with the metrics of
``kdtfrs.evaluation``: every test user ranked against the whole catalogue, training and
validation items masked. TFMA has no such per-user full-catalogue metric.

Blessing: the student (``model``) is blessed when its ``metric`` on the test split is at least
``min_value`` (absolute) and at least ``min_fraction_of_teacher`` times the teacher's
(``baseline_model``, relative). As the stock Evaluator, it writes an empty ``BLESSED`` or
``NOT_BLESSED`` file into the blessing and sets its ``blessed`` custom property (1 or 0), which
the stock Pusher reads. Every metric is also a custom property of the evaluation artifact
(e.g. ``student_ndcg@20``), so ML Metadata shows it; ``metrics.json`` in the evaluation holds
them all with the thresholds and the verdict.
"""


import json
import os

from tfx import v1 as tfx
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.model_layout import load_kdtfrs_model

KS = (10, 20, 50)
METRICS_FILE = "metrics.json"
BLESSED_FILE, NOT_BLESSED_FILE = "BLESSED", "NOT_BLESSED"
_Model = tfx.types.standard_artifacts.Model


def check_metric(metric: str) -> str:
    """``metric`` if it is one the evaluator computes (recall@K or ndcg@K, K in ``KS``)."""
    names = [f"{kind}@{k}" for kind in ("recall", "ndcg") for k in KS]
    if metric not in names:
        raise ValueError(f"metric must be one of {names}, got {metric!r}.")
    return metric


def judge(student: dict, teacher: dict, metric: str, min_value: float,
          min_fraction_of_teacher: float) -> list[str]:
    """Why the student is not blessed (empty: blessed)."""
    value, reference = student[metric], teacher[metric]
    reasons = []
    if value < min_value:
        reasons.append(f"student {metric} {value:.4f} is below the absolute threshold "
                       f"{min_value:.4f}")
    if value < min_fraction_of_teacher * reference:
        reasons.append(f"student {metric} {value:.4f} is below {min_fraction_of_teacher:.0%} of "
                       f"the teacher's {reference:.4f}")
    return reasons


def evaluate_models(split, model_uris: dict) -> tuple[dict, dict]:
    """(metrics, models): the test metrics (``kdtfrs.experiment.evaluate_split``) of each
    Trainer's model by name, and what each model is (class, dim, artifact)."""
    from kdtfrs.experiment import evaluate_split

    metrics, models = {}, {}
    for name, uri in model_uris.items():
        model = load_kdtfrs_model(uri, split)
        metrics[name] = evaluate_split(model, split, "test", KS)
        models[name] = {"class": type(model).__name__, "dim": int(model.embedding_dim),
                        "uri": str(uri)}
    return metrics, models


def read_examples(examples):
    """The ``SplitData`` of an Examples artifact (all its splits)."""
    from kdtfrs.data import read_split_examples

    patterns = [io_utils.all_files_pattern(artifact_utils.get_split_uri([examples], split))
                for split in artifact_utils.decode_split_names(examples.split_names)]
    return read_split_examples(patterns, name="examples")


@tfx.dsl.components.component
def FullRankingEvaluator(
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    model: tfx.dsl.components.InputArtifact[_Model],
    baseline_model: tfx.dsl.components.InputArtifact[_Model],
    evaluation: tfx.dsl.components.OutputArtifact[
        tfx.types.standard_artifacts.ModelEvaluation],
    blessing: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.ModelBlessing],
    scratch_model: tfx.dsl.components.InputArtifact[_Model] = None,
    metric: tfx.dsl.components.Parameter[str] = "ndcg@20",
    min_value: tfx.dsl.components.Parameter[float] = 0.0,
    min_fraction_of_teacher: tfx.dsl.components.Parameter[float] = 0.0,
) -> None:
    """Evaluates the student (``model``), the teacher (``baseline_model``) and, if given, the
    student trained from scratch; blesses the student by the thresholds (module docstring)."""
    check_metric(metric)
    split = read_examples(examples)
    uris = {"student": model.uri, "teacher": baseline_model.uri}
    if scratch_model is not None:
        uris["scratch"] = scratch_model.uri
    metrics, models = evaluate_models(split, uris)
    reasons = judge(metrics["student"], metrics["teacher"], metric, min_value,
                    min_fraction_of_teacher)
    blessed = not reasons
    report = {"metrics": metrics, "models": models, "metric": metric,
              "thresholds": {"min_value": min_value,
                             "min_fraction_of_teacher": min_fraction_of_teacher},
              "blessed": blessed, "reasons": reasons, "data": str(split)}
    io_utils.write_string_file(os.path.join(evaluation.uri, METRICS_FILE),
                               json.dumps(report, indent=2) + "\n")
    for name, values in metrics.items():
        for key, value in values.items():
            evaluation.set_float_custom_property(f"{name}_{key}", value)
    evaluation.set_int_custom_property("blessed", int(blessed))

    io_utils.write_string_file(
        os.path.join(blessing.uri, BLESSED_FILE if blessed else NOT_BLESSED_FILE), "")
    blessing.set_int_custom_property("blessed", int(blessed))
    blessing.set_string_custom_property("current_model", model.uri)
    blessing.set_int_custom_property("current_model_id", model.id)
    blessing.set_string_custom_property("baseline_model", baseline_model.uri)
    blessing.set_int_custom_property("baseline_model_id", baseline_model.id)
    blessing.set_string_custom_property("reason", "; ".join(reasons) or "passed every threshold")
