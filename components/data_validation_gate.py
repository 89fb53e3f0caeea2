"""DataValidationGate: stops the pipeline when the data is not fit to train on.

TFX 1.16's ExampleValidator records anomalies (and a per-split ``blessed`` custom property)
but lets the run go on, an empty split raises no anomaly at all, and drift between the splits
of one span is not compared. This gate, placed between ExampleValidator and the Trainers,
fails its execution (so the run stops and nothing is trained or pushed) when:

- ExampleValidator found an anomaly in a split: a missing or malformed id, an unknown split
  value, an unexpected column...;
- a split holds no example;
- the item distribution of a split drifts from the training split's by more than the
  schema's ``drift_comparator`` allows (TFDV's L-infinity distance on ``item_id``).

The message names each split, feature and problem, and says what to do.
"""


import os

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.types import artifact_utils
from tfx.utils import io_utils

_TYPE = anomalies_pb2.AnomalyInfo.Type
_ANOMALIES_FILE = "SchemaDiff.pb"
_SCHEMA_FILE = "pipelines/schema/schema.pbtxt"
_WRITER = "kdtfrs.data.write_split_csv"


class DataValidationError(ValueError):
    """The pipeline's input data failed validation; the message lists what and what to do."""


def _advice(feature: str, reason_type: int) -> str:
    """What to do about one anomaly of ``feature``."""
    name = _TYPE.Name(reason_type)
    if name.startswith("COMPARATOR_"):
        return ("the splits are not drawn from the same interactions: split per user with "
                f"kdtfrs.data (split_random) and write them with {_WRITER}, or raise the "
                f"drift_comparator threshold in {_SCHEMA_FILE} if the shift is intended")
    if name == "SCHEMA_NEW_COLUMN":
        return (f"the pipeline reads the columns user_id, item_id, split: drop {feature!r} or "
                f"add it to {_SCHEMA_FILE}")
    if feature == "split":
        return f"every row's split must be train, eval or test, as {_WRITER} writes them"
    if "PRESENT" in name or name in ("SCHEMA_MISSING_COLUMN", "FEATURE_TYPE_NO_VALUES"):
        return f"every row needs a {feature}: fix or drop the rows without one"
    if "NUMBER_VALUES" in name or name == "FEATURE_TYPE_UNEXPECTED_REPEATED":
        return f"each row holds exactly one {feature}"
    if name == "INT_TYPE_SMALL_INT":
        return f"{feature} values must be >= 0"
    if name == "UNEXPECTED_DATA_TYPE" or name.startswith(("INT_TYPE", "STRING_TYPE")):
        return (f"{feature} must be an integer in every row: map raw ids to integers "
                f"(kdtfrs.data.index_ids) and write the data with {_WRITER}")
    return f"fix the data, or update {_SCHEMA_FILE} if the change is intended"


def anomaly_problems(split: str, anomalies: anomalies_pb2.Anomalies) -> list[str]:
    """One line per feature of ``split`` with anomalies: where, what, and what to do."""
    problems = []
    for feature, info in sorted(anomalies.anomaly_info.items()):
        reasons = list(info.reason) or [anomalies_pb2.AnomalyInfo.Reason(
            type=_TYPE.UNKNOWN_TYPE, description=info.description)]
        what = "; ".join((reason.description or info.short_description).rstrip(".")
                         for reason in reasons)
        advice = "; ".join(dict.fromkeys(_advice(feature, reason.type) for reason in reasons))
        problems.append(f"split {split!r}, feature {feature!r}: {what}. What to do: {advice}.")
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        what = (info.description or info.short_description).rstrip(".")
        problems.append(f"split {split!r}: {what}. What to do: "
                        f"{_advice('', _TYPE.UNKNOWN_TYPE)}.")
    return problems


def empty_split_problem(split: str, num_examples: int) -> list[str]:
    if num_examples > 0:
        return []
    return [f"split {split!r} holds no interaction. What to do: every split needs "
            "interactions (train to fit, eval for early stopping, test to evaluate): give each "
            "user enough interactions, or split with kdtfrs.data.split_random / "
            f"split_leave_one_out and write the data with {_WRITER}."]


def drift_problems(split: str, statistics, baseline_statistics, schema) -> list[str]:
    """Drift of ``split`` against the baseline (training) split, by the schema's
    ``drift_comparator`` of each feature (TFDV ``validate_statistics``)."""
    import tensorflow_data_validation as tfdv

    found = tfdv.validate_statistics(statistics, schema, previous_statistics=baseline_statistics)
    drifted = anomalies_pb2.Anomalies()
    for feature, info in found.anomaly_info.items():
        reasons = [reason for reason in info.reason
                   if _TYPE.Name(reason.type).startswith("COMPARATOR_")]
        if reasons:
            drifted.anomaly_info[feature].reason.extend(reasons)
    return anomaly_problems(split, drifted)


def check_splits(statistics, anomalies, schema, baseline_split: str = "train") -> list[str]:
    """Every problem found, one line each; ``statistics`` and ``anomalies`` map a split name
    to its DatasetFeatureStatisticsList and Anomalies protos."""
    problems = []
    for split in sorted(statistics):
        num_examples = sum(dataset.num_examples for dataset in statistics[split].datasets)
        problems += empty_split_problem(split, num_examples)
        if split in anomalies:
            problems += anomaly_problems(split, anomalies[split])
        if split != baseline_split and num_examples and baseline_split in statistics:
            problems += drift_problems(split, statistics[split], statistics[baseline_split],
                                       schema)
    return problems


@tfx.dsl.components.component
def DataValidationGate(
    statistics: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleStatistics],
    schema: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Schema],
    anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    baseline_split: tfx.dsl.components.Parameter[str] = "train",
) -> None:
    """Raises ``DataValidationError`` (the run stops) when ``check_splits`` finds a problem."""
    schema_proto = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema.uri))
    splits = artifact_utils.decode_split_names(statistics.split_names)
    stats = {split: stats_artifact_utils.load_statistics(statistics, split).proto()
             for split in splits}
    found = {}
    for split in artifact_utils.decode_split_names(anomalies.split_names):
        path = os.path.join(artifact_utils.get_split_uri([anomalies], split), _ANOMALIES_FILE)
        found[split] = _read_anomalies(path)
    problems = check_splits(stats, found, schema_proto, baseline_split)
    if problems:
        raise DataValidationError(
            "data validation stopped the pipeline; nothing was trained or pushed:\n  - "
            + "\n  - ".join(problems))


def _read_anomalies(path: str) -> anomalies_pb2.Anomalies:
    anomalies = anomalies_pb2.Anomalies()
    anomalies.ParseFromString(io_utils.read_bytes_file(path))
    return anomalies
