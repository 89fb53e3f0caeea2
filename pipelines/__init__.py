"""The kdtfrs TFX pipeline (docs/pipeline.md).

- ``pipeline``: ``create_pipeline(...)``, the pipeline for any orchestrator;
- ``backbone_trainer``, ``distillation_trainer``: the Trainers' ``run_fn`` (referenced by
  dotted path), with ``training`` for what they share;
- ``local_runner`` (LocalDagRunner, SQLite ML Metadata) and ``kubeflow_v2_runner`` (a pipeline
  spec for Kubeflow Pipelines v2 / Vertex): one runner per orchestrator;
- ``commands``: ``kdtfrs pipeline run`` and ``kdtfrs pipeline compile``;
- ``schema/schema.pbtxt``: the curated schema of the interaction data.

These modules import TFX; ``kdtfrs`` itself never does.
"""
