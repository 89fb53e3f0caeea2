"""Runs the pipeline on this machine: TFX's LocalDagRunner, ML Metadata in SQLite.

An output folder holds everything of a local pipeline:

    <output>/data/<name>/{train,eval,test}/   the split the pipeline ingests (stage_split)
    <output>/artifacts/                      pipeline root: every component's artifacts
    <output>/metadata.sqlite                 ML Metadata: artifacts, executions, lineage
    <output>/serving/<version>/              the pushed student, in TF Serving's layout

Caching is on: a rerun with the same data and settings reuses every result, and a run that
failed (say, validation stopped it) resumes from the failed component once it is fixed.
Components run one after the other in this process; the Beam-based data components use
Beam's DirectRunner, in several processes with ``beam_args(workers=2)``.
"""

from __future__ import annotations

import filecmp
import pathlib
import shutil
import tempfile

from tfx import v1 as tfx

from kdtfrs import data
from pipelines.progress import tool_output
from pipelines.run_summary import RunSummary, summarize

PIPELINE_NAME = "kdtfrs"


class LocalLayout:
    """The folders of a local pipeline under ``output`` (module docstring)."""

    def __init__(self, output):
        self.output = pathlib.Path(output).absolute()
        self.pipeline_root = self.output / "artifacts"
        self.metadata = self.output / "metadata.sqlite"
        self.serving = self.output / "serving"

    def data(self, name: str) -> pathlib.Path:
        return self.output / "data" / name


def check_output(layout: LocalLayout) -> None:
    """Refuses an output folder that holds something else than a local pipeline's files."""
    output = layout.output
    if output.exists() and not output.is_dir():
        raise ValueError(f"--output {output} is a file; choose a folder.")
    if output.is_dir() and any(output.iterdir()) and not layout.metadata.is_file():
        raise ValueError(f"--output {output} is not empty and holds no pipeline run "
                         f"({layout.metadata.name} is missing); choose a new or empty folder.")


def beam_args(workers: int = 1) -> list[str]:
    """DirectRunner flags: ``workers`` > 1 runs the data components in that many processes."""
    if workers > 1:
        return ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
    return ["--direct_num_workers=1"]


def stage_split(split: data.SplitData, folder) -> pathlib.Path:
    """Writes ``split`` into ``folder`` (``kdtfrs.data.write_split_csv``), touching only files
    whose content changed: ExampleGen fingerprints its input files (size and modification
    time), so unchanged data keeps the cache of every component."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as staging:
        data.write_split_csv(split, staging)
        for new in sorted(pathlib.Path(staging).rglob("*.csv")):
            old = folder / new.relative_to(staging)
            if not (old.is_file() and filecmp.cmp(new, old, shallow=False)):
                old.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(new, old)
    return folder


def run(pipeline: tfx.dsl.Pipeline, metadata_path) -> tuple[RunSummary, dict]:
    """Runs ``pipeline`` with one line per component (``pipelines.progress``).

    Returns the run's summary (``pipelines.run_summary``) and each component's wall time in
    seconds ({node id: seconds}, cached ones included). Raises what the failing component
    raised (e.g. ``components.DataValidationError``).
    """
    with tool_output([component.id for component in pipeline.components]) as progress:
        tfx.orchestration.LocalDagRunner().run(pipeline)
    seconds = {node: {"seconds": round(value, 2), "cached": node in progress.cached}
               for node, value in progress.seconds.items()}
    return summarize(metadata_path), seconds


def metadata_config(layout: LocalLayout):
    layout.output.mkdir(parents=True, exist_ok=True)
    return tfx.orchestration.metadata.sqlite_metadata_connection_config(str(layout.metadata))
