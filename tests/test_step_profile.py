"""benchmarks/step_profile.py on the embedded synthetic data: one record per method, timed."""

import json

import pytest

from benchmarks import step_profile


def test_profiles_each_method_and_records_an_epochs_steps(tmp_path):
    results = tmp_path / "profile.json"
    step_profile.main(["--dataset", "synthetic", "--batch-size", "256", "--teacher-dim", "32",
                       "--repeats", "1", "--methods", "kd", "ftd", "--results", str(results)])
    records = {r["method"]: r for r in json.loads(results.read_text())}
    assert set(records) == {"scratch", "kd", "ftd"}
    for record in records.values():
        assert record["step_ms"] > 0 and record["steps_per_epoch"] > 1
    assert {"sampling_ms", "scores_ms", "update_ms"} <= set(records["kd"])  # a chain: split
    assert "sampling_ms" not in records["ftd"]  # a batch-level loss: forward holds it all


def test_bfloat16_experts_profile_the_expert_methods_only(tmp_path):
    results = tmp_path / "profile.json"
    step_profile.main(["--dataset", "synthetic", "--batch-size", "256", "--teacher-dim", "32",
                       "--repeats", "1", "--methods", "kd", "de", "--expert-dtype", "bfloat16",
                       "--results", str(results)])
    records = {r["method"]: r for r in json.loads(results.read_text())}
    assert set(records) == {"scratch", "de"}
    assert (records["de"]["expert_dtype"], records["scratch"]["expert_dtype"]) == (
        "bfloat16", "float32")
    assert set(step_profile.EXPERT_METHODS) == {"de", "pckd_pair", "pckd_list", "pckd_hybrid",
                                                "htd", "de_rrd"}


def test_per_epoch_draws_profile_the_drawing_methods_with_their_draw(tmp_path):
    results = tmp_path / "profile.json"
    step_profile.main(["--dataset", "synthetic", "--batch-size", "256", "--teacher-dim", "32",
                       "--repeats", "1", "--methods", "kd", "rrd", "--draw-every", "epoch",
                       "--results", str(results)])
    records = {r["method"]: r for r in json.loads(results.read_text())}
    assert set(records) == {"scratch", "rrd"}
    assert (records["rrd"]["draw_every"], records["scratch"]["draw_every"]) == ("epoch", "step")
    assert records["rrd"]["draw_s"] > 0 and "draw_s" not in records["scratch"]
    assert set(step_profile.DRAWING) == {
        method for method in step_profile.tasks.METHODS if takes_draw_every(method)}


def test_a_preset_profiles_its_tasks_together(tmp_path):
    results = tmp_path / "profile.json"
    step_profile.main(["--dataset", "synthetic", "--batch-size", "256", "--teacher-dim", "32",
                       "--repeats", "1", "--methods", "de_rrd", "--results", str(results)])
    records = {r["method"]: r for r in json.loads(results.read_text())}
    assert set(records) == {"scratch", "de_rrd"}
    assert "sampling_ms" not in records["de_rrd"] and records["de_rrd"]["step_ms"] > 0


def test_hetcomp_profiles_its_student_step_on_a_stand_in_trajectory(tmp_path):
    results = tmp_path / "profile.json"
    step_profile.main(["--dataset", "synthetic", "--batch-size", "256", "--teacher-dim", "32",
                       "--repeats", "1", "--methods", "hetcomp", "--results", str(results)])
    records = {r["method"]: r for r in json.loads(results.read_text())}
    assert set(records) == {"scratch", "hetcomp"} and records["hetcomp"]["step_ms"] > 0
    split = step_profile.load_dataset("synthetic")
    teacher = step_profile.BPRMF(split.num_users, split.num_items, 16, seed=0)
    task, = step_profile.build_method("hetcomp", {"dkc_every": 5}, {}, teacher, split.train)
    task.prepare(step_profile.TeacherSignals(teacher, split.train), split.train)
    assert task.dkc_every == 5 and not bool(task.final_phase.numpy())  # the first phase


def test_a_presets_forward_is_the_sum_of_its_tasks():
    split = step_profile.load_dataset("synthetic")
    teacher = step_profile.BPRMF(split.num_users, split.num_items, 16, seed=0)
    student = step_profile.BPRMF(split.num_users, split.num_items, 8, seed=1)
    distillation = step_profile.tasks.build("de_rrd", num_experts=2)
    signals = step_profile.TeacherSignals(teacher, split.train)
    for task in distillation:
        task.prepare(signals, split.train, student)
        task.refresh(step_profile.Embeddings.frozen(student), 0)
    batch = next(iter(step_profile.bpr_triples(split.train, 64, seed=0)))
    functions = step_profile.phase_functions(student, step_profile.LazyAdam(1e-3), batch,
                                             distillation, jit=False)
    assert set(functions) == {"forward", "gradient", "update"}
    tables = student.embeddings(training=True)
    view = step_profile.Embeddings.from_tables(*tables)
    seed = step_profile.tf.constant([1, 2], step_profile.tf.int64)
    expected = student.compute_loss(batch, training=True, embeddings=tables) + sum(
        task(batch, view, seed=seed, training=True) for task in distillation)
    assert float(functions["forward"]()) == pytest.approx(float(expected), rel=1e-5)


def takes_draw_every(method):
    try:
        step_profile.tasks.get(method, draw_every="epoch")
    except ValueError:
        return False
    return True


def test_the_profiled_loss_is_the_tasks_as_fit_calls_it_with_dropout():
    split = step_profile.load_dataset("synthetic")
    teacher = step_profile.BPRMF(split.num_users, split.num_items, 16, seed=0)
    student = step_profile.BPRMF(split.num_users, split.num_items, 8, seed=1)
    task = step_profile.tasks.get("fitnet", dropout=0.5)
    task.prepare(step_profile.TeacherSignals(teacher, split.train), split.train, student)
    batch = next(iter(step_profile.bpr_triples(split.train, 64, seed=0)))
    forward = step_profile.phase_functions(student, step_profile.LazyAdam(1e-3), batch,
                                           [task], jit=False)["forward"]
    tables = student.embeddings(training=True)
    base = student.compute_loss(batch, training=True, embeddings=tables)
    view = step_profile.Embeddings.from_tables(*tables)
    seed = step_profile.tf.constant([1, 2], step_profile.tf.int64)
    with_dropout = base + task(batch, view, seed=seed, training=True)
    without = base + task(batch, view, seed=seed, training=False)
    assert float(forward()) == pytest.approx(float(with_dropout), rel=1e-5)
    assert float(with_dropout) != pytest.approx(float(without), rel=1e-3)
