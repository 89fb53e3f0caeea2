"""Serving a trained student: a SavedModel for TF Serving, its requests and its model card.

    import kdtfrs.serving
    path = kdtfrs.serving.export_saved_model(distiller.student, "exports/rrd",
                                             ids=(split.user_ids, split.item_ids), k=100,
                                             exclude=split.train)
    kdtfrs.serving.export_model_dir("runs/rrd", "exports/rrd")     # `kdtfrs export`

- ``export``: ``export_saved_model``, ``export_model_dir`` (the layout, versions, safety);
- ``servable``: the ``tf.Module`` saved, its signatures ``serving_default`` (tf.Example) and
  ``recommend`` (raw ids), cold start;
- ``search``: exact (blocked) and approximate (clustered) top-k inside the graph;
- ``warmup``: tf.Example and PredictRequest builders, the warmup records;
- ``card``: the model card.

See docs/serving.md.
"""

from kdtfrs.serving.export import ExportError, export_model_dir, export_saved_model
from kdtfrs.serving.search import ClusteredSearch, ExactSearch
from kdtfrs.serving.servable import OUTPUTS, USER_FEATURE, Servable
from kdtfrs.serving.warmup import predict_request, read_warmup, user_examples, write_warmup

__all__ = ["ClusteredSearch", "ExactSearch", "ExportError", "OUTPUTS", "Servable",
           "USER_FEATURE", "export_model_dir", "export_saved_model", "predict_request",
           "read_warmup", "user_examples", "write_warmup"]
