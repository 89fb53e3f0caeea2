"""The Kubeflow Pipelines v2 spec: every component, the image, GPUs on the Trainers, Beam flags;
and ``kdtfrs pipeline compile`` from the installed command line, in another folder."""

import json
import os
import subprocess
import sys

import pytest

from pipelines.kubeflow_v2_runner import compile_pipeline, trainer_resources

IMAGE = "gcr.io/example/kdtfrs:0.1.0"
BEAM = ["--runner=DataflowRunner", "--project=example", "--region=europe-west1"]
COMPONENTS = {"CsvExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator",
              "DataValidationGate", "TeacherTrainer", "ScratchTrainer", "StudentTrainer",
              "FullRankingEvaluator", "Pusher"}
TRAINERS = {"TeacherTrainer", "ScratchTrainer", "StudentTrainer"}


def _executors(spec):
    pipeline = spec["pipelineSpec"]
    tasks = pipeline["root"]["dag"]["tasks"]
    executors = pipeline["deploymentSpec"]["executors"]
    return tasks, {name: executors[f"{name}_executor"]["container"] for name in tasks}


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    output = tmp_path_factory.mktemp("spec") / "kdtfrs.json"
    return compile_pipeline(
        output, image=IMAGE, pipeline_root="gs://bucket/root", data_root="gs://bucket/data",
        serving_model_dir="gs://bucket/serving", pipeline_name="kdtfrs-test",
        resources=trainer_resources(gpus=2, gpu_type="NVIDIA_L4", cpus=8, memory_gb=32),
        beam_pipeline_args=BEAM, method="kd", method_params={"weight": 0.5})


def test_every_component_runs_in_the_image(spec):
    tasks, containers = _executors(spec)
    assert set(tasks) == COMPONENTS
    assert {container["image"] for container in containers.values()} == {IMAGE}


def test_the_trainers_request_gpus_and_nothing_else_does(spec):
    _, containers = _executors(spec)
    for name, container in containers.items():
        resources = container.get("resources")
        if name in TRAINERS:
            assert resources["accelerator"] == {"type": "NVIDIA_L4", "count": "2"}
            assert (resources["cpuLimit"], resources["memoryLimit"]) == (8.0, 32.0)
        else:
            assert resources is None, name


def test_the_data_components_get_the_beam_flags(spec):
    _, containers = _executors(spec)
    for name in ("CsvExampleGen", "StatisticsGen", "ExampleValidator"):
        assert all(flag in containers[name]["args"] for flag in BEAM), name


def test_the_trainers_wait_for_the_data_gate_and_the_student_for_the_teacher(spec):
    tasks, _ = _executors(spec)
    for name in TRAINERS:
        assert "DataValidationGate" in tasks[name]["dependentTasks"]
    assert "TeacherTrainer" in tasks["StudentTrainer"]["dependentTasks"]
    assert {"StudentTrainer", "FullRankingEvaluator"} <= set(tasks["Pusher"]["dependentTasks"])


def test_a_name_kubeflow_refuses_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="lowercase letters, digits and dashes"):
        compile_pipeline(tmp_path / "spec.json", image=IMAGE, pipeline_root="r", data_root="d",
                         serving_model_dir="s", pipeline_name="kdtfrs_test")


def test_the_installed_command_compiles_from_another_folder(tmp_path):
    command = [os.path.join(os.path.dirname(sys.executable), "kdtfrs"), "pipeline", "compile",
               "--image", IMAGE, "--output", "spec.json", "--pipeline-root", "gs://b/root",
               "--data-root", "gs://b/data", "--serving-dir", "gs://b/serving", "--gpus", "1",
               "--beam-arg=--runner=DataflowRunner", "--method", "rrd",
               "--param", "num_interesting=20"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "10 components" in result.stdout
    tasks = json.loads((tmp_path / "spec.json").read_text())["pipelineSpec"]["root"]["dag"]
    assert set(tasks["tasks"]) == COMPONENTS
