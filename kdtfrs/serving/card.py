"""The model card written beside an export: what the served model is and where it came from.

``<version>/assets.extra/model_card.json`` (TF Serving ignores it) holds:

    format      1
    created     UTC time of the export
    model       class, embedding_dim, num_users, num_items (and num_layers), parameters
    teacher     the teacher it was distilled from (class, dim, model directory), or null
    method      the distillation method id ("scratch": none), or null when unknown
    dataset     the data record of model.json (dataset, split, seed, sizes, fingerprint)
    metrics     the test metrics of metrics.json, or null
    serving     k, excluded items, search, signatures, id types, the cold-start rule
    sizes       bytes of the SavedModel and of its tables
    versions    kdtfrs, Python, TensorFlow, tf-keras, TFRS, tensorflow-serving-api
    source      the model directory exported from, or null

A caller's ``model_card`` dict is merged in last (nested dicts key by key).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import pathlib
import platform

from kdtfrs import __version__

FILE = "model_card.json"
_PACKAGES = ("tensorflow", "tf-keras", "tensorflow-recommenders", "tensorflow-serving-api")


def package_versions() -> dict:
    versions = {"kdtfrs": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def directory_bytes(directory, skip=("assets.extra",)) -> int:
    """Bytes of the files under ``directory``, the top-level folders ``skip`` left out."""
    directory = pathlib.Path(directory)
    return sum(path.stat().st_size for path in directory.rglob("*")
               if path.is_file() and path.relative_to(directory).parts[0] not in skip)


def merged(base: dict, extra: dict | None) -> dict:
    """``base`` updated by ``extra``; nested dicts are merged key by key."""
    result = dict(base)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def from_model_dir(description: dict, metrics: dict | None, path) -> dict:
    """The card entries a kdtfrs model directory knows (model.json and metrics.json)."""
    extra = description.get("extra", {})
    data = dict(description.get("data", {}))
    fingerprint = data.pop("fingerprint", None) or {}
    data["fingerprint"] = {key: fingerprint[key] for key in ("sha256", "users", "items", "pairs")
                           if key in fingerprint} or None
    teacher = extra.get("teacher")
    if teacher is not None:
        teacher = {**teacher, "model_dir": extra.get("teacher_dir")}
    return {
        "teacher": teacher,
        "method": extra.get("method", "none: trained by `kdtfrs train`" if teacher is None
                            else None),
        "dataset": data,
        "metrics": None if metrics is None else {"test": metrics.get("test"),
                                                 "training": metrics.get("training")},
        "training": {key: extra[key] for key in ("backbone", "fit", "method_config", "run")
                     if key in extra},
        "source": {"model_dir": str(pathlib.Path(path).absolute()),
                   "class": description.get("class")},
    }


def build(model_entry: dict, serving: dict, sizes: dict, known: dict | None,
          extra: dict | None) -> dict:
    """The card: the model, serving and sizes entries, what a model directory ``known``
    says (``from_model_dir``), then the caller's ``extra``."""
    card = {
        "format": 1,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": model_entry,
        "teacher": None, "method": None, "dataset": None, "metrics": None,
        "serving": serving,
        "sizes": sizes,
        "versions": package_versions(),
        "source": None,
    }
    return merged(merged(card, known), extra)


__all__ = ["FILE", "build", "directory_bytes", "from_model_dir", "merged", "package_versions"]
