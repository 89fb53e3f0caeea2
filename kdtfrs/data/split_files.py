"""A split as the files a TFX pipeline ingests, and the pipeline's examples read back as a split.

``write_split_csv(split, directory)`` writes one folder per part, named as TFX names its
splits, each holding ``interactions.csv`` with the rows ``user_id,item_id,split``:

    directory/train/interactions.csv    the training part
    directory/eval/interactions.csv     the validation part (TFX's "eval" split)
    directory/test/interactions.csv     the test part

The split is per user, decided by ``kdtfrs.data`` (``split_random``, ``split_ordered``...),
never by a hash over rows: ExampleGen reads each folder as one split
(``pipelines.pipeline.split_input_config``), and the ``split`` column lets any reader check
where a row belongs. ``read_split_examples(patterns)`` turns ExampleGen's tf.Example files
(all splits together) back into a :class:`SplitData` with the same pairs and raw ids.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

from kdtfrs.data.errors import DataFormatError
from kdtfrs.data.interactions import index_ids
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.data.split import SplitData

#: The TFX split name of each ``SplitData`` part.
SPLIT_NAMES = {"train": "train", "valid": "eval", "test": "test"}
COLUMNS = ("user_id", "item_id", "split")
FILE_NAME = "interactions.csv"


def write_split_csv(split: SplitData, directory: os.PathLike | str) -> pathlib.Path:
    """Writes ``split`` as ``directory/<train|eval|test>/interactions.csv`` (module docstring).

    Rows hold the raw ids (``split.user_ids[u]``), sorted by user then item; an empty part
    gets a file with the header only. Returns ``directory``.

    Raises:
      DataFormatError: the raw ids are not integers (the pipeline's schema, like TF Serving's
        request, carries int64 ids): map them to integers first, e.g. with
        ``kdtfrs.data.index_ids``.
    """
    for side in ("user", "item"):
        ids = np.asarray(getattr(split, f"{side}_ids"))
        if ids.dtype.kind not in "iu":
            raise DataFormatError(
                f"{split.name} has {side} ids of type {ids.dtype} (e.g. {ids[:1].tolist()}); the "
                f"pipeline reads int64 {side}_id values. Map the ids to integers first (e.g. "
                f"kdtfrs.data.index_ids) and keep the map to translate recommendations back.")
    directory = pathlib.Path(directory)
    for part, split_name in SPLIT_NAMES.items():
        folder = directory / split_name
        folder.mkdir(parents=True, exist_ok=True)
        users, items = getattr(split, part).to_pairs()
        rows = np.stack([split.user_ids[users], split.item_ids[items]], axis=1).astype(np.int64)
        with open(folder / FILE_NAME, "w", encoding="utf-8") as file:
            file.write(",".join(COLUMNS) + "\n")
            np.savetxt(file, rows, fmt=f"%d,%d,{split_name}")
    return directory


def read_split_examples(file_patterns, name: str = "examples") -> SplitData:
    """The :class:`SplitData` held by tf.Example TFRecord files (ExampleGen's output).

    Every record carries int64 ``user_id`` and ``item_id`` and the string ``split`` (train,
    eval or test); the files of all splits are read together, so users and items are
    indexed over the whole data (sorted raw ids, as ``kdtfrs.data.index_ids``). Files ending
    in ``.gz`` are read as GZIP.

    Raises:
      DataFormatError: no file matches, a record lacks a feature or has the wrong type, a
        ``split`` value is unknown, or a (user, item) pair lies in two splits.
    """
    import tensorflow as tf

    files = sorted({path for pattern in _as_list(file_patterns)
                    for path in tf.io.gfile.glob(pattern)})
    if not files:
        raise DataFormatError(f"no example files match {_as_list(file_patterns)}; point the "
                              "reader at ExampleGen's Split-*/ folders.")
    spec = {"user_id": tf.io.FixedLenFeature([], tf.int64),
            "item_id": tf.io.FixedLenFeature([], tf.int64),
            "split": tf.io.FixedLenFeature([], tf.string)}
    columns = {key: [] for key in spec}
    for compression in ("GZIP", ""):
        chosen = [path for path in files if path.endswith(".gz") == (compression == "GZIP")]
        if not chosen:
            continue
        records = tf.data.TFRecordDataset(chosen, compression_type=compression)
        try:
            for batch in records.batch(1 << 16).map(lambda rows: tf.io.parse_example(rows, spec)):
                for key, values in batch.items():
                    columns[key].append(values.numpy())
        except tf.errors.InvalidArgumentError as error:
            raise DataFormatError(
                f"{chosen[0]}...: a record is not a (user_id: int64, item_id: int64, split: "
                f"string) example ({error.message.splitlines()[0]}); the data must pass the "
                "pipeline's schema (pipelines/schema/schema.pbtxt).") from None
    users, items, splits = (np.concatenate(columns[key]) if columns[key] else
                            np.zeros(0, np.int64 if key != "split" else object)
                            for key in spec)
    return _split_from_rows(users, items, splits, name, files[0])


def _split_from_rows(raw_users, raw_items, splits, name, where) -> SplitData:
    user_index, user_ids = index_ids(raw_users)
    item_index, item_ids = index_ids(raw_items)
    names = np.array([value.encode() for value in SPLIT_NAMES.values()], dtype=object)
    part = np.full(splits.shape, -1)
    for position, split_name in enumerate(names):
        part[splits == split_name] = position
    if (part < 0).any():
        unknown = splits[part < 0][0]
        raise DataFormatError(
            f"{where}: split value {unknown!r} is not one of {list(SPLIT_NAMES.values())}; "
            "write the data with kdtfrs.data.write_split_csv.")
    num_users, num_items = len(user_ids), len(item_ids)
    keys = user_index * num_items + item_index
    pair_part = np.unique(np.stack([keys, part], axis=1), axis=0)
    repeated = np.flatnonzero(np.diff(pair_part[:, 0]) == 0)
    if repeated.size:
        key = pair_part[repeated[0], 0]
        raise DataFormatError(
            f"{where}: {repeated.size} (user, item) pairs lie in two splits, e.g. user "
            f"{user_ids[key // num_items]} and item {item_ids[key % num_items]}; a pair "
            "belongs to one split only.")
    matrices = [InteractionMatrix.from_pairs(user_index[part == position],
                                             item_index[part == position], num_users, num_items)
                for position in range(len(names))]
    return SplitData(*matrices, user_ids, item_ids, name)


def _as_list(patterns) -> list[str]:
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    return [os.fspath(pattern) for pattern in patterns]


__all__ = ["COLUMNS", "FILE_NAME", "SPLIT_NAMES", "read_split_examples", "write_split_csv"]
