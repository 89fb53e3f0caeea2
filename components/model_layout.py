"""Where the pipeline's Trainers put things inside their Model artifact.

    <model artifact uri>/Format-Serving/   the SavedModel for TF Serving (what the Pusher pushes;
                                           TFX's serving_model_dir)
    <model artifact uri>/kdtfrs-model/     the kdtfrs model directory (docs/runs.md): model.keras,
                                           model.json with the data's fingerprint, ids.npz,
                                           metrics.json; what the evaluator and the
                                           distillation Trainer (base_model) load
"""

from __future__ import annotations

import pathlib

SERVING_DIR = "Format-Serving"
KDTFRS_MODEL_DIR = "kdtfrs-model"


def kdtfrs_model_dir(model_uri) -> pathlib.Path:
    """The kdtfrs model directory inside a Trainer's Model artifact."""
    return pathlib.Path(model_uri) / KDTFRS_MODEL_DIR


def model_uri_of_serving_dir(serving_dir) -> pathlib.Path:
    """The Model artifact holding ``serving_dir`` (a Trainer's ``fn_args.serving_model_dir``
    or ``fn_args.base_model``)."""
    serving_dir = pathlib.Path(serving_dir)
    if serving_dir.name != SERVING_DIR:
        raise ValueError(f"{serving_dir} is not a Trainer's {SERVING_DIR} folder.")
    return serving_dir.parent


def load_kdtfrs_model(model_uri, split):
    """The model a Trainer wrote into the Model artifact ``model_uri``, checked to have been
    trained on ``split`` (the pipeline's examples read back).

    Raises:
      ValueError: the model was trained on other data (its recorded fingerprint differs).
    """
    from kdtfrs import data, model_dir

    directory = kdtfrs_model_dir(model_uri)
    recorded = model_dir.describe(directory)["data"].get("fingerprint", {})
    differences = data.fingerprint_differences(recorded, data.split_fingerprint(split))
    if differences:
        raise ValueError(f"{directory} was not trained on these examples: "
                         f"{'; '.join(differences)}. Run its Trainer on the same ExampleGen "
                         "output (a stale cache entry? rerun with caching off).")
    return model_dir.load(directory, split.train)
