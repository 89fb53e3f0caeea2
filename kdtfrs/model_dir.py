"""A trained model on disk: a Keras archive, the data it was trained on, its raw ids.

    <dir>/model.keras    the model: ``keras.models.load_model`` rebuilds it once kdtfrs.models
                         is imported (its classes are registered as "kdtfrs>BPRMF", ...); a
                         LightGCN carries its training graph in its config
    <dir>/model.json     {"format": 2, "class", "config", "data", "extra", "files"}: "data" is
                         the provenance record (``kdtfrs.provenance``), "files" the size and
                         SHA-256 of every other file, checked on load
    <dir>/ids.npz        user_ids, item_ids: the raw id of each user and item index
    <dir>/metrics.json   test metrics and the training summary (kdtfrs.experiment)

A directory is written whole or not at all (``save`` builds it beside, then renames). A
missing, truncated or corrupt file is reported as a :class:`ModelDirError` that names the file
and what to do. Directories of format 1 (``weights.*`` TensorFlow checkpoint, no ids, no
fingerprint) still load.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil

import numpy as np

from kdtfrs.atomic_files import replace_directory, write_json, write_text

FORMAT = 2
MODEL_FILE = "model.json"
KERAS_FILE = "model.keras"
IDS_FILE = "ids.npz"
METRICS_FILE = "metrics.json"
WEIGHTS_PREFIX = "weights"  # format 1
_RETRAIN = ("Restore it from a copy, or train the model again (`kdtfrs train` or `kdtfrs "
            "distill` with --overwrite).")


class ModelDirError(ValueError):
    """A model directory (or one of its files) is missing, damaged or not a model."""

    def __init__(self, path, problem: str, advice: str = _RETRAIN):
        super().__init__(f"{path}: {problem}. {advice}")
        self.path = pathlib.Path(path)


class MissingModelFileError(ModelDirError, FileNotFoundError):
    """A model directory or one of its files does not exist."""


def is_model_dir(path) -> bool:
    return (pathlib.Path(path) / MODEL_FILE).is_file()


def write(model, directory, data: dict, extra: dict | None = None, *, ids=None,
          metrics: dict | None = None) -> pathlib.Path:
    """Writes ``model`` (a kdtfrs Recommender) into ``directory``, absent or empty.

    Args:
      data: the provenance record (``kdtfrs.provenance.DataSpec.record``).
      extra: free-form description (backbone, fit settings, method...), kept in model.json.
      ids: ``(user_ids, item_ids)``, the raw id of each index (``SplitData.user_ids``...).
      metrics: written as metrics.json (finite numbers only).

    Raises:
      ValueError: the model holds non-finite weights (nothing is written).
    """
    _require_finite(model, f"the model to save in {directory}")
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise ModelDirError(directory, "is not empty", "Write a model into a new directory.")
    _servable_copy(model).save(str(directory / KERAS_FILE))
    names = [KERAS_FILE]
    if ids is not None:
        user_ids, item_ids = (_plain_array(values) for values in ids)
        with open(directory / IDS_FILE, "wb") as file:
            np.savez(file, user_ids=user_ids, item_ids=item_ids)
        names.append(IDS_FILE)
    config = {key: value for key, value in model.get_config().items() if key != "train_matrix"}
    description = {
        "format": FORMAT,
        "class": type(model).__name__,
        "config": config,
        "data": data,
        "extra": extra or {},
        "files": {name: _file_record(directory / name) for name in names},
    }
    write_text(directory / MODEL_FILE, json.dumps(description, indent=2, default=str) + "\n")
    if metrics is not None:
        write_json(directory / METRICS_FILE, metrics)
    return directory


def save(model, directory, data: dict, extra: dict | None = None, *, ids=None,
         metrics: dict | None = None, overwrite: bool = True) -> pathlib.Path:
    """``write`` into a folder beside ``directory``, then swaps it in: whole or not at all.

    An existing model directory is replaced when ``overwrite``; any other non-empty folder
    is never replaced.
    """
    directory = pathlib.Path(directory)
    if directory.exists() and not is_model_dir(directory):
        if not directory.is_dir() or any(directory.iterdir()):
            raise ModelDirError(directory, "exists and is not a kdtfrs model directory",
                                "Choose another directory: only model directories are replaced.")
    elif directory.exists() and not overwrite:
        raise ModelDirError(directory, "already holds a model",
                            "Pass overwrite=True to replace it, or choose another directory.")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.with_name(f".{directory.name}.saving-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        write(model, staging, data, extra, ids=ids, metrics=metrics)
        return replace_directory(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def describe(directory) -> dict:
    """The ``model.json`` of a model directory, or a :class:`ModelDirError` saying why not."""
    directory = pathlib.Path(directory)
    path = directory / MODEL_FILE
    if not directory.exists():
        raise MissingModelFileError(directory, "does not exist",
                                    "Check the path; `kdtfrs train --output DIR` makes one.")
    if not path.is_file():
        raise MissingModelFileError(
            directory, f"is not a kdtfrs model directory ({MODEL_FILE} is missing)",
            "Train one with `kdtfrs train --output DIR`, or restore the file from a copy.")
    try:
        description = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ModelDirError(path, "is not a text file") from None
    except json.JSONDecodeError as error:
        raise ModelDirError(path, f"is not valid JSON ({error.msg} at line {error.lineno}, "
                                  f"column {error.colno}); the file is damaged") from None
    if not isinstance(description, dict):
        raise ModelDirError(path, "does not hold a JSON object; the file is damaged")
    missing = [key for key in ("class", "config", "data") if key not in description]
    if missing:
        raise ModelDirError(path, f"lacks {', '.join(map(repr, missing))}; the file is damaged")
    if description.get("format", 1) > FORMAT:
        raise ModelDirError(path, f"has format {description['format']}, newer than this kdtfrs "
                                  f"reads ({FORMAT})", "Upgrade kdtfrs.")
    return description


def load(directory, train=None):
    """Rebuilds the model saved in ``directory``.

    ``train`` (the training ``InteractionMatrix``) is needed only for a LightGCN of format 1;
    a format-2 LightGCN carries its graph.
    """
    directory = pathlib.Path(directory)
    description = describe(directory)
    if description.get("format", 1) >= 2:
        model = _load_keras(directory, description)
    else:
        model = _load_checkpoint(directory, description, train)
    _require_finite(model, directory)
    return model


def load_ids(directory):
    """``(user_ids, item_ids)`` saved with the model, or None (format 1 saved none)."""
    directory = pathlib.Path(directory)
    description = describe(directory)
    if IDS_FILE not in description.get("files", {}):
        return None
    _verify_file(directory, IDS_FILE, description)
    try:
        with np.load(directory / IDS_FILE, allow_pickle=False) as saved:
            return saved["user_ids"], saved["item_ids"]
    except (OSError, ValueError, KeyError) as error:
        raise ModelDirError(directory / IDS_FILE, f"cannot be read ({error})") from None


def _load_keras(directory, description):
    from kdtfrs import models  # noqa: F401  (registers the classes with Keras)
    from kdtfrs._keras import keras

    _verify_file(directory, KERAS_FILE, description)
    path = directory / KERAS_FILE
    try:
        model = keras.models.load_model(str(path), compile=False)
    except Exception as error:  # Keras raises many kinds for a damaged archive
        raise ModelDirError(path, f"cannot be read as a Keras model ({_first_line(error)})"
                            ) from None
    if type(model).__name__ != description["class"]:
        raise ModelDirError(path, f"holds a {type(model).__name__}, but {MODEL_FILE} says "
                                  f"{description['class']}")
    return model


def _load_checkpoint(directory, description, train):
    """Format 1: a class, a config and a TensorFlow checkpoint ``weights.*``."""
    from kdtfrs import models
    from kdtfrs._keras import tf

    cls = getattr(models, description["class"], None)
    if cls is None:
        raise ModelDirError(directory / MODEL_FILE,
                            f"names an unknown model class {description['class']!r}")
    config = dict(description["config"])
    if cls.__name__ == "LightGCN":
        if train is None:
            raise ValueError(f"{directory} holds a LightGCN saved without its graph (format 1): "
                             "pass the training matrix.")
        config["train_matrix"] = train
    try:
        model = cls(**config)
    except (TypeError, ValueError) as error:
        raise ModelDirError(directory / MODEL_FILE,
                            f"holds a config {cls.__name__} cannot use ({error})") from None
    index = directory / f"{WEIGHTS_PREFIX}.index"
    if not index.is_file():
        raise MissingModelFileError(index, "is missing, so the weights cannot be read")
    try:
        model.load_weights(str(directory / WEIGHTS_PREFIX)).expect_partial()
    except (tf.errors.OpError, ValueError, AssertionError) as error:
        raise ModelDirError(directory / f"{WEIGHTS_PREFIX}.*",
                            f"cannot be read as the weights ({_first_line(error)})") from None
    return model


def _servable_copy(model):
    """A fresh, uncompiled copy of ``model`` with its weights (no optimizer state)."""
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def _require_finite(model, where) -> None:
    for weight in model.weights:
        values = weight.numpy()
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            name = weight.name.split("/")[-1].split(":")[0]
            raise ModelDirError(
                where, f"the model's {name} holds non-finite (NaN or infinite) values",
                "The training diverged: train it again, e.g. with a lower learning rate.")


def _file_record(path) -> dict:
    return {"bytes": path.stat().st_size, "sha256": file_sha256(path)}


def _verify_file(directory, name, description) -> None:
    path = directory / name
    if not path.is_file():
        raise MissingModelFileError(path, "is missing")
    expected = description.get("files", {}).get(name)
    if expected is None:
        return
    size = path.stat().st_size
    if size != expected["bytes"]:
        raise ModelDirError(path, f"has {size} bytes, {MODEL_FILE} recorded {expected['bytes']}: "
                                  "the file is truncated or was replaced")
    if file_sha256(path) != expected["sha256"]:
        raise ModelDirError(path, f"does not match the checksum {MODEL_FILE} recorded: the file "
                                  "is damaged or was replaced")


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _plain_array(values) -> np.ndarray:
    values = np.asarray(values)
    return values.astype(str) if values.dtype == object else values


def _first_line(error) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


__all__ = ["FORMAT", "ModelDirError", "describe", "is_model_dir", "load", "load_ids", "save",
           "write"]
