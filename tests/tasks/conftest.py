"""Fixtures of the method tests: a tiny synthetic split, a frozen teacher, a student, a batch.

Everything is session-scoped and small (60 users, 80 items) so that each test runs in well
under a second; tests that change a model or a ``TeacherSignals`` build their own.
"""

import numpy as np
import pytest

from kdtfrs._keras import tf
from kdtfrs.data import make_synthetic, split_random
from kdtfrs.models import BPRMF
from kdtfrs.signals import TeacherSignals

NUM_USERS, NUM_ITEMS = 60, 80
BATCH_SIZE = 12


@pytest.fixture(scope="session")
def split():
    interactions = make_synthetic(
        num_users=NUM_USERS, num_items=NUM_ITEMS, num_clusters=4,
        mean_interactions_per_user=8, seed=0,
    )
    return split_random(interactions, seed=0)


@pytest.fixture(scope="session")
def train(split):
    return split.train


@pytest.fixture(scope="session")
def teacher(split):
    """A frozen BPR-MF with random weights (std 0.5: scores of order 1, no near ties)."""
    return BPRMF(split.num_users, split.num_items, embedding_dim=16, init_stddev=0.5,
                 seed=1).freeze()


@pytest.fixture(scope="session")
def student(split):
    """A trainable BPR-MF; tests read it and never change its weights."""
    return BPRMF(split.num_users, split.num_items, embedding_dim=4, init_stddev=0.5, seed=2)


@pytest.fixture(scope="session")
def signals(teacher, train):
    return TeacherSignals(teacher, train, batch_size=16)


@pytest.fixture(scope="session")
def features(train):
    """A ``bpr_triples``-like batch of training pairs; users repeat, as in the Distiller."""
    users, items = train.to_pairs()
    rng = np.random.default_rng(3)
    rows = rng.choice(users.size, BATCH_SIZE, replace=False)
    rows[-1] = rows[0]  # one repeated row
    return {
        "user": tf.constant(users[rows], tf.int32),
        "pos_item": tf.constant(items[rows], tf.int32),
        "neg_item": tf.constant(rng.integers(0, train.num_items, (BATCH_SIZE, 1)), tf.int32),
    }
