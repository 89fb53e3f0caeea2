"""Knowledge-distillation losses for top-K recommenders, as Keras losses.

Each method is one module: a pure function ``<name>_loss(labels, logits, mask, ...)`` that
returns the per-row loss float32 [B] (the math, usable in any train_step), and a thin Keras
class registered as ``kdtfrs>ClassName`` that calls it (the TF-Ranking split).

Layout
  ``y_pred`` [B, N]: student scores on an item list per row. A row is one user of the batch
  (rows may repeat a user), or one item for the item-side terms of IR-RRD and DCD.
  ``y_true`` [B, N]: the teacher signal for the SAME items (UnKD: [B, P, 2] pairs for both;
  RCE-KD: y_true [B, 2K+L, 2] = (teacher score, item id)). The item lists are chosen by a
  sampler; the losses see only (y_true, y_pred).

Padding
  NaN in y_true (:data:`PADDING`; any non-finite value) marks a padded entry. Padding never
  changes a result: padded entries are replaced by safe values before any math, take no part
  in any sum or normaliser, and get a zero gradient whatever y_pred holds there. A row that is
  all padding contributes 0.

Teacher signal, two kinds
  * scores: raw teacher scores, any real (KD, PointwiseMSE, PointwiseBCE, CD, RCEKD);
  * relevance: for the ranking losses (RD, RRD, SLD, DCD, BlackD). y_true > 0 for items of the
    teacher's ranked list, larger = ranked higher (a sampler passes e.g. ``mxK - rank``);
    y_true == 0 (or < 0) for unranked / uninteresting items, which appear only in
    denominators (RD and SLD ignore them). The teacher order is obtained by sorting y_true
    in the loss, so the list order does not matter; ties keep list order (deterministic).

Reduction, and what lambda means
  The per-row loss is the paper's per-user quantity (RRD: the sum over its K positions;
  MSE/BCE/CD: the sum over the list; UnKD: the mean over its pairs, as in the original).
  Keras reduces the rows: AUTO (default) = mean over the rows of the batch, so a weight λ
  is "λ per user" and does not depend on the batch size. The reference code (KDs, DE-RRD, ...)
  sums both its base loss and the KD term over the batch instead; dividing both by the batch
  size B gives λ_kdtfrs = λ_reference × (rows the reference sums per batch) / B: unchanged for
  row-summed methods, × |U_B|/B (the share of unique users in a batch) for RRD/DCD/BlackD/SLD.
  UnKD averages both terms in the original, so its λ carries over (docs/methods.md).
  Under tf.distribute, build the loss with ``reduction=keras.losses.Reduction.SUM`` (or
  NONE) inside a custom train_step and divide by the global batch size
  (``tf.nn.compute_average_loss``): tf-keras refuses AUTO under a strategy outside
  compile/fit.

Numerics
  Softmaxes are log-sum-exp based (max-shifted, no overflow, no clamping of scores),
  log σ is ``tf.math.log_sigmoid``, BCE is computed from logits.

Method ids (``get(method_id)``): kd, blackd, mse, bce, rd, cd, rrd, ir_rrd (item-side RRD
is RRD on item rows), sld, dcd, unkd, rce_kd.
"""

from kdtfrs.losses._base import DistillationLoss
from kdtfrs.losses.blackd import BlackD, blackd_loss
from kdtfrs.losses.cd import CD, cd_loss
from kdtfrs.losses.dcd import DCD, dcd_loss
from kdtfrs.losses.kd import KD, kd_loss
from kdtfrs.losses.pointwise_bce import PointwiseBCE, pointwise_bce_loss
from kdtfrs.losses.pointwise_mse import PointwiseMSE, pointwise_mse_loss
from kdtfrs.losses.rce_kd import RCEKD, rce_kd_loss
from kdtfrs.losses.rd import RD, rd_loss
from kdtfrs.losses.rrd import RRD, rrd_loss
from kdtfrs.losses.sld import SLD, sld_loss
from kdtfrs.losses.unkd import UnKD, unkd_loss

PADDING = float("nan")
"""The y_true value that marks a padded list entry."""

_LOSS_CLASSES = {
    "kd": KD,
    "blackd": BlackD,
    "mse": PointwiseMSE,
    "bce": PointwiseBCE,
    "rd": RD,
    "cd": CD,
    "rrd": RRD,
    "ir_rrd": RRD,
    "sld": SLD,
    "dcd": DCD,
    "unkd": UnKD,
    "rce_kd": RCEKD,
}

METHOD_IDS = tuple(_LOSS_CLASSES)
"""The method ids accepted by :func:`get`."""


def get(method_id):
    """The loss class of a method id (e.g. ``get("rrd")`` is :class:`RRD`).

    ``ir_rrd`` maps to :class:`RRD`: IR-RRD's item-side term is RRD on rows that are items.

    Raises:
      ValueError: for an unknown id, listing the known ones.
    """
    try:
        return _LOSS_CLASSES[method_id]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown distillation loss method_id={method_id!r}; "
            f"expected one of {', '.join(METHOD_IDS)}."
        ) from None


__all__ = [
    "PADDING",
    "METHOD_IDS",
    "get",
    "DistillationLoss",
    "KD",
    "BlackD",
    "PointwiseMSE",
    "PointwiseBCE",
    "RD",
    "CD",
    "RRD",
    "SLD",
    "DCD",
    "UnKD",
    "RCEKD",
    "kd_loss",
    "blackd_loss",
    "pointwise_mse_loss",
    "pointwise_bce_loss",
    "rd_loss",
    "cd_loss",
    "rrd_loss",
    "sld_loss",
    "dcd_loss",
    "unkd_loss",
    "rce_kd_loss",
]
