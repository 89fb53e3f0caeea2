"""Datasets, splits, samplers and item statistics for kdtfrs (NumPy, plus TF for sampling).

The TensorFlow parts (``bpr_triples``, ``PairExclusion``) load on first use, so that reading
a dataset or the command line's ``--help`` does not start TensorFlow.
"""

import importlib

from kdtfrs.data.citeulike import load_citeulike
from kdtfrs.data.csv_loader import load_csv
from kdtfrs.data.errors import DataError, DataFormatError, DataNotFoundError
from kdtfrs.data.fingerprint import fingerprint_differences, split_fingerprint
from kdtfrs.data.gowalla import load_gowalla
from kdtfrs.data.interactions import Interactions, index_ids
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.data.movielens import load_movielens_100k
from kdtfrs.data.popularity import popularity_groups
from kdtfrs.data.registry import DATASETS, SPLITS, load_dataset, resolve_data_dir
from kdtfrs.data.split import (SplitData, hold_out_validation, split_leave_one_out,
                               split_ordered, split_random)
from kdtfrs.data.split_files import read_split_examples, write_split_csv
from kdtfrs.data.synthetic import make_synthetic

__all__ = [
    "DATASETS",
    "SPLITS",
    "DataError",
    "DataFormatError",
    "DataNotFoundError",
    "InteractionMatrix",
    "Interactions",
    "PairExclusion",
    "SplitData",
    "bpr_triples",
    "hold_out_validation",
    "index_ids",
    "load_citeulike",
    "load_csv",
    "load_dataset",
    "load_gowalla",
    "load_movielens_100k",
    "make_synthetic",
    "popularity_groups",
    "read_split_examples",
    "resolve_data_dir",
    "split_leave_one_out",
    "split_ordered",
    "split_fingerprint",
    "fingerprint_differences",
    "split_random",
    "write_split_csv",
]

_LAZY = {"PairExclusion": "kdtfrs.data.exclusion", "bpr_triples": "kdtfrs.data.sampling"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kdtfrs.data' has no attribute {name!r}")
