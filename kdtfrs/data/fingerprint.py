"""A fingerprint of a split: which pairs are in train, valid and test, and the raw-id maps.

A model directory records the fingerprint of the split it was trained on; ``kdtfrs distill``
and ``kdtfrs evaluate`` rebuild the split from the recorded source and compare, so a file
that changed, moved or was replaced by another of the same name and shape is caught:

    recorded = split_fingerprint(split)            # at training time
    fingerprint_differences(recorded, split_fingerprint(reloaded))  # [] when identical

The digests are SHA-256 over little-endian integer arrays (CSR ``indptr`` and ``indices`` of
each part, with its shape) and over the id maps (int64 values, or UTF-8 strings), so they
do not depend on the platform, the NumPy version or the order the file listed the pairs in.
"""

from __future__ import annotations

import hashlib

import numpy as np

PARTS = ("train", "valid", "test")
_ID_MAPS = {"user_ids": "user", "item_ids": "item"}


def split_fingerprint(split) -> dict:
    """``{"sha256", "users", "items", "pairs": {part: count}, "parts": {name: sha256}}``
    of a :class:`kdtfrs.data.SplitData` (JSON-ready)."""
    parts = {name: _matrix_digest(getattr(split, name)) for name in PARTS}
    for name in _ID_MAPS:
        parts[name] = _ids_digest(getattr(split, name))
    whole = hashlib.sha256("".join(parts[name] for name in (*PARTS, *_ID_MAPS)).encode())
    return {
        "sha256": whole.hexdigest(),
        "users": int(split.num_users),
        "items": int(split.num_items),
        "pairs": {name: int(getattr(split, name).nnz) for name in PARTS},
        "parts": parts,
    }


def fingerprint_differences(recorded: dict, actual: dict) -> list[str]:
    """What differs between two fingerprints, one phrase each; ``[]`` when they match."""
    if recorded.get("sha256") == actual.get("sha256"):
        return []
    differences = []
    shape, recorded_shape = (actual["users"], actual["items"]), (recorded.get("users"),
                                                                 recorded.get("items"))
    if shape != recorded_shape:
        differences.append(f"{shape[0]} users and {shape[1]} items, recorded "
                           f"{recorded_shape[0]} and {recorded_shape[1]}")
    recorded_parts = recorded.get("parts", {})
    recorded_pairs = recorded.get("pairs", {})
    for name in PARTS:
        count, before = actual["pairs"][name], recorded_pairs.get(name)
        if before is not None and count != before:
            differences.append(f"{name} has {count} pairs, recorded {before}")
        elif recorded_parts.get(name) not in (None, actual["parts"][name]):
            differences.append(f"the {name} pairs differ (same count, {count})")
    for name, side in _ID_MAPS.items():
        if recorded_parts.get(name) not in (None, actual["parts"][name]):
            differences.append(f"the raw {side} ids differ")
    return differences or ["the split's fingerprint differs"]


def _matrix_digest(matrix) -> str:
    digest = hashlib.sha256(b"csr")
    digest.update(np.asarray([matrix.num_users, matrix.num_items], "<i8").tobytes())
    digest.update(np.ascontiguousarray(matrix.indptr, "<i8").tobytes())
    digest.update(np.ascontiguousarray(matrix.indices, "<i4").tobytes())
    return digest.hexdigest()


def _ids_digest(ids) -> str:
    ids = np.asarray(ids)
    if ids.dtype.kind in "iu":
        return hashlib.sha256(b"int" + np.ascontiguousarray(ids, "<i8").tobytes()).hexdigest()
    text = "\x1f".join(str(value) for value in ids.tolist())
    return hashlib.sha256(b"str" + text.encode("utf-8")).hexdigest()
