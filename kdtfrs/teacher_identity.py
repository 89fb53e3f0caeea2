"""Which teacher a run or a sweep learned from, and whether the teacher given now is that one.

A teacher is known by its weights (``weights_digest``), not by its files: model.json records
when it was written and model.keras is a zip that stores file times, so a teacher trained again
to the same weights, or saved again, has other file hashes. Its path is kept for the reader and
not compared: a moved teacher is the same teacher.

Records written by earlier versions hold ``model.json sha256`` instead; they are compared as
they were, with the hash of the model.json now at the teacher's path.
"""

from __future__ import annotations

import hashlib
import pathlib

import numpy as np

from kdtfrs import model_dir

DIGEST = "weights sha256"
LEGACY_DIGEST = "model.json sha256"


def weights_digest(model) -> str:
    """sha256 of the model's class and of each weight's dtype, shape and values, in order.

    Metric variables (a loss tracker's running total) are left out, as are weight names:
    Keras numbers them by how many models a process has built.
    """
    in_metrics = {variable.ref() for metric in model.metrics for variable in metric.variables}
    digest = hashlib.sha256(type(model).__name__.encode())
    for weight in (weight for weight in model.weights if weight.ref() not in in_metrics):
        values = np.ascontiguousarray(weight.numpy())
        digest.update(f"|{values.dtype.str}{values.shape}|".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def record(path, model) -> dict:
    """What a run keeps of its teacher: where it was and what its weights are."""
    return {"path": str(pathlib.Path(path).absolute()), DIGEST: weights_digest(model)}


def same(recorded, current) -> bool:
    """Whether ``current`` (records of ``record``; a list for several teachers) is the teacher
    or teachers of ``recorded``, in the same order."""
    if recorded is None or current is None:  # a command without a teacher (train)
        return recorded is current
    if isinstance(recorded, dict) and isinstance(current, dict):
        return _same_one(recorded, current)
    if isinstance(recorded, list) and isinstance(current, list) and len(recorded) == len(current):
        return all(_same_one(before, now) for before, now in zip(recorded, current))
    return False


def _same_one(recorded: dict, current: dict) -> bool:
    if DIGEST in recorded:
        return recorded[DIGEST] == current[DIGEST]
    if LEGACY_DIGEST in recorded:
        model_file = pathlib.Path(current["path"]) / model_dir.MODEL_FILE
        return model_file.is_file() and recorded[LEGACY_DIGEST] == model_dir.file_sha256(model_file)
    return False
