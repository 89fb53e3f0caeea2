"""Datasets by name: ``load_dataset("citeulike-t")`` -> :class:`SplitData`."""

from __future__ import annotations

import os
import pathlib
from typing import NamedTuple

import numpy as np

from kdtfrs.data.citeulike import load_citeulike
from kdtfrs.data.csv_loader import csv_columns, load_csv
from kdtfrs.data.errors import DataFormatError, DataNotFoundError
from kdtfrs.data.gowalla import load_gowalla
from kdtfrs.data.interactions import Interactions
from kdtfrs.data.movielens import load_movielens_100k
from kdtfrs.data.split import SplitData, split_leave_one_out, split_ordered, split_random
from kdtfrs.data.synthetic import make_synthetic

DATA_DIR_VARIABLE = "KDTFRS_DATA_DIR"


class DatasetSpec(NamedTuple):
    """Where a named dataset lives and how it is split by default."""

    folder: str | None  # sub-folder of the data directory; None for generated data
    default_split: str
    description: str  # one line for --help


#: The named datasets, in the order a --help lists them.
DATASETS = {
    "synthetic": DatasetSpec(
        None, "random", "generated clusters + power-law popularity, random 8:1:1"
    ),
    "movielens-100k": DatasetSpec(
        "movielens-100k", "random", "ML-100K, every rating positive, random 8:1:1"
    ),
    "gowalla": DatasetSpec(
        "gowalla", "given", "NGCF/LightGCN Gowalla train/test split as published"
    ),
    "citeulike-t": DatasetSpec(
        "citeulike-t", "ordered", "CiteULike-t users with >= 5 items, ordered 8:1:1"
    ),
    "citeulike-a": DatasetSpec("citeulike-a", "ordered", "CiteULike-a, ordered 8:1:1"),
}
SPLITS = ("random", "ordered", "loo", "given")
_CSV_SUFFIXES = (".csv", ".tsv")
_COLUMN_NAMES = {
    "user": ("user", "user_id", "userid", "uid"),
    "item": ("item", "item_id", "itemid", "iid", "movieid", "movie_id"),
    "order": ("timestamp", "time", "ts", "order"),
}


def load_dataset(
    name_or_path: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    split: str | None = None,
    seed: int = 0,
    *,
    delimiter: str | None = None,
    user_column: str | int | None = None,
    item_column: str | int | None = None,
    order_column: str | int | bool | None = None,
    header: bool = True,
) -> SplitData:
    """Loads a dataset by name (see ``DATASETS``) or from a ``.csv``/``.tsv`` path, and splits it.

    Args:
      name_or_path: a name of ``DATASETS`` or a path to a CSV/TSV file whose header names the
        user and item columns (``user``/``user_id``/``userId``..., ``item``/``item_id``/
        ``movieId``...; optional ``timestamp``/``time``); for other layouts use ``load_csv`` and a
        split function.
      data_dir: the folder holding one sub-folder per dataset; defaults to ``$KDTFRS_DATA_DIR``,
        else ``../shared/data`` next to the repository root.
      split: "random" (per user 8:1:1, seeded), "ordered" (per user 8:1:1 by time/position),
        "loo" (leave last one out), "given" (Gowalla's published split), or ``None`` for the
        dataset's default. Gowalla with another split re-splits the union of its two files.
      seed: seeds the random split and the synthetic data.
      delimiter, user_column, item_column, order_column, header: for a CSV/TSV path only, as
        ``load_csv``. The columns default to the ones the header names (above), or to the
        positions 0 (user) and 1 (item) with ``header=False``; ``order_column=None`` takes a
        time column the header names, ``False`` the row position.
    """
    name = os.fspath(name_or_path)
    if split is not None and split not in SPLITS:
        raise DataFormatError(f"split must be one of {SPLITS} or None, got {split!r}.")
    csv_options = dict(delimiter=delimiter, user_column=user_column, item_column=item_column,
                       order_column=order_column, header=header)
    if name in DATASETS:
        given = [key for key, value in csv_options.items()
                 if value is not None and (key, value) != ("header", True)]
        if given:
            raise DataFormatError(
                f"{', '.join(key + '=' for key in given)} applies to a CSV/TSV file, not to "
                f"the named dataset {name!r}."
            )
        spec = DATASETS[name]
        split = split or spec.default_split
        if split == "given" and name != "gowalla":
            raise DataFormatError(
                f"split='given' needs a dataset that ships a split (gowalla); {name} does not."
            )
        if name == "synthetic":
            return _split(make_synthetic(seed=seed), split, seed)
        path = resolve_data_dir(data_dir) / spec.folder
        if name == "gowalla":
            given = load_gowalla(path)
            return given if split == "given" else _split(_union(given), split, seed)
        if name == "movielens-100k":
            return _split(load_movielens_100k(path), split, seed)
        minimum = 5 if name == "citeulike-t" else 1
        return _split(load_citeulike(path, min_user_interactions=minimum, name=name), split, seed)
    if pathlib.Path(name).suffix.lower() in _CSV_SUFFIXES:
        if split == "given":
            raise DataFormatError(
                f"split='given' is not available for a CSV file ({name}); use random, ordered "
                f"or loo."
            )
        return _split(_load_csv_file(pathlib.Path(name), **csv_options), split or "random", seed)
    raise DataFormatError(
        f"unknown dataset {name!r}: pass one of {sorted(DATASETS)} or a path ending in .csv/.tsv."
    )


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """The data folder: ``data_dir``, else ``$KDTFRS_DATA_DIR``, else ``<repo>/../shared/data``."""
    if data_dir is not None:
        source, folder = "the data_dir argument", pathlib.Path(data_dir)
    elif os.environ.get(DATA_DIR_VARIABLE):
        source, folder = f"${DATA_DIR_VARIABLE}", pathlib.Path(os.environ[DATA_DIR_VARIABLE])
    else:
        repository_root = pathlib.Path(__file__).resolve().parents[2]
        source, folder = (
            "the default next to the repository",
            repository_root.parent / "shared" / "data",
        )
    if not folder.is_dir():
        raise DataNotFoundError(
            f"data folder {folder} (from {source}) does not exist. Pass data_dir=, or set "
            f"{DATA_DIR_VARIABLE} to the folder that holds one sub-folder per dataset "
            f"({', '.join(spec.folder for spec in DATASETS.values() if spec.folder)})."
        )
    return folder


def _split(interactions: Interactions, split: str, seed: int) -> SplitData:
    if split == "random":
        return split_random(interactions, seed=seed)
    if split == "ordered":
        return split_ordered(interactions)
    return split_leave_one_out(interactions)


def _union(given: SplitData) -> Interactions:
    """Gowalla's train and test pairs as one set, ordered train before test (item order within)."""
    train_users, train_items = given.train.to_pairs()
    test_users, test_items = given.test.to_pairs()
    users = np.concatenate([train_users, test_users])
    return Interactions(
        users,
        np.concatenate([train_items, test_items]),
        np.arange(users.size, dtype=np.float64),
        given.user_ids,
        given.item_ids,
        given.name,
    )


def _load_csv_file(path: pathlib.Path, delimiter, user_column, item_column, order_column,
                   header) -> Interactions:
    """Reads a CSV/TSV; columns not given are found by header name (case-insensitively), or
    are the positions 0 (user) and 1 (item) without a header."""
    columns = csv_columns(path, delimiter) if header else None
    lowered = [column.lower() for column in columns or []]

    def find(kind: str) -> str | None:
        match = next((c for c in _COLUMN_NAMES[kind] if c in lowered), None)
        return None if match is None else columns[lowered.index(match)]

    if not header:
        user_column = 0 if user_column is None else user_column
        item_column = 1 if item_column is None else item_column
    user = find("user") if user_column is None else user_column
    item = find("item") if item_column is None else item_column
    if user is None or item is None:
        raise DataFormatError(
            f"{path}: cannot tell the user and item columns from the header {columns}; name "
            f"them e.g. 'user' and 'item', or pass user_column= and item_column= (a name or a "
            f"0-based position)."
        )
    if order_column is None:
        order = find("order") if header else None
    else:
        order = None if order_column is False else order_column
    return load_csv(path, user, item, order_column=order, delimiter=delimiter, header=header)
