"""evaluate and EvaluationCallback against an independent per-user NumPy implementation."""

import numpy as np
import pytest

from kdtfrs._keras import keras, tf
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.evaluation import EvaluationCallback, evaluate, evaluate_lists
from kdtfrs.models import BPRMF

NUM_USERS, NUM_ITEMS = 15, 20


def integer_model(seed):
    """Small integer embeddings: exact scores, many ties (broken towards the lower item)."""
    rng = np.random.default_rng(seed)
    model = BPRMF(NUM_USERS, NUM_ITEMS, 3)
    model.user_embedding.assign(rng.integers(-2, 3, (NUM_USERS, 3)).astype(np.float32))
    model.item_embedding.assign(rng.integers(-2, 3, (NUM_ITEMS, 3)).astype(np.float32))
    return model


def random_split(seed):
    """Disjoint (train, truth); users 0 and 1 have no held-out item."""
    rng = np.random.default_rng(seed)
    draw = rng.random((NUM_USERS, NUM_ITEMS))
    train, truth = draw < 0.25, (draw >= 0.25) & (draw < 0.4)
    truth[:2] = False
    return [InteractionMatrix.from_pairs(*np.nonzero(mask), NUM_USERS, NUM_ITEMS)
            for mask in (train, truth)]


def reference(model, truth, excluded, ks, groups=None):
    """Per-user loop: stable sort of -scores, sets, DCG/IDCG sums."""
    scores = model.user_embedding.numpy() @ model.item_embedding.numpy().T
    for matrix in excluded:
        scores[matrix.to_pairs()] = -np.inf
    metrics = {}
    for k in ks:
        recalls, ndcgs, by_group = [], [], {}
        for user in range(NUM_USERS):
            held_out = set(truth.row(user).tolist())
            if not held_out:
                continue
            top = np.argsort(-scores[user], kind="stable")[:k]
            top = [item for item in top if np.isfinite(scores[user, item])]
            hits = [item in held_out for item in top]
            recalls.append(sum(hits) / len(held_out))
            dcg = sum(1 / np.log2(rank + 2) for rank, hit in enumerate(hits) if hit)
            idcg = sum(1 / np.log2(rank + 2) for rank in range(min(len(held_out), k)))
            ndcgs.append(dcg / idcg)
            for group in range(0 if groups is None else groups.max() + 1):
                in_group = {item for item in held_out if groups[item] == group}
                if in_group:
                    found = len(in_group & set(top))
                    by_group.setdefault(group, []).append(found / len(in_group))
        metrics[f"recall@{k}"], metrics[f"ndcg@{k}"] = np.mean(recalls), np.mean(ndcgs)
        for group, values in by_group.items():
            metrics[f"recall@{k}/group_{group}"] = np.mean(values)
    return metrics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_the_numpy_reference(seed):
    model = integer_model(seed)
    train, truth = random_split(seed)
    groups = np.random.default_rng(seed).integers(0, 3, NUM_ITEMS)
    result = evaluate(model, truth, (train,), ks=(1, 3, 5), batch_size=4, item_groups=groups)
    expected = reference(model, truth, [train], (1, 3, 5), groups)
    assert result.metrics.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_allclose(result.metrics[name], value, rtol=1e-12, err_msg=name)


def test_given_lists_are_scored_like_a_models_lists():
    _, truth = random_split(4)
    users = np.flatnonzero(truth.row_lengths() > 0)
    scores = integer_model(4).score_all(users).numpy()
    lists = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    lists[:, 4] = -1  # no fifth item: only four are listed
    got = evaluate_lists(truth, users, lists, ks=(3, 5)).metrics
    truncated = [[item for item in row if item >= 0] for row in lists]
    recall = np.mean([len(set(row) & set(truth.row(u))) / len(truth.row(u))
                      for u, row in zip(users, truncated)])
    np.testing.assert_allclose(got["recall@5"], recall)
    np.testing.assert_allclose(
        got["recall@3"], np.mean([len(set(row[:3]) & set(truth.row(u))) / len(truth.row(u))
                                  for u, row in zip(users, truncated)]))


def test_per_user_arrays_and_users_without_truth():
    model = integer_model(3)
    train, truth = random_split(3)
    result = evaluate(model, truth, train, ks=(5,), users=np.arange(NUM_USERS))
    per_user = result.per_user
    np.testing.assert_array_equal(per_user["user"], np.arange(NUM_USERS))
    np.testing.assert_array_equal(per_user["num_truth"], truth.row_lengths())
    assert np.isnan(per_user["recall@5"][:2]).all() and np.isnan(per_user["ndcg@5"][:2]).all()
    assert np.isfinite(per_user["ndcg@5"][2:]).all()
    np.testing.assert_allclose(result.metrics["ndcg@5"], np.nanmean(per_user["ndcg@5"]))
    default = evaluate(model, truth, train, ks=(5,))
    np.testing.assert_array_equal(default.per_user["user"], np.arange(2, NUM_USERS))
    assert default.metrics == result.metrics


def test_masking_the_validation_items_at_test_time():
    model = integer_model(4)
    train, test = random_split(4)
    valid = InteractionMatrix.from_pairs(np.arange(NUM_USERS), np.arange(NUM_USERS) % NUM_ITEMS,
                                         NUM_USERS, NUM_ITEMS)
    result = evaluate(model, test, (train, valid), ks=(3,))
    expected = reference(model, test, [train, valid], (3,))
    np.testing.assert_allclose(result.metrics["recall@3"], expected["recall@3"])


def test_a_held_out_item_that_is_also_excluded_is_never_a_hit():
    model = integer_model(5)
    truth = InteractionMatrix.from_pairs([0, 0], [3, 7], NUM_USERS, NUM_ITEMS)
    everything = InteractionMatrix.from_pairs(
        np.zeros(NUM_ITEMS, int), np.arange(NUM_ITEMS), NUM_USERS, NUM_ITEMS
    )
    result = evaluate(model, truth, everything, ks=(NUM_ITEMS,))
    assert result.metrics[f"recall@{NUM_ITEMS}"] == 0.0


def test_perfect_ranking_scores_one():
    model = integer_model(6)
    scores = model.user_embedding.numpy() @ model.item_embedding.numpy().T
    best = np.argsort(-scores, axis=1, kind="stable")[:, :2]
    truth = InteractionMatrix.from_pairs(np.repeat(np.arange(NUM_USERS), 2), best.ravel(),
                                         NUM_USERS, NUM_ITEMS)
    metrics = evaluate(model, truth, None, ks=(2, 4, 50)).metrics
    assert metrics["recall@2"] == metrics["ndcg@2"] == metrics["ndcg@4"] == 1.0
    assert metrics["recall@50"] == metrics["ndcg@50"] == 1.0  # K above the catalogue size


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ks": ()}, "ks"),
        ({"ks": (0,)}, "ks"),
        ({"ks": (2.0,)}, "ks"),
        ({"item_groups": np.zeros(3, int)}, "item_groups"),
        ({"item_groups": -np.ones(NUM_ITEMS, int)}, "item_groups"),
        ({"truth": InteractionMatrix.from_pairs([0], [0], 2, 2)}, "truth has shape"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    _, truth = random_split(0)
    arguments = {"model": integer_model(0), "truth": truth, **kwargs}
    with pytest.raises(ValueError, match=message):
        evaluate(**arguments)


def test_callback_feeds_early_stopping_and_respects_every():
    model = BPRMF(NUM_USERS, NUM_ITEMS, 4, init_stddev=0.5, seed=0)
    model.compile(optimizer=keras.optimizers.SGD(0.1, jit_compile=False))
    train, valid = random_split(7)
    users, items = train.to_pairs()
    batch = {"user": users.astype(np.int32), "pos_item": items.astype(np.int32),
             "neg_item": np.zeros((users.size, 1), np.int32)}
    dataset = tf.data.Dataset.from_tensors(batch)
    callbacks = [
        EvaluationCallback(None, valid, exclude=(train,), ks=(3, 20)),
        EvaluationCallback(model, valid, exclude=(train,), ks=(3,), every=2, prefix="other_"),
        keras.callbacks.EarlyStopping(monitor="val_ndcg@20", mode="max", patience=5),
    ]
    logs = model.fit(dataset, epochs=4, callbacks=callbacks, verbose=0).history
    assert len(logs["val_ndcg@20"]) == 4 and len(logs["val_recall@3"]) == 4
    assert len(logs["other_ndcg@3"]) == 2
    last = evaluate(model, valid, (train,), ks=(3, 20)).metrics
    assert logs["val_ndcg@20"][-1] == last["ndcg@20"]
    assert callbacks[0].last_result.metrics == last
    with pytest.raises(ValueError, match="every"):
        EvaluationCallback(model, valid, every=0)
