"""Knowledge-distillation losses for top-K recommenders, as Keras losses.

Each method is one module: a pure function ``<name>_loss(labels, logits, mask, ...)`` that
returns the per-row loss float32 [B] (the math, usable in any train_step), and a thin Keras
class registered as ``kdtfrs>ClassName`` that calls it (the TF-Ranking split).

Layout
  ``y_pred`` [B, N]: student scores on an item list per row. A row is one user of the batch
  (rows may repeat a user), or one item for the item-side terms of IR-RRD and DCD.
  ``y_true`` [B, N]: the teacher signal for the SAME items (UnKD: [B, P, 2] pairs for both;
  RCE-KD: y_true [B, 2K+L, 3] = (teacher score, in-A flag, Q^T-item-in-C flag), see
  :class:`RCEKDLoss`). The item lists are chosen by a sampler; the losses see only
  (y_true, y_pred) and, for padding, a mask.

Teacher signal, two kinds, and padding
  * relevance (RDLoss, RRDLoss, SLDLoss, DCDLoss, BlackDLoss, UnKDLoss): y_true > 0 for items
    of the teacher's ranked list (the interesting items), larger = ranked higher (a sampler
    passes e.g. ``mxK - rank``); y_true == 0 for uninteresting items, where the loss has
    them (RRD/DCD/BlackD: denominators only; RD: the probes of its dynamic weights; SLD
    ignores them); **y_true < 0 is padding** (the TF-Ranking rule ``labels < 0``). The
    teacher order is obtained by sorting y_true in the loss, so the list order does not
    matter; ties keep list order (deterministic).
  * scores (KDLoss, PointwiseMSELoss, PointwiseBCELoss, CDLoss, RCEKDLoss): y_true are raw
    teacher scores, any real, so padding needs a mask: **``loss(y_true, y_pred, mask=mask)``**
    (bool, y_pred's shape, False = padded; default all real). The pure functions take
    ``mask`` as their third argument; the relevance losses accept ``mask=`` too, on top of
    y_true < 0.

  Padding never changes a result: padded entries are replaced by safe values before any
  math, take no part in any sum or normaliser, and get a zero gradient whatever y_pred holds
  there. A row that is all padding contributes 0. y_true must be finite everywhere: a NaN or
  infinite teacher signal raises an InvalidArgumentError naming the loss (under XLA,
  ``jit_compile=True``, the check is compiled out and the loss turns NaN instead); it is
  never read as padding, so a broken teacher cannot silently switch a term off.
  ``compile(loss=...)`` passes only (y_true, y_pred) (tf-keras refuses a dict y_true): there
  the relevance losses pad with y_true < 0, and the score losses need unpadded lists or a
  custom train_step that passes ``mask=``.

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
  (``kdtfrs.replicas.global_mean``, right for batches that split unevenly too): tf-keras
  refuses AUTO under a strategy outside compile/fit.

Numerics
  Softmaxes are log-sum-exp based (max-shifted, no overflow, no clamping of scores),
  log σ is ``tf.math.log_sigmoid``, BCE is computed from logits.

Method ids (``get(method_id)``): kd, blackd, mse, bce, rd, cd, rrd, ir_rrd (item-side RRD
is RRD on item rows), sld, dcd, unkd, rce_kd, hetcomp (its two phases: ``HetCompLoss(phase=)``;
BD's term is ``PointwiseBCELoss``). One public name per method: the Keras class
``<Method>Loss`` (registered as ``kdtfrs>RRDLoss``, ...) and the function ``<method>_loss``;
``kdtfrs.tasks.RRD`` etc. are the tasks that sample the lists.
"""

from kdtfrs.losses._base import DistillationLoss
from kdtfrs.losses.blackd import BlackDLoss, blackd_loss
from kdtfrs.losses.cd import CDLoss, cd_loss
from kdtfrs.losses.dcd import DCDLoss, dcd_loss
from kdtfrs.losses.hetcomp import (HetCompLoss, hetcomp_overall_from_parts, hetcomp_overall_loss,
                                   hetcomp_rank_from_parts, hetcomp_rank_loss)
from kdtfrs.losses.kd import KDLoss, kd_loss
from kdtfrs.losses.pointwise_bce import PointwiseBCELoss, pointwise_bce_loss
from kdtfrs.losses.pointwise_mse import PointwiseMSELoss, pointwise_mse_loss
from kdtfrs.losses.rce_kd import RCEKDLoss, rce_kd_loss
from kdtfrs.losses.rd import RDLoss, rd_dynamic_weights, rd_loss
from kdtfrs.losses.rrd import RRDLoss, rrd_loss
from kdtfrs.losses.sld import SLDLoss, sld_loss
from kdtfrs.losses.unkd import UnKDLoss, unkd_loss

_LOSS_CLASSES = {
    "kd": KDLoss,
    "blackd": BlackDLoss,
    "mse": PointwiseMSELoss,
    "bce": PointwiseBCELoss,
    "rd": RDLoss,
    "cd": CDLoss,
    "rrd": RRDLoss,
    "ir_rrd": RRDLoss,
    "sld": SLDLoss,
    "dcd": DCDLoss,
    "unkd": UnKDLoss,
    "rce_kd": RCEKDLoss,
    "hetcomp": HetCompLoss,
}

METHOD_IDS = tuple(_LOSS_CLASSES)
"""The method ids accepted by :func:`get`."""


def get(method_id):
    """The loss class of a method id (e.g. ``get("rrd")`` is :class:`RRDLoss`).

    ``ir_rrd`` maps to :class:`RRDLoss`: IR-RRD's item-side term is RRD on rows that are items.

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
    "METHOD_IDS",
    "get",
    "DistillationLoss",
    "KDLoss",
    "BlackDLoss",
    "PointwiseMSELoss",
    "PointwiseBCELoss",
    "RDLoss",
    "CDLoss",
    "RRDLoss",
    "SLDLoss",
    "DCDLoss",
    "UnKDLoss",
    "RCEKDLoss",
    "HetCompLoss",
    "kd_loss",
    "blackd_loss",
    "pointwise_mse_loss",
    "pointwise_bce_loss",
    "rd_loss",
    "rd_dynamic_weights",
    "cd_loss",
    "rrd_loss",
    "sld_loss",
    "dcd_loss",
    "unkd_loss",
    "rce_kd_loss",
    "hetcomp_overall_loss",
    "hetcomp_rank_loss",
    "hetcomp_overall_from_parts",
    "hetcomp_rank_from_parts",
]
