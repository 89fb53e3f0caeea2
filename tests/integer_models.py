"""A BPR-MF of small integer embeddings and a random exclusion: exact scores, many ties."""

import numpy as np

from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.models import BPRMF


def integer_model_and_exclusion(num_users, num_items, seed, high=3, density=0.3):
    """(model, mask): the model and a random bool [users, items] mask of ``density``; edit
    the mask, if need be, before ``excluded`` turns it into an exclusion."""
    rng = np.random.default_rng(seed)
    model = BPRMF(num_users, num_items, 3)
    model.user_embedding.assign(rng.integers(-high, high + 1, (num_users, 3)).astype(np.float32))
    model.item_embedding.assign(rng.integers(-high, high + 1, (num_items, 3)).astype(np.float32))
    mask = rng.random((num_users, num_items)) < density
    return model, mask


def excluded(model, mask):
    """(the InteractionMatrix of ``mask``, the model's dense scores with it at -inf)."""
    train = InteractionMatrix.from_pairs(*np.nonzero(mask), *mask.shape)
    dense = model.user_embedding.numpy() @ model.item_embedding.numpy().T
    dense[mask] = -np.inf
    return train, dense
