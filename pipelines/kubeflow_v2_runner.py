"""Compiles the pipeline for Kubeflow Pipelines v2 / Vertex AI Pipelines: a pipeline-spec JSON.

    kdtfrs pipeline compile --image gcr.io/PROJECT/kdtfrs:0.1.0 --output kdtfrs.json \\
        --pipeline-root gs://BUCKET/root --data-root gs://BUCKET/data/synthetic \\
        --serving-dir gs://BUCKET/serving

Every component runs in ``image`` (an image with kdtfrs installed with its ``pipeline``
extra, so ``pipelines`` and ``components`` import). The Trainers request ``gpus`` GPUs of
``gpu_type`` (their strategy mirrors over them), CPUs and memory; the Beam-based data
components get ``beam_pipeline_args`` (e.g. Dataflow's flags, docs/pipeline.md). Kubeflow
keeps ML Metadata and caching itself.
"""

from __future__ import annotations

import json
import pathlib
import re

from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx

from pipelines.pipeline import create_pipeline

_ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def trainer_resources(gpus: int = 1, gpu_type: str = "NVIDIA_TESLA_T4", cpus: float = 4,
                      memory_gb: float = 16) -> _ResourceSpec:
    """The Trainers' resource requests (``gpus=0``: CPU only)."""
    resources = _ResourceSpec(cpu_limit=float(cpus), memory_limit=float(memory_gb))
    if gpus:
        resources.accelerator.type = gpu_type
        resources.accelerator.count = int(gpus)
    return resources


def compile_pipeline(output_file, *, image: str, pipeline_root: str, data_root: str,
                     serving_model_dir: str, pipeline_name: str = "kdtfrs",
                     resources: _ResourceSpec | None = None, beam_pipeline_args=(),
                     **pipeline_options) -> dict:
    """Writes the pipeline spec of ``create_pipeline(...)`` to ``output_file``; returns it.

    ``pipeline_options`` go to ``create_pipeline`` (method, method_params, teacher, student,
    fit, thresholds...).

    Raises:
      ValueError: ``pipeline_name`` is not lowercase letters, digits and dashes (Kubeflow's
        rule), or ``image`` is empty.
    """
    if not _NAME.match(pipeline_name):
        raise ValueError(f"pipeline name {pipeline_name!r}: Kubeflow accepts lowercase letters, "
                         "digits and dashes (e.g. kdtfrs-movielens).")
    if not image:
        raise ValueError("image is empty: name the container image every component runs in "
                         "(with kdtfrs[pipeline] installed).")
    output_file = pathlib.Path(output_file)
    output_file.parent.mkdir(parents=True, exist_ok=True)
    pipeline = create_pipeline(
        pipeline_name, pipeline_root, data_root, serving_model_dir,
        trainer_resources=resources if resources is not None else trainer_resources(),
        beam_pipeline_args=list(beam_pipeline_args), **pipeline_options)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=str(output_file.parent), output_filename=output_file.name)
    runner.run(pipeline, write_out=True)
    return json.loads(output_file.read_text())
