"""A trained model on disk: its class and config, its weights, the data it was trained on.

    <dir>/model.json     {"class": "BPRMF", "config": {...}, "data": {...}, "extra": {...}}
    <dir>/weights.*      TensorFlow checkpoint of the model's weights
    <dir>/metrics.json   written by the CLI next to the model

``data`` records how to rebuild the exact split (dataset, split, seed, data_dir), which a
LightGCN needs for its graph and which ``kdtfrs evaluate`` and ``kdtfrs distill`` reuse.
"""

from __future__ import annotations

import json
import pathlib

from kdtfrs import models

MODEL_FILE = "model.json"
WEIGHTS_PREFIX = "weights"


def save(model, directory, data: dict, extra: dict | None = None) -> pathlib.Path:
    """Writes ``model`` (a kdtfrs Recommender) with its data provenance to ``directory``."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    description = {
        "class": type(model).__name__,
        "config": model.get_config(),
        "data": data,
        "extra": extra or {},
    }
    (directory / MODEL_FILE).write_text(json.dumps(description, indent=2, default=str))
    model.save_weights(str(directory / WEIGHTS_PREFIX))
    return directory


def describe(directory) -> dict:
    """The ``model.json`` of a model directory, with a clear error if it is not one."""
    path = pathlib.Path(directory) / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{directory} is not a kdtfrs model directory: {path} is missing. Train one with "
            "`kdtfrs train --output DIR`."
        )
    return json.loads(path.read_text())


def load(directory, train=None):
    """Rebuilds the model saved in ``directory``; ``train`` is the training matrix (LightGCN)."""
    description = describe(directory)
    cls = getattr(models, description["class"], None)
    if cls is None:
        raise ValueError(f"{directory}: unknown model class {description['class']!r}.")
    config = dict(description["config"])
    if cls.__name__ == "LightGCN":
        if train is None:
            raise ValueError(f"{directory} holds a LightGCN: pass the training matrix.")
        config["train_matrix"] = train
    model = cls(**config)
    model.load_weights(str(pathlib.Path(directory) / WEIGHTS_PREFIX)).expect_partial()
    return model
