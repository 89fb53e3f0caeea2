"""The Keras side shared by every kdtfrs loss: padding mask, finite y_true, per-row losses."""

import threading

from kdtfrs._keras import keras, tf
from kdtfrs.losses._utils import relevance_entries

# The ``mask=`` of a ``__call__`` in progress, per thread (MirroredStrategy traces replicas in
# threads) and per loss object, read back by ``call``.
_PENDING = threading.local()


def _pending_masks():
    if not hasattr(_PENDING, "masks"):
        _PENDING.masks = {}
    return _PENDING.masks


class DistillationLoss(keras.losses.Loss):
    """Base of the kdtfrs Keras losses.

    ``__call__(y_true, y_pred, sample_weight=None, mask=None)``: ``mask`` (bool, y_pred's shape,
    default all True) is False at padded entries. ``call`` casts y_true and y_pred to float32,
    checks their shapes, refuses a non-finite y_true (a NaN teacher never switches a term off),
    and returns the per-row losses [B] of :meth:`compute_unreduced_loss`, with the mask of the
    real entries: ``mask``, and for the relevance losses (``labels_mark_padding``) also
    ``y_true >= 0``. Keras then reduces the rows: AUTO = mean over rows; inside a custom
    train_step under tf.distribute use SUM (or NONE) and divide by the global batch size.

    ``compile(loss=...)`` passes only (y_true, y_pred): there, padding is y_true < 0 for the
    relevance losses; score losses need ``mask=`` and so a custom train_step when padded.
    """

    #: Relevance losses: y_true < 0 marks padding. Score losses (raw teacher scores, any real):
    #: padding only through ``mask``.
    labels_mark_padding = False

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None):
        masks = _pending_masks()
        masks[id(self)] = mask
        try:
            return super().__call__(y_true, y_pred, sample_weight)
        finally:
            masks.pop(id(self), None)

    def call(self, y_true, y_pred):
        labels = tf.cast(y_true, tf.float32)
        logits = tf.cast(y_pred, tf.float32)
        self.check_shapes(labels, logits)
        labels = self.check_finite(labels)
        mask = _pending_masks().get(id(self))
        if mask is None:
            mask = tf.ones_like(logits, tf.bool)
        else:
            mask = tf.cast(mask, tf.bool)
            if not mask.shape.is_compatible_with(logits.shape):
                raise ValueError(
                    f"{type(self).__name__}: mask must have y_pred's shape (one flag per "
                    f"student score); received mask {mask.shape} and y_pred {logits.shape}."
                )
        if self.labels_mark_padding:
            mask = relevance_entries(labels, mask)
        return self.compute_unreduced_loss(labels, logits, mask)

    def check_shapes(self, labels, logits):
        """Raise a ValueError when y_true and y_pred do not describe the same entries."""
        if not labels.shape.is_compatible_with(logits.shape):
            raise ValueError(
                f"{type(self).__name__}: y_true and y_pred must have the same shape (one teacher "
                f"signal per student score); received y_true {labels.shape} and y_pred "
                f"{logits.shape}."
            )

    def check_finite(self, labels):
        """``labels``, or an InvalidArgumentError (when run) if any entry is NaN or infinite."""
        padding = (
            "y_true < 0 or the mask= argument" if self.labels_mark_padding
            else "the mask= argument"
        )
        return tf.debugging.assert_all_finite(
            labels,
            f"{type(self).__name__}: y_true holds a NaN or infinite value. Teacher signals "
            f"must be finite; kdtfrs marks padding with {padding}, never with NaN.",
        )

    def compute_unreduced_loss(self, labels, logits, mask):
        """Per-row losses float32 [B] from y_true (``labels``), y_pred (``logits``) and the
        bool ``mask`` of the real entries (y_pred's shape); implemented by each subclass."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute_unreduced_loss.")
