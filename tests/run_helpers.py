"""Shared by the tests of the command line, runs and model directories."""

import hashlib
import pathlib

import numpy as np

from kdtfrs import cli, model_dir
from kdtfrs.data import make_synthetic

#: small, fast training flags (every CLI test run uses them)
FAST = ["--dim", "4", "--batch-size", "128", "--lr", "0.01", "--verbose", "0"]


def write_csv(path, num_users=100, seed=0, mean_interactions=10):
    """A synthetic CSV with string ids ("u3", "i7") and a timestamp column; returns its path."""
    data = make_synthetic(num_users=num_users, num_items=80, num_clusters=4,
                          mean_interactions_per_user=mean_interactions, seed=seed)
    rows = np.stack([data.users, data.items, data.order], axis=1)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, rows, fmt=["u%d", "i%d", "%.0f"], delimiter=",",
               header="user,item,timestamp", comments="")
    return path


def run(*argv) -> int:
    """``kdtfrs ARGV`` in this process; the exit status (argparse errors included)."""
    try:
        return cli.main([str(arg) for arg in argv])
    except SystemExit as exit_:
        return exit_.code


def digests(folder) -> dict:
    """{relative path: sha256} of every file under ``folder`` ({} if it does not exist)."""
    folder = pathlib.Path(folder)
    if not folder.exists():
        return {}
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def save_untrained(path, dataset, dim=4, seed=0):
    """A model directory of an untrained BPR-MF on ``dataset`` (no training: instant)."""
    from kdtfrs.models import BPRMF
    from kdtfrs.provenance import DataSpec

    spec = DataSpec(str(dataset))
    split = spec.load()
    model = BPRMF(split.num_users, split.num_items, dim, seed=seed)
    return model_dir.save(model, path, spec.record(split), {"note": "untrained"},
                          ids=(split.user_ids, split.item_ids), metrics={"test": {}})
