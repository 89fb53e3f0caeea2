"""What one replica knows inside a training step under ``tf.distribute``.

Every loss of kdtfrs (the backbones' base loss, every task) is a per-row value averaged over
the *global* batch with ``global_mean``, so that the replicas' losses add up to the mean over
all rows and their summed gradients are those of one device on the global batch. Outside a
strategy (or with one replica) these functions are the plain one-device ones.
"""

from __future__ import annotations

from kdtfrs._keras import tf


def replica_id():
    """This replica's index in its sync group: an int or an int32 scalar; 0 outside a strategy."""
    context = tf.distribute.get_replica_context()
    return context.replica_id_in_sync_group if context else 0


def replica_count() -> int:
    """The replicas training in sync (1 outside a strategy)."""
    context = tf.distribute.get_replica_context()
    return context.num_replicas_in_sync if context else 1


def global_mean(per_row):
    """float32 scalar: this replica's share of the mean of ``per_row`` [B] over the global batch.

    ``sum(per_row) / N`` with N the rows of every replica together, so the replicas' values
    sum to the global mean. ``tf.nn.compute_average_loss`` alone takes N = B x replicas,
    which is wrong whenever the replicas hold different numbers of rows: a global batch that
    does not divide evenly (e.g. 63 rows on 2 replicas: 32 + 31), and the last, smaller
    batch of every epoch (one replica may then hold no row at all and the other's loss would
    count twice). The row counts are summed across replicas (one scalar all-reduce per call)
    when more than one replica trains; with one, this is ``compute_average_loss``.
    """
    per_row = tf.convert_to_tensor(per_row)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tf.nn.compute_average_loss(per_row)
    rows = tf.cast(tf.shape(per_row)[0], tf.float32)
    total_rows = tf.cast(context.all_reduce(tf.distribute.ReduceOp.SUM, rows), tf.int64)
    return tf.nn.compute_average_loss(per_row, global_batch_size=total_rows)


#: the values a TFRS train step logs per replica (its metrics' results are synced already)
STEP_LOSSES = ("loss", "regularization_loss", "total_loss")


def global_step_logs(logs: dict) -> dict:
    """A train step's ``logs`` with its per-replica losses summed over the replicas.

    TFRS' ``train_step`` logs each replica's share of the loss next to metric results that
    every replica reads whole. Keras' default reduction of a step's logs (``"sum"``) adds the
    shares up, but under ``MultiWorkerMirroredStrategy`` it also adds up the metric results
    (a 2-worker run logged ``base_loss`` and every ``<task>_loss`` twice their value). With
    the shares summed here, every log is global on every replica, and the models that call
    this reduce their logs with ``distribute_reduction_method = "first"``.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return logs
    keys = [key for key in STEP_LOSSES if key in logs]
    summed = context.all_reduce(tf.distribute.ReduceOp.SUM, [logs[key] for key in keys])
    return {**logs, **dict(zip(keys, summed))}
