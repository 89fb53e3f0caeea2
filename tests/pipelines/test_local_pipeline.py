"""End to end: the local pipeline on the synthetic default, one run shared by the tests.

The run completes; the pushed student loads and answers like the in-memory student; ML
Metadata records every artifact with its lineage and the evaluator's metrics; a rerun reuses
every result; a student below the threshold is neither blessed nor pushed.
"""

import numpy as np
import pytest
import tensorflow as tf

from components.full_ranking_evaluator import BLESSED_FILE, NOT_BLESSED_FILE
from components.model_layout import kdtfrs_model_dir
from kdtfrs import model_dir
from kdtfrs.demo import answer_request
from kdtfrs.data import read_split_examples
from kdtfrs.experiment import BackboneSpec
from kdtfrs.fitting import FitConfig
from kdtfrs.ranking import top_k_items
from kdtfrs.serving import user_examples
from pipelines.commands import print_outcome, run_locally
from pipelines.run_summary import node_of, open_store

pytestmark = pytest.mark.slow

K = 20
COMPONENTS = {"CsvExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator",
              "DataValidationGate", "TeacherTrainer", "ScratchTrainer", "StudentTrainer",
              "FullRankingEvaluator", "Pusher"}
OPTIONS = dict(method="rrd", method_params={"num_interesting": 10, "num_uninteresting": 20,
                                            "max_rank": 50},
               teacher=BackboneSpec(dim=16), student=BackboneSpec(dim=4),
               fit=FitConfig(epochs=2, batch_size=1024, learning_rate=5e-3), serving_k=K,
               min_fraction_of_teacher=0.0)


@pytest.fixture(scope="module")
def output(tmp_path_factory):
    return tmp_path_factory.mktemp("pipeline")


@pytest.fixture(scope="module")
def first_run(output):
    summary, seconds, layout = run_locally(output, "synthetic", **OPTIONS)
    return summary, seconds, layout


@pytest.fixture(scope="module")
def examples(first_run):
    _, _, layout = first_run
    files = sorted(layout.pipeline_root.glob("CsvExampleGen/examples/*/Split-*/*"))
    return read_split_examples([str(path) for path in files])


def test_every_component_runs_and_the_blessed_student_is_pushed(first_run):
    summary, seconds, layout = first_run
    assert summary.executions == {node: "complete" for node in COMPONENTS}
    assert set(seconds) == COMPONENTS
    assert summary.blessed is True
    assert summary.pushed_to.parent == layout.serving
    assert (summary.pushed_to / "saved_model.pb").is_file()
    assert set(summary.report["metrics"]) == {"teacher", "scratch", "student"}


def test_the_pushed_student_answers_with_the_in_memory_students_top_k(first_run, examples):
    summary, _, _ = first_run
    student = model_dir.load(kdtfrs_model_dir(summary.report["models"]["student"]["uri"]))
    users = np.arange(0, examples.num_users, 37)
    expected, expected_scores = top_k_items(
        student, users, K, exclude=(examples.train, examples.valid, examples.test))
    serve = tf.saved_model.load(str(summary.pushed_to)).signatures["serving_default"]
    answer = serve(examples=tf.constant(user_examples(examples.user_ids[users])))
    np.testing.assert_array_equal(answer["item_ids"].numpy(), examples.item_ids[expected])
    np.testing.assert_allclose(answer["scores"].numpy(), expected_scores, rtol=1e-5)
    assert not answer["is_fallback"].numpy().any()
    unknown = serve(examples=tf.constant(user_examples([10 ** 9])))
    assert unknown["is_fallback"].numpy().all()


def test_the_outcome_and_one_request_print_like_a_tool(first_run, capsys):
    summary, _, _ = first_run
    print_outcome(summary, "rrd")
    answer = answer_request(summary.pushed_to, user_id=0)
    out = capsys.readouterr().out
    assert "teacher            16" in out and "RRD student         4" in out
    assert "blessing: BLESSED (student ndcg@20" in out
    assert f"pushed: {summary.pushed_to}" in out
    assert f"request: serving_default(user_id=0) -> top 10 of {K} items" in out
    assert answer["item_ids"].shape == (1, K)


def test_ml_metadata_records_every_artifact_with_its_lineage(first_run):
    summary, _, layout = first_run
    store = open_store(layout.metadata)
    run = store.get_context_by_type_and_name("pipeline_run", summary.run_id)
    types = {kind.id: kind.name for kind in store.get_artifact_types()}
    producer, inputs = {}, {}
    for execution in store.get_executions_by_context(run.id):
        node = node_of(store, execution)
        for event in store.get_events_by_execution_ids([execution.id]):
            if event.type == event.OUTPUT:
                producer[event.artifact_id] = node
            elif event.type == event.INPUT:
                inputs.setdefault(node, set()).add(event.artifact_id)
    artifacts = {artifact.id: artifact for artifact in store.get_artifacts_by_id(list(producer))}
    for artifact in artifacts.values():
        assert tf.io.gfile.exists(artifact.uri), artifact.uri
    kinds = {types[artifact.type_id] for artifact in artifacts.values()}
    assert {"Examples", "Schema", "ExampleStatistics", "ExampleAnomalies", "Model",
            "ModelRun", "ModelEvaluation", "ModelBlessing", "PushedModel"} <= kinds

    def upstream(node):
        return {producer[artifact] for artifact in inputs.get(node, ())}

    assert upstream("Pusher") == {"StudentTrainer", "FullRankingEvaluator"}
    assert upstream("FullRankingEvaluator") == {"CsvExampleGen", "TeacherTrainer",
                                                "ScratchTrainer", "StudentTrainer"}
    assert upstream("StudentTrainer") == {"CsvExampleGen", "ImportSchemaGen", "TeacherTrainer"}
    assert upstream("DataValidationGate") == {"StatisticsGen", "ImportSchemaGen",
                                              "ExampleValidator"}


def test_the_evaluators_metrics_are_in_ml_metadata(first_run):
    summary, _, layout = first_run
    store = open_store(layout.metadata)
    [evaluation] = store.get_artifacts_by_type("ModelEvaluation")
    properties = evaluation.custom_properties
    for model in ("student", "teacher", "scratch"):
        for metric in ("recall@20", "ndcg@20", "ndcg@50"):
            assert properties[f"{model}_{metric}"].double_value == pytest.approx(
                summary.report["metrics"][model][metric], rel=1e-5)  # stored to 6 digits
    [blessing] = store.get_artifacts_by_type("ModelBlessing")
    assert blessing.custom_properties["blessed"].int_value == 1
    assert tf.io.gfile.exists(f"{blessing.uri}/{BLESSED_FILE}")


def test_a_rerun_with_unchanged_inputs_reuses_every_result(first_run, output):
    summary, _, _ = first_run
    again, _, _ = run_locally(output, "synthetic", **OPTIONS)
    assert again.executions == {node: "cached" for node in COMPONENTS}
    assert again.pushed_to == summary.pushed_to


def test_a_student_below_the_threshold_is_neither_blessed_nor_pushed(first_run, output):
    summary, _, layout = first_run
    strict = {**OPTIONS, "min_fraction_of_teacher": 10.0}
    refused, _, _ = run_locally(output, "synthetic", **strict)
    assert refused.executions["StudentTrainer"] == "cached"
    assert refused.executions["FullRankingEvaluator"] == "complete"
    assert refused.blessed is False and refused.pushed_to is None
    assert "below 1000% of the teacher's" in refused.report["reasons"][0]
    assert sorted(layout.serving.iterdir()) == [summary.pushed_to]
    store = open_store(layout.metadata)
    blessing = max(store.get_artifacts_by_type("ModelBlessing"), key=lambda artifact: artifact.id)
    assert tf.io.gfile.exists(f"{blessing.uri}/{NOT_BLESSED_FILE}")
