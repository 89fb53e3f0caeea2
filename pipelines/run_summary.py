"""What a pipeline run produced, read from ML Metadata: metrics, blessing, pushed model.

``summarize(metadata_path)`` looks at the newest run (pipeline_run context) of the store:
its executions (run, cached, failed), the evaluator's report (its evaluation artifact's
metrics.json), the blessing and where the Pusher put the student, if it did.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata

from components.full_ranking_evaluator import METRICS_FILE

_STATE = metadata_store_pb2.Execution.State


@dataclasses.dataclass
class RunSummary:
    run_id: str
    executions: dict  # node id -> "complete" | "cached" | "failed" | ...
    report: dict | None  # the evaluator's metrics.json
    blessed: bool | None
    pushed_to: pathlib.Path | None  # <serving dir>/<version>, when the student was pushed


def open_store(metadata_path) -> metadata_store.MetadataStore:
    return metadata_store.MetadataStore(
        metadata.sqlite_metadata_connection_config(str(metadata_path)))


def latest_run(store) -> metadata_store_pb2.Context:
    runs = store.get_contexts_by_type("pipeline_run")
    if not runs:
        raise ValueError("the metadata store records no pipeline run.")
    return max(runs, key=lambda context: (context.create_time_since_epoch, context.id))


def node_of(store, execution) -> str:
    """The pipeline node (component id) an execution belongs to."""
    node_type = store.get_context_type("node").id
    for context in store.get_contexts_by_execution(execution.id):
        if context.type_id == node_type:
            return context.name.split(".", 1)[-1]
    return execution.name or str(execution.id)


def summarize(metadata_path) -> RunSummary:
    store = open_store(metadata_path)
    run = latest_run(store)
    executions = {node_of(store, execution): _STATE.Name(execution.last_known_state).lower()
                  for execution in store.get_executions_by_context(run.id)}
    types = {artifact_type.id: artifact_type.name for artifact_type in store.get_artifact_types()}
    report = blessed = pushed_to = None
    for artifact in store.get_artifacts_by_context(run.id):
        kind, properties = types[artifact.type_id], artifact.custom_properties
        if kind == "ModelEvaluation":
            path = pathlib.Path(artifact.uri) / METRICS_FILE
            report = json.loads(path.read_text()) if path.is_file() else None
        elif kind == "ModelBlessing" and "blessed" in properties:
            blessed = bool(properties["blessed"].int_value)
        elif kind == "PushedModel" and properties.get("pushed") and properties["pushed"].int_value:
            pushed_to = pathlib.Path(properties["pushed_destination"].string_value)
    return RunSummary(run.name, executions, report, blessed, pushed_to)
