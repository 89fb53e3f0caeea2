"""Exports a trained student as a SavedModel in TF Serving's layout, ``<base>/<version>/``.

    kdtfrs.serving.export_saved_model(student, "exports/rrd", ids=(user_ids, item_ids),
                                      k=100, exclude=split.train)
    kdtfrs.serving.export_model_dir("runs/rrd", "exports/rrd")   # from a model directory

A version folder holds the SavedModel of the student alone (no teacher, no optimizer; a
LightGCN's propagated tables frozen), its warmup requests and its model card:

    <base>/<version>/saved_model.pb, variables/
    <base>/<version>/assets.extra/tf_serving_warmup_requests, model_card.json

It is written beside (``<base>/.<version>.exporting-<pid>``, a name TF Serving ignores) and
renamed into place when complete, so a server watching ``<base>`` never loads half an export.
An existing version is replaced only with ``overwrite=True``, and a folder there that is not
a SavedModel never. See docs/serving.md.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import warnings

import numpy as np

from kdtfrs import model_dir as model_dirs
from kdtfrs.atomic_files import replace_directory, write_json
from kdtfrs.data.errors import DataError
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.serving import card as cards
from kdtfrs.serving.search import SEARCHES
from kdtfrs.serving.servable import Servable
from kdtfrs.serving.warmup import WARMUP_FILE, write_warmup

EXTRA_ASSETS = "assets.extra"


class ExportError(ValueError):
    """An export cannot be written where it was asked to go."""


def export_saved_model(model, export_base, *, ids, k: int = 100, exclude=None,
                       popularity=None, version: int | None = None,
                       model_card: dict | None = None, warmup_users: int = 8,
                       search: str = "exact", search_options: dict | None = None,
                       overwrite: bool = False, model_name: str = "kdtfrs",
                       _known_card: dict | None = None) -> pathlib.Path:
    """Writes ``model`` as the SavedModel ``<export_base>/<version>`` and returns that path.

    Args:
      model: a ``kdtfrs.models.Recommender`` (BPRMF, LightGCN: its propagated tables are
        frozen), a ``kdtfrs.Distiller`` (its student is exported) or a
        ``kdtfrs.embeddings.Embeddings``.
      export_base: the model's base folder, as TF Serving's ``--model_base_path``.
      ids: ``(user_ids, item_ids)``, the raw id of each user and item index (a model
        directory's ids.npz, ``kdtfrs.model_dir.load_ids``; strings or integers).
      k: list length, 1..num_items.
      exclude: an ``InteractionMatrix`` (or a sequence of them) of the items to leave out of
        each user's list, e.g. ``split.train``; None: nothing excluded.
      popularity: per-item counts ranking the cold-start list (int [num_items]); default: the
        counts of ``exclude``, else of a LightGCN's training graph; with none of them the
        list is the items best for the mean user vector.
      version: the version folder (a positive integer); default: one above the highest there.
      model_card: entries merged into the model card (``kdtfrs.serving.card``).
      warmup_users: known users in the warmup requests (0: no warmup file).
      search: "exact" (``ExactSearch``) or "clustered" (``ClusteredSearch``, approximate).
      search_options: keyword arguments of the search (``block_size``; ``num_clusters``,
        ``probes``, ``seed``).
      overwrite: replace an existing version folder that holds a SavedModel.
      model_name: the ``model_spec.name`` of the warmup requests.

    Raises:
      ExportError: the version exists (without ``overwrite``) or is not a SavedModel.
      ValueError: ids, k, exclude or popularity do not fit the model.
    """
    from kdtfrs._keras import tf

    model = _student_of(model)
    user_table, item_table = _frozen_tables(model)
    num_users, num_items = len(user_table), len(item_table)
    user_ids, item_ids = _checked_ids(ids, num_users, num_items)
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {sorted(SEARCHES)}, got {search!r}.")
    if isinstance(warmup_users, bool) or not isinstance(warmup_users, int) or warmup_users < 0:
        raise ValueError(f"warmup_users must be a non-negative integer, got {warmup_users!r}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= num_items:
        raise ValueError(f"k must be an integer in [1, {num_items}] (the number of items), "
                         f"got {k!r}.")
    excluded = _exclusion(exclude, num_users, num_items)
    version = None if version is None else _checked_version(version)
    base = _checked_base(export_base)
    version = _next_version(base) if version is None else version
    target = base / str(version)
    _check_target(target, overwrite)

    searcher = SEARCHES[search](item_table, k, **(search_options or {}))
    fallback, cold_start = _cold_start(popularity, excluded, model, user_table, item_table, k)
    servable = Servable(user_table, searcher, user_ids, item_ids,
                        None if excluded is None else (excluded.indptr, excluded.indices),
                        fallback)
    staging = base / f".{version}.exporting-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        tf.saved_model.save(servable, str(staging), signatures=servable.signatures())
        if warmup_users:
            chosen = np.unique(np.linspace(0, num_users - 1, min(warmup_users, num_users))
                               .astype(np.int64))
            write_warmup(staging / EXTRA_ASSETS / WARMUP_FILE, user_ids[chosen], model_name)
        serving = {
            "k": int(k), "exclude": excluded is not None,
            "excluded_pairs": 0 if excluded is None else excluded.nnz,
            **searcher.describe(),
            "signatures": {
                "serving_default": {"inputs": {"examples": "string [batch]: serialized "
                                               "tf.Example with feature 'user_id'"}},
                "recommend": {"inputs": {"user_id": f"{servable.user_id_dtype.name} [batch]"}},
                "outputs": {"item_ids": f"{servable.item_id_dtype.name} [batch, {k}]",
                            "scores": f"float32 [batch, {k}]",
                            "is_fallback": "bool [batch]"}},
            "user_id_dtype": servable.user_id_dtype.name,
            "item_id_dtype": servable.item_id_dtype.name,
            "cold_start": cold_start,
            "warmup_requests": 4 if warmup_users else 0,
        }
        sizes = {"saved_model_bytes": cards.directory_bytes(staging),
                 "user_table_bytes": int(user_table.nbytes),
                 "item_table_bytes": int(item_table.nbytes)}
        card = cards.build(_model_entry(model, num_users, num_items, user_table.shape[1]),
                           serving, sizes, _known_card, model_card)
        (staging / EXTRA_ASSETS).mkdir(exist_ok=True)
        write_json(staging / EXTRA_ASSETS / cards.FILE, card)
        if _occupied(target):
            replace_directory(staging, target)
        else:
            try:
                os.rename(staging, target)
            except OSError as error:
                raise ExportError(f"{target} appeared while exporting ({error.strerror}): "
                                  "another export wrote that version; nothing was changed."
                                  ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def export_model_dir(model_dir, export_base, *, exclude_train: bool = True,
                     data_overrides: dict | None = None, model_card: dict | None = None,
                     **kwargs) -> pathlib.Path:
    """Exports the model saved in the kdtfrs model directory ``model_dir``.

    The raw ids come from its ids.npz; the card from its model.json and metrics.json.
    ``exclude_train`` leaves each user's training items out: a LightGCN carries its training
    graph; for another model the data recorded in model.json is loaded and verified
    (``data_overrides``: ``dataset``, ``data_dir`` and CSV options re-point it, as
    ``kdtfrs.provenance.load_verified``). Without exclusion, the training counts for the
    cold-start list still come from that data when it can be found (else the mean-user rule,
    with a warning). Other keyword arguments go to ``export_saved_model``.
    """
    from kdtfrs.provenance import load_verified

    directory = pathlib.Path(model_dir)
    description = model_dirs.describe(directory)
    ids = model_dirs.load_ids(directory)
    split = None
    needs_data = ids is None or description.get("format", 1) < 2 or (
        exclude_train and description["class"] != "LightGCN")
    if needs_data:
        split, _ = load_verified(description["data"], directory, **(data_overrides or {}))
    model = model_dirs.load(directory, None if split is None else split.train)
    train = getattr(model, "train_matrix", None) if split is None else split.train
    if train is None and kwargs.get("popularity") is None:
        try:
            split, _ = load_verified(description["data"], directory, **(data_overrides or {}))
            train = split.train
        except DataError as error:
            warnings.warn(f"{directory}: its data cannot be loaded ({error}); unknown users "
                          "get the items best for the mean user instead of the most popular "
                          "ones.", UserWarning, stacklevel=2)
    if ids is None:
        ids = (split.user_ids, split.item_ids)
    if train is not None and kwargs.get("popularity") is None:
        kwargs["popularity"] = train.item_popularity()
    metrics_path = directory / model_dirs.METRICS_FILE
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
    known = cards.from_model_dir(description, metrics, directory)
    return export_saved_model(model, export_base, ids=ids,
                              exclude=train if exclude_train else None,
                              model_card=model_card, _known_card=known, **kwargs)


# -- helpers ----------------------------------------------------------------------------------
def _student_of(model):
    from kdtfrs.distill import Distiller

    return model.student if isinstance(model, Distiller) else model


def _frozen_tables(model):
    """(user [U, d], item [I, d]) float32 NumPy: the final embeddings, propagated once."""
    from kdtfrs.embeddings import Embeddings

    user_table, item_table = Embeddings.of(model).tables()
    user_table, item_table = np.asarray(user_table, np.float32), np.asarray(item_table,
                                                                            np.float32)
    if not (np.isfinite(user_table).all() and np.isfinite(item_table).all()):
        raise ValueError("the model's embeddings hold non-finite values (NaN or infinity): "
                         "the training diverged; export a model with finite weights.")
    return user_table, item_table


def _checked_ids(ids, num_users: int, num_items: int):
    if not isinstance(ids, (tuple, list)) or len(ids) != 2:
        raise ValueError("ids must be (user_ids, item_ids), the raw id of each user and item "
                         "index (kdtfrs.model_dir.load_ids).")
    user_ids, item_ids = (np.asarray(values) for values in ids)
    for what, values, size in (("user", user_ids, num_users), ("item", item_ids, num_items)):
        if values.ndim != 1 or len(values) != size:
            raise ValueError(f"ids: {len(values) if values.ndim == 1 else values.shape} raw "
                             f"{what} ids for a model of {size} {what}s: pass the ids of the "
                             "data the model was trained on.")
    return user_ids, item_ids


def _exclusion(exclude, num_users: int, num_items: int):
    from kdtfrs.ranking import exclusion_list

    matrices = exclusion_list(exclude, num_users, num_items)
    if not matrices:
        return None
    union = matrices[0]
    for matrix in matrices[1:]:
        union = union.union(matrix)
    return union


def _cold_start(popularity, excluded, model, user_table, item_table, k):
    """((items [k], scores [k]), card entry) of the list unknown users get."""
    if popularity is None and excluded is not None:
        popularity = excluded.item_popularity()
    graph = getattr(model, "train_matrix", None)
    if popularity is None and isinstance(graph, InteractionMatrix):
        popularity = graph.item_popularity()
    if popularity is not None:
        counts = np.asarray(popularity)
        if counts.shape != (len(item_table),) or not np.isfinite(counts).all():
            raise ValueError(f"popularity must hold one finite count per item "
                             f"({len(item_table)}), got shape {counts.shape}.")
        order = np.argsort(-counts, kind="stable")[:k]
        return ((order.astype(np.int32), counts[order].astype(np.float32)),
                {"rule": "popularity", "scores": "training interaction counts"})
    scores = item_table @ user_table.mean(axis=0)
    order = np.argsort(-scores, kind="stable")[:k]
    return ((order.astype(np.int32), scores[order].astype(np.float32)),
            {"rule": "mean_user", "scores": "scores of the mean user vector"})


def _model_entry(model, num_users: int, num_items: int, dim: int) -> dict:
    entry = {"class": type(model).__name__, "embedding_dim": int(dim),
             "num_users": num_users, "num_items": num_items,
             "parameters": int((num_users + num_items) * dim)}
    if hasattr(model, "num_layers"):
        entry["num_layers"] = int(model.num_layers)
    return entry


def _checked_base(export_base) -> pathlib.Path:
    base = pathlib.Path(export_base)
    if base.exists() and not base.is_dir():
        raise ExportError(f"{base} is a file: the export base must be a folder (TF Serving's "
                          "--model_base_path).")
    if model_dirs.is_model_dir(base):
        raise ExportError(f"{base} is a kdtfrs model directory: export into another folder "
                          "(e.g. exports/NAME).")
    base.mkdir(parents=True, exist_ok=True)
    if not os.access(base, os.W_OK):
        raise ExportError(f"{base} is not writable.")
    return base


def _next_version(base: pathlib.Path) -> int:
    versions = [int(path.name) for path in base.iterdir() if path.name.isdigit()]
    return max(versions, default=0) + 1


def _checked_version(version) -> int:
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1:
        raise ValueError(f"version must be a positive integer (TF Serving loads numbered "
                         f"folders), got {version!r}.")
    return int(version)


def _occupied(target: pathlib.Path) -> bool:
    """Whether ``target`` exists as anything but an empty folder."""
    return target.exists() and (not target.is_dir() or any(target.iterdir()))


def _check_target(target: pathlib.Path, overwrite: bool) -> None:
    if not _occupied(target):
        return
    if not (target / "saved_model.pb").is_file():
        raise ExportError(f"{target} exists and is not a SavedModel: it is never replaced; "
                          "choose another --version.")
    if not overwrite:
        raise ExportError(f"{target} already holds a SavedModel: pass --overwrite "
                          "(overwrite=True) to replace it, or choose another --version.")


__all__ = ["ExportError", "export_model_dir", "export_saved_model"]
