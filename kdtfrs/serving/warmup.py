"""Requests to and from a served model: tf.Example requests, PredictRequests, warmup records.

TF Serving replays ``<version>/assets.extra/tf_serving_warmup_requests`` (a TFRecord file of
``PredictionLog`` protos) when it loads a version, so the first real request does not pay for
graph initialisation. The protos come from the ``tensorflow-serving-api`` package
(``pip install 'kdtfrs[serving]'``).
"""

from __future__ import annotations

import pathlib

import numpy as np

from kdtfrs._keras import tf
from kdtfrs.serving.servable import USER_FEATURE

WARMUP_FILE = "tf_serving_warmup_requests"
_NEEDS_API = ("the tensorflow-serving-api package is needed to write TF Serving requests: "
              "pip install 'kdtfrs[serving]' (or tensorflow-serving-api matching TensorFlow).")


def _apis():
    try:
        from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
    except ImportError as error:
        raise ImportError(_NEEDS_API) from error
    return predict_pb2, prediction_log_pb2


def user_examples(user_ids) -> list[bytes]:
    """Serialized ``tf.Example`` protos, one per raw user id, with the ``user_id`` feature
    (``bytes_list`` for strings, ``int64_list`` for integers): the ``serving_default`` input."""
    examples = []
    for user in np.asarray(user_ids).tolist():
        if isinstance(user, (str, bytes)):
            value = user.encode("utf-8") if isinstance(user, str) else user
            feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        else:
            feature = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(user)]))
        example = tf.train.Example(features=tf.train.Features(feature={USER_FEATURE: feature}))
        examples.append(example.SerializeToString())
    return examples


def predict_request(signature: str, user_ids, model_name: str = "kdtfrs"):
    """A ``tensorflow_serving.apis.predict_pb2.PredictRequest`` for ``user_ids``.

    ``signature`` "serving_default" sends serialized examples (input ``examples``),
    "recommend" the raw ids (input ``user_id``).
    """
    predict_pb2, _ = _apis()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    if signature == "serving_default":
        request.inputs["examples"].CopyFrom(
            tf.make_tensor_proto(user_examples(user_ids), dtype=tf.string))
    elif signature == "recommend":
        ids = np.asarray(user_ids)
        values = ([str(v).encode("utf-8") for v in ids.tolist()] if ids.dtype.kind in "USO"
                  else ids.astype(np.int64))
        dtype = tf.string if ids.dtype.kind in "USO" else tf.int64
        request.inputs[USER_FEATURE].CopyFrom(tf.make_tensor_proto(values, dtype=dtype))
    else:
        raise ValueError(f"signature must be 'serving_default' or 'recommend', got "
                         f"{signature!r}.")
    return request


def write_warmup(path, user_ids, model_name: str = "kdtfrs") -> pathlib.Path:
    """Writes warmup requests for ``user_ids`` (known users) into the TFRecord file ``path``.

    Four ``PredictionLog`` records: each signature with all of ``user_ids`` (a batch) and
    with one id alone (the single-query path).
    """
    _, prediction_log_pb2 = _apis()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    user_ids = np.asarray(user_ids)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature in ("serving_default", "recommend"):
            for batch in (user_ids, user_ids[:1]):
                log = prediction_log_pb2.PredictionLog(
                    predict_log=prediction_log_pb2.PredictLog(
                        request=predict_request(signature, batch, model_name)))
                writer.write(log.SerializeToString())
    return path


def read_warmup(path) -> list:
    """The ``PredictionLog`` records of a warmup file (for checks)."""
    _, prediction_log_pb2 = _apis()
    records = []
    for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(raw)
        records.append(log)
    return records


__all__ = ["WARMUP_FILE", "predict_request", "read_warmup", "user_examples", "write_warmup"]
