"""RCE-KD: [student top-K | teacher top-K | closure items from student positions >= K]."""

import numpy as np
import pytest

from kdtfrs.tasks import RCEKD
from kdtfrs.tasks.rce_kd import closure_counts
from tests.tasks import task_checks as checks

NUM_TOP, NUM_CLOSURE, MAX_RANK = 4, 5, 20


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
        counts = closure_counts(student_top, teacher_top, max_count, chunk=chunk)
        assert counts.dtype == np.int32
        np.testing.assert_array_equal(
            counts, _naive_closure_counts(student_top, teacher_top, max_count))


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
    assert labels.shape == items.shape + (2,)
    student_top = rce_kd.student_top.numpy()[users]
    np.testing.assert_array_equal(items[:, :NUM_TOP], student_top[:, :NUM_TOP])
    np.testing.assert_array_equal(items[:, NUM_TOP:2 * NUM_TOP],
                                  signals.top_items(NUM_TOP)[users])
    closure = items[:, 2 * NUM_TOP:]
    positions = checks.position_in(rce_kd.student_top.numpy(), users, closure)
    assert (positions >= NUM_TOP).all()  # never in Q^S
    assert all(len(set(row)) == NUM_CLOSURE for row in closure.tolist())
    np.testing.assert_array_equal(labels[..., 1], items)
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
