"""What the two Trainers' run_fn share.

- ``read_split``: the Trainer's examples (all three splits: ``train_args`` gives ``train``,
  ``eval_args`` gives ``eval`` and ``test``) read back as a ``kdtfrs.data.SplitData``;
- ``settings``: the backbone and fit settings of ``custom_config``;
- ``distribution_strategy``: MirroredStrategy over the visible GPUs (the CPU without one);
  ``fit.batch_size`` is per replica;
- ``EpochProgress``: the epoch, its loss and validation NDCG@20;
- ``write_serving_model``: the SavedModel with TF Serving signatures (``kdtfrs.serving``) in
  the Trainer's ``serving_model_dir``, beside the kdtfrs model directory
  (``components.model_layout``).

custom_config of a Trainer (``pipelines.pipeline.create_pipeline`` writes it):

    {"role": "teacher" | "scratch" | "student",
     "backbone": {BackboneSpec fields}, "fit": {FitConfig fields},
     "method": "rrd", "method_params": {...},        (distillation Trainer only)
     "serving": {"k": 100}}
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil

from components.model_layout import kdtfrs_model_dir, model_uri_of_serving_dir
from kdtfrs import data
from kdtfrs import model_dir as model_dirs
from kdtfrs._keras import keras
from kdtfrs.experiment import BackboneSpec
from kdtfrs.fitting import MONITOR, FitConfig
from kdtfrs.serving import card, export_saved_model
from kdtfrs.strategy import make_strategy
from pipelines.progress import detail, status


@dataclasses.dataclass
class ExamplesSource:
    """The data of a pipeline model, for its model.json: ExampleGen's files and the split's
    fingerprint (``kdtfrs.provenance``'s record, for data that has no name or CSV path)."""

    files: list

    def record(self, split: data.SplitData) -> dict:
        return {"dataset": "tfx-examples", "files": list(self.files), "data_dir": None,
                "split": "given", "seed": 0, "fingerprint": data.split_fingerprint(split)}


def read_split(fn_args):
    """(split, source): the examples of all three splits as one ``SplitData``."""
    files = [*fn_args.train_files, *fn_args.eval_files]
    return data.read_split_examples(files, name="examples"), ExamplesSource(files)


def settings(custom_config: dict) -> tuple[BackboneSpec, FitConfig]:
    """The backbone and fit settings of a Trainer's ``custom_config``."""
    return BackboneSpec(**custom_config["backbone"]), FitConfig(**custom_config["fit"])


def distribution_strategy():
    """MirroredStrategy over the visible GPUs (without one, the CPU): ``kdtfrs.strategy``'s
    "mirrored", made once per process, which every Trainer of a local run shares."""
    return make_strategy("mirrored")


def output_dirs(fn_args):
    """(kdtfrs model directory, serving directory) inside the Trainer's Model artifact."""
    return kdtfrs_model_dir(model_uri_of_serving_dir(fn_args.serving_model_dir)), \
        fn_args.serving_model_dir


class EpochProgress(keras.callbacks.Callback):
    """Shows ``<label> epoch 3/30  loss 0.4123  val ndcg@20 0.2292`` after each epoch
    (``pipelines.progress.status``: one line replaced on a terminal)."""

    def __init__(self, label: str, epochs: int):
        super().__init__()
        self.label, self.epochs = label, epochs

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        text = f"{self.label} epoch {epoch + 1:>3}/{self.epochs}  loss {logs.get('loss', 0):.4f}"
        if MONITOR in logs:
            text += f"  val ndcg@20 {logs[MONITOR]:.4f}"
        status(text)


def report(label: str, result: dict) -> None:
    """One line: epochs run, best epoch, test NDCG@20."""
    training = result["training"]
    best = f" (best {training['best_epoch']})" if "best_epoch" in training else ""
    detail(f"{label}: {training['epochs']} epochs{best}, test ndcg@20 "
           f"{result['test']['ndcg@20']:.4f}")


def write_serving_model(model, split, model_dir, serving_dir, custom_config: dict) -> None:
    """Exports ``model`` into ``serving_dir`` as a SavedModel for TF Serving
    (``kdtfrs.serving.export_saved_model``): ``serving_default`` takes serialized tf.Examples
    with ``user_id``, ``recommend`` raw ids; both answer ``item_ids``, ``scores`` and
    ``is_fallback`` for the top ``custom_config["serving"]["k"]`` items, leaving out every item
    the examples hold for the user (train, eval and test). The model card says what the
    kdtfrs model directory ``model_dir`` says, and the Trainer's role."""
    description = model_dirs.describe(model_dir)
    metrics = json.loads((pathlib.Path(model_dir) / model_dirs.METRICS_FILE).read_text())
    model_card = card.merged(card.from_model_dir(description, metrics, model_dir),
                             {"pipeline": {"role": custom_config["role"]}})
    staging = pathlib.Path(serving_dir).with_name(".export")  # TF Serving's <base>/<version>
    shutil.rmtree(staging, ignore_errors=True)
    exported = export_saved_model(
        model, staging, ids=(split.user_ids, split.item_ids), k=custom_config["serving"]["k"],
        exclude=(split.train, split.valid, split.test), version=1, model_card=model_card)
    shutil.rmtree(serving_dir, ignore_errors=True)
    exported.rename(serving_dir)
    shutil.rmtree(staging)
