"""Where a model's data came from, recorded so that it can be found and verified later.

A model directory's ``model.json`` holds a ``data`` record:

    {"dataset": "/abs/path/events.csv" or a name, "data_dir": "/abs/data" or null,
     "split": "random", "seed": 0, [CSV options,] "fingerprint": {...}}

Paths are absolute and the split is the one actually used (a dataset's default resolved), so
the record means the same from any folder and whatever ``$KDTFRS_DATA_DIR`` says later.
``load_verified`` rebuilds the split from a record, optionally re-pointed (the data moved),
and refuses data whose fingerprint (``kdtfrs.data.fingerprint``) differs from the recorded one.
"""

from __future__ import annotations

import dataclasses
import pathlib
import warnings

from kdtfrs import data
from kdtfrs.data.errors import DataFormatError, DataNotFoundError

_CSV_FIELDS = ("delimiter", "user_column", "item_column", "order_column", "header")


class ProvenanceError(DataFormatError):
    """The data found is not the data a model was trained on."""


@dataclasses.dataclass
class DataSpec:
    """Which data and split: enough to rebuild the same ``SplitData`` anywhere.

    ``dataset`` is a name of ``kdtfrs.data.DATASETS`` or a CSV/TSV path; the CSV fields apply
    to a path only (see ``kdtfrs.data.load_dataset``).
    """

    dataset: str = "synthetic"
    data_dir: str | None = None
    split: str | None = None
    seed: int = 0
    delimiter: str | None = None
    user_column: str | int | None = None
    item_column: str | int | None = None
    order_column: str | int | bool | None = None
    header: bool = True

    @property
    def is_csv(self) -> bool:
        return self.dataset not in data.DATASETS

    def csv_options(self) -> dict:
        return {name: getattr(self, name) for name in _CSV_FIELDS} if self.is_csv else {}

    def load(self) -> data.SplitData:
        return data.load_dataset(self.dataset, data_dir=self.data_dir, split=self.split,
                                 seed=self.seed, **self.csv_options())

    def resolved(self) -> "DataSpec":
        """The same data with absolute paths and the split that ``load`` uses."""
        if self.is_csv:
            return dataclasses.replace(
                self, dataset=str(pathlib.Path(self.dataset).expanduser().resolve()),
                data_dir=None, split=self.split or "random")
        spec = data.DATASETS[self.dataset]
        folder = (str(data.resolve_data_dir(self.data_dir).resolve())
                  if spec.folder is not None else None)
        return dataclasses.replace(self, data_dir=folder, split=self.split or spec.default_split,
                                   **{name: None for name in _CSV_FIELDS[:-1]}, header=True)

    def record(self, split: data.SplitData) -> dict:
        """The ``data`` record of ``model.json`` for ``split``, loaded from this spec."""
        resolved = self.resolved()
        fields = ("dataset", "data_dir", "split", "seed")
        record = {name: getattr(resolved, name) for name in fields}
        record.update(resolved.csv_options())
        record["fingerprint"] = data.split_fingerprint(split)
        return record

    @classmethod
    def from_record(cls, record: dict) -> "DataSpec":
        """The spec of a ``data`` record (keys it does not know, e.g. the fingerprint, skipped)."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in record.items() if key in names})

    def repointed(self, **overrides) -> "DataSpec":
        """A copy with the ``overrides`` that are not None (the data moved)."""
        return dataclasses.replace(
            self, **{key: value for key, value in overrides.items() if value is not None})

    def describe(self) -> str:
        where = self.dataset if self.is_csv or self.data_dir is None else (
            f"{self.dataset} in {self.data_dir}")
        return f"{where} (split {self.split or 'default'}, seed {self.seed})"


def load_verified(record: dict, where, **overrides) -> tuple[data.SplitData, DataSpec]:
    """(split, spec) rebuilt from the ``data`` record of the model directory ``where``.

    ``overrides`` (``dataset``, ``data_dir``, CSV options; None keeps the recorded value)
    re-point the record at data that moved. The split's fingerprint must match the recorded
    one (else :class:`ProvenanceError`, saying what differs); a record without one (written
    by an older kdtfrs) is loaded with a warning.
    """
    spec = DataSpec.from_record(record).repointed(**overrides)
    try:
        split = spec.load()
    except DataNotFoundError as error:
        raise DataNotFoundError(
            f"{error} {where} was trained on {spec.describe()}; if the data moved, point "
            f"dataset= or data_dir= at where it is now."
        ) from None
    recorded = record.get("fingerprint")
    if recorded is None:
        warnings.warn(f"{where} records no fingerprint of its data (saved by an older kdtfrs): "
                      f"{spec.describe()} is used unverified.", UserWarning, stacklevel=2)
        return split, spec
    differences = data.fingerprint_differences(recorded, data.split_fingerprint(split))
    if differences:
        raise ProvenanceError(
            f"{spec.describe()} is not the data {where} was trained on: "
            f"{'; '.join(differences)}. Point dataset= or data_dir= (and the CSV options) at "
            f"the data the model was trained on."
        )
    return split, spec


__all__ = ["DataSpec", "ProvenanceError", "load_verified"]
