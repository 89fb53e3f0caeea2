"""RCE-KD: [student top-K | teacher top-K | closure items from student positions >= K]."""

import numpy as np
import pytest

from kdtfrs._keras import tf

from kdtfrs.tasks import RCEKD
from kdtfrs.tasks.rce_kd import closure_counts, closure_flags, list_places
from tests.tasks import task_checks as checks

NUM_TOP, NUM_CLOSURE, MAX_RANK = 4, 5, 20

# Per-row losses of the ``rce_kd`` fixture on checks.SEED and checks.OTHER_SEED, computed
# while y_true carried item ids and the loss did the set logic (before the masks).
BEFORE_THE_SEGMENT_MASKS = {
    "SEED": [2.3297665119171143, 2.273869752883911, 2.3194832801818848, 1.7695424556732178,
             2.4327597618103027, 2.3570377826690674, 1.6828083992004395, 2.3246312141418457,
             2.3411355018615723, 2.357607841491699, 2.259601593017578, 2.360751152038574],
    "OTHER_SEED": [2.2817888259887695, 2.226590633392334, 2.271977186203003,
                   1.7908296585083008, 2.4247334003448486, 2.358837604522705,
                   2.201279640197754, 2.293968677520752, 2.3545427322387695,
                   2.375248432159424, 1.7480206489562988, 2.3603291511535645],
}


def _naive_closure_counts(student_top, teacher_top, max_count):
    counts = np.zeros(student_top.shape, int)
    for user in range(student_top.shape[0]):
        found = [list(student_top[user]).index(t) for t in teacher_top[user]
                 if t in student_top[user]]
        for j in range(student_top.shape[1]):
            counts[user, j] = min(max_count, sum(position >= j for position in found))
    return counts


def test_closure_counts_match_a_loop():
    rng = np.random.default_rng(0)
    student_top = np.stack([rng.permutation(30)[:12] for _ in range(9)]).astype(np.int32)
    teacher_top = np.stack([rng.permutation(30)[:6] for _ in range(9)]).astype(np.int32)
    teacher_top[0] = student_top[0, :6]  # every teacher item found
    teacher_top[1] = 29 - np.arange(6)  # possibly none found
    for max_count, chunk in ((50, 1024), (3, 4)):
        places = list_places(student_top, teacher_top, chunk=chunk)
        assert places.dtype == np.int32
        for user in range(9):
            expected = [list(student_top[user]).index(t) if t in student_top[user] else 12
                        for t in teacher_top[user]]
            np.testing.assert_array_equal(places[user], expected)
        counts = closure_counts(places, 12, max_count)
        assert counts.dtype == np.int32
        np.testing.assert_array_equal(
            counts, _naive_closure_counts(student_top, teacher_top, max_count))


def _naive_flags(items, k=NUM_TOP):
    """(in A, Q^T item in C) per entry of [Q^S | Q^T | C] lists, by Python sets."""
    in_a, in_closure = np.zeros(items.shape), np.zeros(items.shape)
    for row, entries in enumerate(items.tolist()):
        student_top, closure = set(entries[:k]), set(entries[2 * k:])
        in_a[row, 2 * k:] = 1
        for column in range(k, 2 * k):
            in_closure[row, column] = entries[column] in closure
            in_a[row, column] = entries[column] not in closure | student_top
    return in_a, in_closure


def test_closure_flags_do_the_set_logic_of_the_item_ids():
    rng = np.random.default_rng(5)
    k, length, draws = 3, 10, 4
    student_top = np.stack([rng.permutation(20)[:length] for _ in range(6)]).astype(np.int32)
    teacher_top = np.stack([rng.permutation(20)[:k] for _ in range(6)]).astype(np.int32)
    teacher_top[0] = student_top[0, [1, 4, 9]]  # one in Q^S, two among the closure places
    drawn = np.stack([rng.permutation(length - k)[:draws] for _ in range(6)]).astype(np.int32)
    drawn[0, :2] = [4 - k, 9 - k]  # both drawn
    items = np.concatenate([student_top[:, :k], teacher_top,
                            np.take_along_axis(student_top, k + drawn, axis=1)], axis=1)
    flags = closure_flags(tf.constant(list_places(student_top, teacher_top)),
                          tf.constant(drawn), k, length - k)
    for got, expected in zip(flags, _naive_flags(items, k)):
        np.testing.assert_array_equal(got.numpy(), expected)
    assert flags[1].numpy()[0, k + 1:2 * k].all()


@pytest.fixture(scope="module")
def rce_kd(signals, train, student):
    method = RCEKD(weight=2.0, num_top=NUM_TOP, num_closure=NUM_CLOSURE, temperature=1.5,
                   sample_temperature=2.0, max_rank=MAX_RANK, beta=3.0, max_count=3)
    method.prepare(signals, train)
    method.refresh(student, epoch=2)
    return method


def test_refresh_keeps_the_student_list_and_closure_logits(rce_kd, student, signals, train):
    student_top = rce_kd.student_top.numpy()
    checks.assert_is_top_k(student_top, checks.model_scores(student), checks.dense(train),
                           MAX_RANK)
    counts = _naive_closure_counts(student_top, signals.top_items(NUM_TOP), 3)
    np.testing.assert_allclose(rce_kd.closure_logits.numpy(), (counts[:, NUM_TOP:] + 1) / 2.0)
    assert int(rce_kd.epoch.numpy()) == 2


def test_item_list_layout(rce_kd, signals, teacher, features):
    items, labels = checks.numpy_targets(rce_kd, features)
    users = features["user"].numpy()
    assert items.shape == (users.size, 2 * NUM_TOP + NUM_CLOSURE)
    assert labels.shape == items.shape + (3,)
    student_top = rce_kd.student_top.numpy()[users]
    np.testing.assert_array_equal(items[:, :NUM_TOP], student_top[:, :NUM_TOP])
    np.testing.assert_array_equal(items[:, NUM_TOP:2 * NUM_TOP],
                                  signals.top_items(NUM_TOP)[users])
    closure = items[:, 2 * NUM_TOP:]
    positions = checks.position_in(rce_kd.student_top.numpy(), users, closure)
    assert (positions >= NUM_TOP).all()  # never in Q^S
    assert all(len(set(row)) == NUM_CLOSURE for row in closure.tolist())
    in_second_term, teacher_in_closure = _naive_flags(items)
    np.testing.assert_array_equal(labels[..., 1], in_second_term)
    np.testing.assert_array_equal(labels[..., 2], teacher_in_closure)
    expected = checks.model_scores(teacher)[users[:, None], items]
    np.testing.assert_allclose(labels[..., 0], expected, rtol=1e-5, atol=1e-5)


def test_rce_kd_contract(rce_kd, features, student, teacher):
    assert rce_kd.needs_refresh
    checks.assert_targets_deterministic(rce_kd, features)
    checks.assert_loss_trains_student_only(rce_kd, features, student, teacher)
    checks.assert_weighted_is_weight_times_per_row(rce_kd, features, student)
    checks.assert_config_round_trip(rce_kd)


def test_closure_must_fit_below_the_student_top():
    with pytest.raises(ValueError, match=r"num_top \+ num_closure \(30\).*max_rank \(20\)"):
        RCEKD(num_top=10, num_closure=20, max_rank=20)


def test_lists_are_cut_to_the_users_room(signals, train, student):
    room = train.num_items - int(train.row_lengths().max())
    method = RCEKD(num_top=NUM_TOP, num_closure=NUM_CLOSURE, max_rank=200)
    method.prepare(signals, train)
    method.refresh(student, epoch=0)
    assert method.student_top.shape == (train.num_users, room)
    assert method.closure_logits.shape == (train.num_users, room - NUM_TOP)
    with pytest.raises(ValueError, match=rf"num_top \+ num_closure \(70\) exceeds the {room} "):
        RCEKD(num_top=30, num_closure=40, max_rank=75).prepare(signals, train)


@pytest.mark.parametrize("seed", ["SEED", "OTHER_SEED"])
def test_loss_is_unchanged_by_the_segment_masks(rce_kd, features, student, seed):
    np.testing.assert_allclose(
        rce_kd.per_row_loss(features, student, getattr(checks, seed)).numpy(),
        BEFORE_THE_SEGMENT_MASKS[seed], rtol=1e-6)
