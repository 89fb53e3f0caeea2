"""Float64 NumPy references and batches shared by the feature-distillation tests (DE, PCKD,
FitNet and their layers). The generic embedding-task checks (gradients, eager == graph,
replicas, a Distiller run) are in ``embedding_task_checks``."""

import numpy as np

from kdtfrs import samplers
from kdtfrs._keras import tf
from tests.tasks.embedding_task_checks import tables


def as64(tensor):
    return np.asarray(tensor, np.float64)


def softmax(logits, axis=-1):
    shifted = logits - logits.max(axis=axis, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=axis, keepdims=True)


# ---- layers -----------------------------------------------------------------------------------


def gate_probabilities(gate, teacher_vectors):
    """float64 [N, E]: softmax(e^T W + b) from the gate's weights."""
    return softmax(as64(teacher_vectors) @ as64(gate.kernel) + as64(gate.bias))


def gate_selection(gate, teacher_vectors, seed):
    """float64 [N, E]: the Gumbel-softmax selection, with the noise ``seed`` draws
    (``samplers.gumbel_noise`` of shape [N, E])."""
    probabilities = gate_probabilities(gate, teacher_vectors)
    if gate.num_choices == 1:
        return np.ones_like(probabilities)
    noise = as64(samplers.gumbel_noise(probabilities.shape, seed))
    temperature = float(gate.temperature.numpy())
    return softmax((np.log(probabilities + 1e-10) + noise) / temperature)


def experts(projector, student_vectors):
    """float64 [N, E, d_T]: every expert's output f_k(e^S) = ReLU(x A_k + a_k) C_k + c_k."""
    x = as64(student_vectors)
    outputs = []
    for k in range(projector.num_experts):
        hidden = np.maximum(x @ as64(projector.hidden_kernel[k]) + as64(projector.hidden_bias[k]),
                            0.0)
        outputs.append(hidden @ as64(projector.output_kernel[k]) + as64(projector.output_bias[k]))
    return np.stack(outputs, axis=1)


def project(projector, student_vectors, teacher_vectors, seed):
    """float64 [N, d_T]: Σ_k z_k f_k(e^S)."""
    selection = gate_selection(projector.gate, teacher_vectors, seed)
    return (selection[:, :, None] * experts(projector, student_vectors)).sum(axis=1)


def randomise(layer, seed, scale=0.5):
    """Sets every trainable weight of ``layer`` to N(0, scale²) values (a known, non-trivial
    projector)."""
    rng = np.random.default_rng(seed)
    for variable in layer.trainable_variables:
        variable.assign(scale * rng.standard_normal(variable.shape))


# ---- batches ----------------------------------------------------------------------------------


def unique_rows(ids):
    """(unique ids in order of first appearance, their first row) of int [B] or [B, n]."""
    ids = np.asarray(ids)
    ids = ids[:, None] if ids.ndim == 1 else ids
    flat = ids.reshape(-1)
    _, first = np.unique(flat, return_index=True)
    first = np.sort(first)
    return flat[first], first // ids.shape[1]


def on_rows(values, rows, batch_size):
    out = np.zeros(batch_size)
    np.add.at(out, rows, values)
    return out


def disjoint_features(train, batch_size=12, negatives=2, seed=5):
    """A batch whose two halves share no user and no item (so per-replica unique sums add up
    to the full batch's), each half with a repeated user and item."""
    users, items = train.to_pairs()
    rng = np.random.default_rng(seed)
    half = batch_size // 2
    halves = []
    user_sets = (np.arange(train.num_users) % 2 == 0, np.arange(train.num_users) % 2 == 1)
    item_sets = (np.arange(train.num_items) % 2 == 0, np.arange(train.num_items) % 2 == 1)
    for user_ok, item_ok in zip(user_sets, item_sets):
        candidates = np.flatnonzero(user_ok[users] & item_ok[items])
        rows = rng.choice(candidates, half, replace=False)
        rows[-1] = rows[0]
        allowed = np.flatnonzero(item_ok)
        halves.append((users[rows], items[rows], rng.choice(allowed, (half, negatives))))
    return {key: tf.constant(np.concatenate([h[index] for h in halves]), tf.int32)
            for index, key in enumerate(("user", "pos_item", "neg_item"))}


def with_negatives(features, train, count, seed=8):
    """``features`` with ``count`` random negatives per row (repeats across rows likely)."""
    rng = np.random.default_rng(seed)
    negatives = rng.integers(0, min(train.num_items, 10), (features["user"].shape[0], count))
    return {**features, "neg_item": tf.constant(negatives, tf.int32)}


# ---- losses -----------------------------------------------------------------------------------


def numpy_de(task, features, student, seed):
    """float64 [B]: DE per row, from the tables, the projectors' weights and the seed layout
    (users, positives, negatives: ``split_seed(seed, 3)``)."""
    teacher_tables = tables(task.teacher)
    student_tables = tables(student)
    seeds = samplers.split_seed(seed, 3)
    batch = features["user"].shape[0]
    total = np.zeros(batch)
    for key, side, scale, entity_seed in (("user", 0, 1.0, seeds[0]),
                                          ("pos_item", 1, 0.5, seeds[1]),
                                          ("neg_item", 1, 0.5, seeds[2])):
        ids, rows = unique_rows(features[key].numpy())
        projector = task.user_projector if side == 0 else task.item_projector
        teacher = teacher_tables[side][ids]
        projected = project(projector, student_tables[side][ids], teacher, entity_seed)
        errors = ((teacher - projected) ** 2).sum(-1)
        total += scale * on_rows(errors, rows, batch)
    return total
