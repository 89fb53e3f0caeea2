"""The statistics benchmarks/report.py puts in the distillation tables, and the settings the
benchmark scripts pass on."""

import dataclasses
import json
import shutil
import statistics
import sys

import numpy as np
import pytest

from benchmarks import distill
from benchmarks.distill import SETTINGS, build_method, parse_param, with_params
from benchmarks.popularity import sliced_recall
from benchmarks.report import (VARIANTS, beats_scratch, gap_recovered, long_top_k_section,
                               paired_difference, popularity_section, sweep_command,
                               teacher_spread, tuned_scratch_section, variant_section)
from benchmarks.tune_methods import (held_out_at_weights_in_use, single_weight_methods,
                                     student_overrides_of, sweep_name,
                                     tune_arguments, weights_against_sweep)
from benchmarks.tune_methods import main as tune_methods_main
from kdtfrs import model_dir, teacher_identity
from kdtfrs.cli import build_parser
from kdtfrs.data import Interactions, split_random
from kdtfrs.models import BPRMF


def test_gap_recovered_matches_the_delta_method_by_finite_differences():
    method, scratch, teacher = [0.017, 0.018, 0.016], [0.013, 0.0125, 0.0135], [0.020, 0.021]
    gap, error = gap_recovered(method, scratch, teacher)
    means = np.array([statistics.mean(v) for v in (method, scratch, teacher)])
    errors = np.array([statistics.stdev(v) / len(v) ** 0.5 for v in (method, scratch, teacher)])

    def share(m, s, t):
        return (m - s) / (t - s)

    assert gap == pytest.approx(share(*means))
    step = 1e-7
    gradient = [(share(*(means + step * unit)) - share(*(means - step * unit))) / (2 * step)
                for unit in np.eye(3)]
    assert error == pytest.approx(float(np.sqrt(np.sum((np.array(gradient) * errors) ** 2))),
                                  rel=1e-5)


def test_the_one_teacher_distilled_from_is_as_noisy_as_one_teacher_seed():
    method, scratch = [0.017, 0.018, 0.016], [0.013, 0.0125, 0.0135]
    teachers = [{"ndcg@20": value} for value in (0.020, 0.018, 0.019)]
    spread = teacher_spread(teachers, "ndcg@20")
    assert spread == pytest.approx(statistics.stdev([0.020, 0.018, 0.019]))
    gap, error = gap_recovered(method, scratch, [0.020], spread)
    _, without = gap_recovered(method, scratch, [0.020])
    m, s = statistics.mean(method), statistics.mean(scratch)
    assert gap == pytest.approx((m - s) / (0.020 - s))
    assert error ** 2 == pytest.approx(without ** 2 + ((m - s) / (0.020 - s) ** 2 * spread) ** 2)
    assert teacher_spread(teachers[:1], "ndcg@20") == 0.0


def test_a_one_seed_method_is_taken_as_noisy_as_one_scratch_seed():
    scratch, teacher = [0.010, 0.012, 0.014], [0.020]
    _, error = gap_recovered([0.015], scratch, teacher)
    assert error > 0.0
    assert beats_scratch([0.013], scratch) == "within noise (1/1)"


def test_beats_scratch_separates_clear_wins_and_losses_from_noise():
    scratch = [0.0130, 0.0126, 0.0134]
    assert beats_scratch([0.0170, 0.0172, 0.0168], scratch) == "yes (3/3)"
    assert beats_scratch([0.0100, 0.0102, 0.0098], scratch) == "**no** (0/3)"
    assert beats_scratch([0.0131, 0.0129, 0.0133], scratch).startswith("within noise")


def test_no_gap_when_the_teacher_is_not_above_scratch():
    assert gap_recovered([0.02], [0.02, 0.03], [0.02]) is None


def test_quality_cost_plot_has_one_labelled_point_per_method():
    import xml.etree.ElementTree as ElementTree

    from benchmarks.quality_cost_plot import quality_cost_svg

    svg = quality_cost_svg([("kd", 5.4, 0.82, 0.09), ("rrd", 50.4, 0.74, 0.0),
                            ("a<b", 1.2, -0.2, 0.4)], "title")
    root = ElementTree.fromstring(svg)
    namespace = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{namespace}circle")) == 3
    assert {"kd", "rrd", "a<b"} <= {text.text for text in root.findall(f"{namespace}text")}
    assert "no method recorded yet" in quality_cost_svg([], "title")


@pytest.mark.parametrize("dataset", sorted(SETTINGS))
def test_every_method_given_settings_builds_with_them(dataset):
    settings = SETTINGS[dataset]
    for method, params in settings["params"].items():
        distillation = build_method(settings, method)
        if "weight" in params:
            assert distillation[0].weight == params["weight"]


def test_gowalla_de_has_kds_gowalla_experts():
    de, = build_method(SETTINGS["gowalla"], "de")
    assert de.num_experts == 5  # KDs' gowalla/bpr, not CiteULike's 30


def test_a_method_variant_changes_only_its_own_settings(tmp_path):
    method, key, value = parse_param("rrd:per_unique_user=true")
    assert (method, key, value) == ("rrd", "per_unique_user", True)
    assert parse_param("kd:weight=2e-3")[2] == 2e-3  # a number, though YAML reads a string
    settings = with_params(SETTINGS["citeulike-t"], {method: {key: value}})
    assert build_method(settings, "rrd")[0].per_unique_user
    assert not build_method(SETTINGS["citeulike-t"], "rrd")[0].per_unique_user
    assert settings["params"]["htd"] == SETTINGS["citeulike-t"]["params"]["htd"]
    for bad in ("rrd:per_unique_user", "nope:weight=1", "weight=1"):
        with pytest.raises(SystemExit, match="METHOD:KEY=VALUE"):
            parse_param(bad)
    with pytest.raises(SystemExit, match="--param for rrd on citeulike-t: .*'nonsense'"):
        distill.main(["--datasets", "citeulike-t", "--param", "rrd:nonsense=1",
                      "--results", str(tmp_path / "never.json")])
    assert not list(tmp_path.iterdir())  # stopped before anything was trained or written


def test_the_tuned_scratch_student_trains_with_its_own_rate_l2_and_epochs(tmp_path,
                                                                          monkeypatch):
    class Trained(Exception):
        pass

    def train_student(*args):
        raise Trained(args[6], args[7])  # the student's spec and fit

    monkeypatch.setattr(distill, "train_student", train_student)
    tuned = {"learning_rate": 2e-3, "l2": 1e-5, "epochs": 140}
    settings = {**SETTINGS["gowalla"], "scratch_tuned": tuned}
    results = distill.ResultsFile(tmp_path / "results.json", ("dataset", "method", "seed"))
    args = type("Args", (), {"work": str(tmp_path), "verbose": 0, "student_overrides": {},
                             "results": str(tmp_path / "distill.json")})()
    with pytest.raises(Trained) as trained:
        distill.run_tuned_scratch("gowalla", settings, 1, None, None, None, None, "t", "w",
                                  args, results)
    student, fit = trained.value.args
    assert (student.l2, fit.learning_rate, fit.epochs, fit.seed) == (1e-5, 2e-3, 140, 1)
    assert fit.batch_size == SETTINGS["gowalla"]["student_fit"].batch_size
    settings["scratch_tuned"] = {"learning_rate": 2e-3, "l2": 1e-5}  # epochs left as they are
    with pytest.raises(Trained) as trained:
        distill.run_tuned_scratch("gowalla", settings, 1, None, None, None, None, "t", "w",
                                  args, results)
    assert trained.value.args[1].epochs == SETTINGS["gowalla"]["student_fit"].epochs


def test_a_student_variant_changes_every_student_and_keeps_its_state_apart(tmp_path):
    key, value = distill.parse_student("learning-rate=2e-3")
    assert (key, value) == ("learning_rate", 2e-3)
    overrides = {key: value, "epochs": 88, "l2": 1e-5}
    settings = distill.with_student(SETTINGS["gowalla"], overrides)
    assert (settings["student"].l2, settings["student_fit"].learning_rate,
            settings["student_fit"].epochs) == (1e-5, 2e-3, 88)
    assert settings["student_fit"].batch_size == SETTINGS["gowalla"]["student_fit"].batch_size
    assert settings["teacher"] == SETTINGS["gowalla"]["teacher"]
    assert distill.with_student(SETTINGS["gowalla"], {}) is SETTINGS["gowalla"]
    tables = distill.with_student(SETTINGS["gowalla"], dict([distill.parse_student(
        "l2-form=tables")]))
    assert (tables["student"].l2_form, tables["student"].l2) == ("tables", 1e-5)

    def args(results, student_overrides):
        return type("Args", (), {"work": str(tmp_path), "results": str(results),
                                 "student_overrides": student_overrides})()

    main = args(tmp_path / "distill.json", {})
    variant = args(tmp_path / "distill-tuned-fit.json", overrides)
    assert distill.state_dir(main, "gowalla", "kd-0") == tmp_path / "gowalla" / "kd-0"
    assert (distill.state_dir(variant, "gowalla", "kd-0")
            == tmp_path / "gowalla" / "distill-tuned-fit" / "kd-0")
    assert distill.with_student_config({"weight": 1.0}, main) == {"weight": 1.0}
    assert (distill.with_student_config({"weight": 1.0}, variant)
            == {"weight": 1.0, "student": overrides})
    for bad in ("learning_rate", "dim=8"):
        with pytest.raises(SystemExit, match="--student .*expected KEY=VALUE"):
            distill.parse_student(bad)
    with pytest.raises(SystemExit, match="--student on gowalla: .*learning_rate"):
        distill.main(["--datasets", "gowalla", "--student", "learning_rate=-1",
                      "--results", str(tmp_path / "never.json")])
    assert not (tmp_path / "never.json").exists()  # stopped before anything was written


def test_a_teacher_trained_with_other_settings_stops_the_run(tmp_path):
    settings = SETTINGS["citeulike-t"]
    state = tmp_path / "synthetic" / "teacher-state"
    state.mkdir(parents=True)
    older = dataclasses.replace(settings["teacher_fit"], learning_rate=1.0)
    (state / "run_config.json").write_text(
        json.dumps(distill.teacher_run_config(settings["teacher"], older)))
    results = distill.ResultsFile(tmp_path / "results.json", ("dataset", "method", "seed"))
    with pytest.raises(SystemExit, match="teacher-state holds the state of a run"):
        distill.get_teacher("synthetic", settings, str(tmp_path), results, 0)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["synthetic"]  # nothing trained


def test_a_record_made_against_another_teacher_stops_the_run(tmp_path):
    settings = SETTINGS["citeulike-t"]
    results = distill.ResultsFile(tmp_path / "results.json", ("dataset", "method", "seed"))
    record = {"dataset": "citeulike-t", "method": "kd", "seed": 0, "config": {"weight": 1.0},
              "teacher_config": distill.protocol_teacher(settings), "teacher_weights": "ab" * 32}
    results.add(record)
    assert distill.recorded(results, "citeulike-t", "kd", 0, {"weight": 1.0}, settings, "ab" * 32)
    assert not distill.recorded(results, "citeulike-t", "kd", 1, {"weight": 1.0}, settings,
                                "ab" * 32)
    older = {**settings, "teacher_fit": dataclasses.replace(settings["teacher_fit"],
                                                            learning_rate=1.0)}
    with pytest.raises(SystemExit, match="made against the teacher .*Move that dataset's"):
        distill.recorded(results, "citeulike-t", "kd", 0, {"weight": 1.0}, older, "ab" * 32)
    with pytest.raises(SystemExit, match="weights sha256 ababababab.*, but the teacher under "
                                         "--work has cdcdcdcdcdcd.*Move that dataset's"):
        distill.recorded(results, "citeulike-t", "kd", 0, {"weight": 1.0}, settings, "cd" * 32)
    results.add({key: value for key, value in record.items() if key != "teacher_weights"})
    assert distill.recorded(results, "citeulike-t", "kd", 0, {"weight": 1.0}, settings,
                            "cd" * 32)  # made before records kept the weights: not known
    results.add({key: value for key, value in record.items() if key != "teacher_config"})
    with pytest.raises(SystemExit, match="no record of its teacher's settings"):
        distill.recorded(results, "citeulike-t", "kd", 0, {"weight": 1.0}, settings, "ab" * 32)
    assert "teacher_config" not in distill.ResultsFile(results.path, ()).records[0]  # unchanged


def test_the_teacher_record_keeps_its_weights_and_another_teacher_stops_the_run(tmp_path):
    settings = SETTINGS["citeulike-t"]
    settings = {**settings, "teacher": dataclasses.replace(settings["teacher"], dim=4),
                "teacher_fit": dataclasses.replace(settings["teacher_fit"], epochs=1)}
    work = str(tmp_path / "work")
    results = distill.ResultsFile(tmp_path / "results.json", ("dataset", "method", "seed"))
    teacher, *_ = distill.get_teacher("synthetic", settings, work, results, 0)
    digest = teacher_identity.weights_digest(teacher)
    record = results.get(dataset="synthetic", method="teacher", seed=0)
    assert record["teacher_weights"] == digest
    distill.get_teacher("synthetic", settings, work, results, 0)  # the same teacher: goes on

    older = {key: value for key, value in record.items() if key != "teacher_weights"}
    results.add(older)  # a record made before records kept the weights: known by its metrics
    distill.get_teacher("synthetic", settings, work, results, 0)
    assert results.get(dataset="synthetic", method="teacher", seed=0) == record
    results.add({**older, "ndcg@20": older["ndcg@20"] + 0.01})
    with pytest.raises(SystemExit,
                       match="ndcg@20 .*, not the record's .*results file is unchanged"):
        distill.get_teacher("synthetic", settings, work, results, 0)

    results.add({**record, "teacher_weights": "ab" * 32})
    written = results.path.read_text()
    with pytest.raises(SystemExit, match=f"weights sha256 {digest[:12]}…, not the record's "
                                         "abababababab….*Put the table's teacher back"):
        distill.get_teacher("synthetic", settings, work, results, 0)
    teacher_dir = distill.teacher_dir(work, "synthetic")
    shutil.rmtree(teacher_dir)  # trained again: kept, but not recorded, as it is not the record's
    with pytest.raises(SystemExit, match="is not the teacher of"):
        distill.get_teacher("synthetic", settings, work, results, 0)
    assert model_dir.is_model_dir(teacher_dir) and results.path.read_text() == written


def test_a_hetcomp_teacher_trained_with_other_settings_stops_the_run(tmp_path):
    settings = SETTINGS["citeulike-t"]
    spec, _ = settings["hetcomp_teachers"][0]
    state = tmp_path / "synthetic" / "hetcomp-teachers" / f"{spec.model}-{spec.dim}-state"
    state.mkdir(parents=True)
    older = dataclasses.replace(settings["teacher_fit"], epochs=1)
    (state / "run_config.json").write_text(json.dumps(distill.teacher_run_config(spec, older)))
    results = distill.ResultsFile(tmp_path / "results.json", ("dataset", "method", "seed"))
    args = type("Args", (), {"work": str(tmp_path), "verbose": 0})()
    with pytest.raises(SystemExit, match="-state holds the state of a run"):
        distill.hetcomp_teachers("synthetic", settings, args, results)
    assert [path.name for path in state.parent.iterdir()] == [state.name]  # nothing trained


def test_the_ranking_runs_wall_time_leaves_out_teachers_and_schemes():
    from benchmarks.report import ranking_hours_line

    records = [{"method": method, "wall_seconds": seconds, "epochs": 25}
               for method, seconds in (("kd", 3600), ("rrd", 5400), ("teacher", 9000),
                                       ("bd", 9000), ("scratch", 9000))]
    assert ranking_hours_line(records) == ("Its 2 ranking-method runs took 2.5 hours in all "
                                           "(the sum of their wall_seconds; 25 epochs each).")


def test_gowalla_htd_runs_bfloat16_experts_and_its_row_and_price_say_so():
    from benchmarks.report import distill_section, protocol_profile

    htd, = build_method(SETTINGS["gowalla"], "htd")
    assert htd.get_config()["expert_dtype"] == "bfloat16"  # a float32 run outlasts a session
    profile = [{"dataset": "gowalla", "method": method, "steps_per_epoch": 198,
                "batch_size": 4096, "teacher_dim": 300, "student_dim": 20,
                "optimizer": "lazy_adam", "jit": False, "per_unique_user": False,
                "expert_dtype": dtype}
               for method in ("htd", "de") for dtype in ("float32", "bfloat16")]
    assert [(r["method"], r["expert_dtype"]) for r in protocol_profile("gowalla", profile)] == [
        ("htd", "bfloat16"), ("de", "float32")]

    def row(method, seed, config):
        return {"dataset": "gowalla", "method": method, "seed": seed, "ndcg@20": 0.1,
                "recall@20": 0.1, "recall@10": 0.1, "ndcg@10": 0.1, "epochs": 88,
                "seconds_per_epoch": 2.0, "refresh_seconds": 0.0, "config": config,
                "teacher": "bpr_mf-300", "student_dim": 20}

    lines = distill_section("gowalla", [row("scratch", 0, {}), row("htd", 0, htd.get_config()),
                                        row("de", 0, {"de": {"expert_dtype": "float32"}})],
                            list_missing=False)
    assert any(line.startswith("| htd, bfloat16 experts | 1 |") for line in lines)
    assert any(line.startswith("| de | 1 |") for line in lines)


def test_gowalla_rows_drawn_per_epoch_are_labelled_and_priced_only_by_rows_drawn_so():
    from benchmarks.report import distill_section, drawn_as_now

    def row(method, config):
        return {"dataset": "gowalla", "method": method, "seed": 0, "ndcg@20": 0.1,
                "recall@20": 0.1, "recall@10": 0.1, "ndcg@10": 0.1, "epochs": 88,
                "seconds_per_epoch": 2.0, "refresh_seconds": 0.0, "config": config,
                "teacher": "bpr_mf-300", "student_dim": 20}

    rrd, = build_method(SETTINGS["gowalla"], "rrd")
    cd, = build_method(SETTINGS["gowalla"], "cd")
    assert (rrd.draw_every, cd.draw_every) == ("epoch", "step")
    lines = distill_section("gowalla", [row("scratch", {}), row("rrd", rrd.get_config()),
                                        row("cd", cd.get_config())], list_missing=False)
    assert any(line.startswith("| rrd, targets drawn per epoch | 1 |") for line in lines)
    assert any(line.startswith("| cd | 1 |") for line in lines)
    superseded = [row("rrd", {"weight": 0.005}), row("cd", {"weight": 0.5}),
                  row("mse", {"draw_every": "epoch"})]
    assert [r["method"] for r in drawn_as_now("gowalla", superseded)] == ["cd", "mse"]


def test_the_runs_not_yet_made_are_priced_from_their_own_runs_else_the_superseded_table():
    from benchmarks.report import remaining_hours_line

    def run(method, seconds, refresh, epochs):
        return {"method": method, "seconds_per_epoch": seconds, "refresh_seconds": refresh,
                "epochs": epochs}

    records = [run("kd", 30, 6, 100), run("kd", 42, 6, 50), run("bd", 10, 2, 300)]
    earlier = [run("rrd", 80, 0, 25), run("rrd", 100, 0, 25)]
    profile = [{"method": "fitnet", "step_ms": 500.0, "steps_per_epoch": 180}]
    missing = {"kd": [2], "rrd": [0, 1, 2], "bd": [1], "bd_teacher": [1], "de": [0, 1, 2],
               "fitnet": [1, 2]}
    # kd: (3600 + 2400) / 2 s; bd: 3600 s, its teacher row free; rrd: 3 x 90 s x 40 epochs;
    # fitnet: 2 x 0.5 s x 180 steps x 40 epochs.
    assert remaining_hours_line(missing, records, earlier, 40, profile) == (
        "At the recorded speed ((s/epoch + refresh) x epochs; rows measured beside another "
        "job overstate it up to 2x), these runs need about 6.8 hours: 1.8 h for the methods "
        "run here before (the mean of their runs); 3.0 h for those priced from the "
        "superseded table (40 epochs at its s/epoch); 2.0 h for those priced from their "
        "profiled step (table \"Where a training step spends its time\": ms per step x "
        "steps per epoch x 40 epochs, a floor); not priced (no run on this dataset yet): de.")


def test_hetcomps_price_from_its_profile_says_its_teachers_come_on_top():
    from benchmarks.report import remaining_hours_line

    profile = [{"method": "hetcomp", "step_ms": 1000.0, "steps_per_epoch": 90}]
    line = remaining_hours_line({"hetcomp": [0, 1]}, [], [], 40, profile)
    assert "about 2.0 hours" in line  # 2 x 1 s x 90 steps x 40 epochs
    assert "a floor; HetComp's student only, its four teachers' training on top)" in line


def test_a_variant_table_pairs_each_variant_row_with_its_default():
    def row(method, score, **config):
        return {"dataset": "citeulike-t", "method": method, "seed": 0, "ndcg@20": score,
                "epochs": 30, "seconds_per_epoch": 2.0, "config": config}

    variant = [row("rrd", 0.0170, weight=0.1, per_unique_user=True), row("scratch", 0.013)]
    recorded = [row("rrd", 0.0169, weight=10.0), row("rrd", 0.0166, weight=0.1),
                row("kd", 0.017)]
    lines = variant_section(recorded, variant, *VARIANTS[0])
    body = [line for line in lines if line.startswith("| rrd") or line.startswith("| kd")]
    # paired with the recorded row of its own weight, not the one of the same method and seed
    assert body == ["| rrd | 0 | 0.0166 (30, 2.0) | 0.0170 (30, 2.0) | +0.0004 |"]
    assert "--seeds 0 --methods rrd --param rrd:per_unique_user=true" in lines[2]
    assert [name for name, *_ in VARIANTS] == ["distill-per-unique-user",
                                               "distill-bfloat16-experts",
                                               "distill-draw-per-epoch",
                                               "distill-patience50", "distill-table-decay",
                                               "distill-gowalla-table-decay"]
    # A --student variant pairs each row with the recorded row of the same method config.
    patience = next(variant for variant in VARIANTS if variant[0] == "distill-patience50")
    lines = variant_section(recorded + [row("scratch", 0.0130)],
                            [row("kd", 0.0175, student={"patience": 50}),
                             row("scratch", 0.0134, student={"patience": 50})], *patience)
    assert [line for line in lines if line.startswith("| ")][1:] == [
        "| scratch | 0 | 0.0130 (30, 2.0) | 0.0134 (30, 2.0) | +0.0004 |",
        "| kd | 0 | 0.0170 (30, 2.0) | 0.0175 (30, 2.0) | +0.0005 |"]
    assert "--methods kd --student patience=50 --results" in lines[2]


def test_a_variant_table_with_scratch_gives_each_columns_gap_against_its_own_scratch():
    def row(method, seed, score, **config):
        return {"dataset": "gowalla", "method": method, "seed": seed, "ndcg@20": score,
                "epochs": 88, "seconds_per_epoch": 2.0, "config": config,
                "teacher_config": {"teacher": "t"}}

    decay = {"student": {"l2_form": "tables", "l2": 1e-7}}
    recorded = [row("teacher", 0, 0.122), row("teacher", 1, 0.124), row("scratch", 0, 0.110),
                row("scratch", 1, 0.112), row("kd", 0, 0.118)]
    variant = [row("scratch", 0, 0.115, **decay), row("scratch", 1, 0.117, **decay),
               row("kd", 0, 0.119, **decay)]
    gowalla = next(v for v in VARIANTS if v[0] == "distill-gowalla-table-decay")
    lines = variant_section(recorded, variant, *gowalla)
    assert lines[4].endswith("| gap recovered (ndcg@20): rows, l2 1e-5 → tables, l2 1e-7 |")
    assert "each column against its own scratch rows" in lines[2]
    kd = next(line for line in lines if line.startswith("| kd"))
    before = gap_recovered([0.118], [0.110, 0.112], [0.122], statistics.stdev([0.122, 0.124]))
    after = gap_recovered([0.119], [0.115, 0.117], [0.122], statistics.stdev([0.122, 0.124]))
    assert kd.endswith(f"| {before[0]:.0%} ± {before[1]:.0%} → "
                       f"{after[0]:.0%} ± {after[1]:.0%} |")
    assert before[0] == pytest.approx(7 / 11) and after[0] == pytest.approx(0.5)
    assert next(line for line in lines if line.startswith("| scratch")).endswith("| – |")


def test_every_student_row_is_taken_against_the_tuned_scratch_student():
    def row(method, seed, score, **config):
        return {"dataset": "gowalla", "method": method, "seed": seed, "ndcg@20": score,
                "recall@20": score + 0.02, "config": config, "teacher_config": {"t": 1}}

    decay = {"student": {"l2_form": "tables", "l2": 1e-7}}
    records = [row("teacher", 0, 0.122), row("teacher", 1, 0.124), row("scratch", 0, 0.110),
               row("scratch", 1, 0.112), row("kd", 0, 0.118), row("kd", 1, 0.119),
               row("bd_teacher", 0, 0.13)]
    tuned = [row("scratch", 0, 0.115, **decay), row("scratch", 1, 0.117, **decay),
             row("kd", 0, 0.119, **decay), row("kd", 0, 0.2, weight=3.0)]
    lines = tuned_scratch_section("gowalla", records, tuned)
    body = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert [line.split(" | ")[:3] for line in body] == [
        ["| scratch", "rows, l2 1e-5", "0 1"], ["| scratch", "tables, l2 1e-7", "0 1"],
        ["| kd", "rows, l2 1e-5", "0 1"], ["| kd", "tables, l2 1e-7", "0"]]
    spread = statistics.stdev([0.122, 0.124])
    gap, error = gap_recovered([0.118, 0.119], [0.115, 0.117], [0.122], spread)
    assert body[2].split(" | ")[4].startswith(f"{gap:.0%} ± {error:.0%}; ")
    assert body[1].endswith("| – | – |")
    assert body[2].endswith(f"| {beats_scratch([0.118, 0.119], [0.115, 0.117])} |")
    # no tuned scratch runs against this teacher: no section
    assert tuned_scratch_section("gowalla", records, [
        {**r, "teacher_config": {"t": 2}} for r in tuned]) == []
    # held-out scores per setting: a column, – where a setting's sweep lacks the method
    lines = tuned_scratch_section("gowalla", records, tuned, held_out={
        "tables, l2 1e-7": {"kd": (0.0847, 0.0774)}, "rows, l2 1e-5": {}})
    body = [line for line in lines if line.startswith("| ") and "---" not in line]
    assert body[0].endswith("| held-out ndcg@20 (its scratch's) |")
    assert body[3].startswith("| kd | rows") and body[3].endswith("| – |")
    assert body[4].startswith("| kd | tables") and body[4].endswith("| 0.0847 (0.0774) |")


def test_a_variant_table_over_seeds_differs_seed_by_seed():
    def row(seed, score, epochs, **config):
        return {"dataset": "citeulike-t", "method": "de", "seed": seed, "ndcg@20": score,
                "epochs": epochs, "seconds_per_epoch": 2.0, "config": config}

    recorded = [row(0, 0.0170, 28), row(1, 0.0150, 30), row(2, 0.0160, 32)]
    variant = [row(seed, score, 30, expert_dtype="bfloat16")
               for seed, score in ((0, 0.0171), (1, 0.0155))]
    lines = variant_section(recorded, variant, *VARIANTS[1])
    # seed 2 has no bfloat16 run: left out of both means; differences +0.0001 and +0.0005
    assert [line for line in lines if line.startswith("| de")] == [
        "| de | 0 1 | 0.0160 ± 0.0010 (29, 2.0) | 0.0163 ± 0.0008 (30, 2.0) | "
        "+0.0003 ± 0.0002, within noise |"]
    assert "--seeds 0 1 --methods de pckd_list htd" in lines[2]
    assert paired_difference([0.0010, 0.0011, 0.0009]) == "+0.0010 ± 0.0001, beyond noise"


def test_tune_methods_passes_distill_protocol_to_kdtfrs_tune():
    def parsed(dataset, method):
        argv = tune_arguments(SETTINGS[dataset], method, [0.1, 1, 10], [0, 1])
        return build_parser().parse_args(["tune", "--teacher", "t", "--output", "o", *argv])

    settings = SETTINGS["gowalla"]
    args = parsed("gowalla", "rrd")
    assert args.weights == pytest.approx([0.0005, 0.005, 0.05])  # 0.1x, 1x, 10x distill.py's
    assert args.param == ["temperature=100.0", "draw_every=epoch"] and args.seed == [0, 1]
    assert (args.dim, args.l2, args.lr, args.epochs, args.batch_size, args.patience) == (
        settings["student"].dim, [settings["student"].l2],
        [settings["student_fit"].learning_rate], settings["student_fit"].epochs,
        settings["student_fit"].batch_size, settings["student_fit"].patience)
    htd = parsed("citeulike-t", "htd")
    assert htd.weights == pytest.approx([1e-4, 1e-3, 1e-2]) and htd.param == ["alpha=0.5"]
    scratch = parsed("citeulike-t", "scratch")
    assert scratch.methods == ["scratch"] and scratch.weights is None
    assert "de_rrd" not in single_weight_methods() and "rrd" in single_weight_methods()


def test_a_methods_sweep_runs_the_student_given_and_names_its_folder_after_it(tmp_path):
    overrides = {"l2_form": "tables", "l2": 1e-7}
    settings = distill.with_student(SETTINGS["gowalla"], overrides)
    argv = tune_arguments(settings, "mse", [1, 10], [0])
    args = build_parser().parse_args(["tune", "--teacher", "t", "--output", "o", *argv])
    assert (args.l2_form, args.l2) == ("tables", [1e-7])
    assert sweep_name("gowalla", {}) == "tune-gowalla-methods"
    folder = tmp_path / sweep_name("gowalla", overrides)
    assert folder.name == "tune-gowalla-methods-l2-1e-07-l2_form-tables"
    fit = settings["student_fit"]
    sweep = {"where": {"data": {"dataset": "gowalla"}},
             "student": {"model": "bpr_mf", "dim": 20, "l2": "per trial", "l2_form": "tables"},
             "fit": {"epochs": fit.epochs, "batch_size": fit.batch_size,
                     "learning_rate": "per trial", "num_negatives": fit.num_negatives,
                     "patience": fit.patience, "eval_every": fit.eval_every,
                     "optimizer": fit.optimizer}}
    mse = build_method(SETTINGS["gowalla"], "mse")[0].weight
    trials = [{"method": method, "weight": weight, "learning_rate": fit.learning_rate,
               "l2": 1e-7, "seed": 0} for method, weight in (("scratch", 0.0), ("mse", mse))]
    assert student_overrides_of("gowalla", trials, sweep) == overrides
    command = sweep_command(folder, trials, sweep)
    assert command.endswith("--methods mse --factors 1 --student l2=1e-07 "
                            "--student l2_form=tables")
    moved = sweep_command(tmp_path / "tune-elsewhere", trials, sweep)
    assert moved.endswith("l2_form=tables --output benchmarks/results/tune-elsewhere")
    sweep["student"].pop("l2_form")
    for trial in trials:
        trial["l2"] = SETTINGS["gowalla"]["student"].l2
    assert student_overrides_of("gowalla", trials, sweep) == {}


def test_a_methods_sweep_refuses_a_stopping_metric_it_would_ignore(capsys):
    with pytest.raises(SystemExit):
        tune_methods_main(["--dataset", "gowalla", "--methods", "mse",
                           "--student", "stop_on=ndcg@10"])
    assert "NDCG@20; leave stop_on out" in capsys.readouterr().err


def test_the_block_ranking_table_keeps_the_host_phases_apart():
    def record(way, ms, k=3000):
        return {"items": 40981, "k": k, "way": way, "batch": 2048, "dim": 20, "ms": ms,
                "used": way == "candidates"}

    records = [record("xla", 2700.0), record("top_k", 1575.0), record("candidates", 941.0),
               record("scores", 90.0), record("sort_floor", 150.0)]
    records += [record(f"phase:{phase}", ms) for phase, ms in (
        ("threshold", 250.0), ("candidate_keys", 240.0), ("sort", 370.0), ("decode", 14.0),
        ("total", 880.0))]
    records[-4]["candidates_per_k"] = 1.234
    records += [record("phase:sampled_threshold", 300.0),
                {**record("phase:sampled_total", 1000.0), "candidates_per_k": 1.36}]
    old_phases = [record(f"phase:{phase}", 10.0, k=500) for phase in (  # no candidate count
        "threshold", "candidate_keys", "sort", "decode", "total")]
    lines = long_top_k_section(records + old_phases)
    rows = [line for line in lines if line.startswith("| 40981 | ")]
    assert rows == ["| 40981 | 3000 | 2700 | 1575 | **941** | – | 90 | 150 | 2.9x |",
                    "| 40981 | 500 | 10 | 10 | 10 | 10 | 40 | 10 | – | – | – | – |",
                    "| 40981 | 3000 | 250 | 240 | 370 | 14 | 874 | 880 | 1.23 | 300 | 1000 "
                    "| 1.36 |"]


def test_the_weights_in_use_are_compared_with_each_sweeps_best():
    def trial(method, weight, score, seed=0):
        return {"method": method, "weight": weight, "learning_rate": 5e-3, "l2": 1e-2,
                "seed": seed, "val_ndcg@20": score, "best_epoch": 9, "epochs": 29,
                "seconds_per_epoch": 1.0}

    in_use = {method: build_method(SETTINGS["citeulike-t"], method)[0].weight
              for method in ("kd", "rd")}
    trials = [trial("scratch", 0.0, 0.030),
              trial("kd", in_use["kd"], 0.044), trial("kd", in_use["kd"] * 10, 0.040),
              trial("rd", in_use["rd"], 0.035), trial("rd", in_use["rd"] * 10, 0.030),
              trial("rd", in_use["rd"] * 10, 0.046, seed=1)]  # its mean over seeds leads
    rows = {row["method"]: row for row in weights_against_sweep("citeulike-t", trials)}
    assert set(rows) == {"kd", "rd"}
    assert rows["kd"]["agrees"] and rows["kd"]["score"] == 0.044
    assert not rows["rd"]["agrees"] and rows["rd"]["best"] == pytest.approx(in_use["rd"] * 10)
    assert rows["rd"]["score"] == pytest.approx(0.038)


def test_a_methods_sweeps_command_names_each_methods_weights_as_multiples_of_todays(tmp_path):
    kd, rd = (build_method(SETTINGS["gowalla"], m)[0].weight for m in ("kd", "rd"))
    trials = [{"method": "scratch", "weight": 0.0, "seed": 0}]
    trials += [{"method": "kd", "weight": kd * factor, "seed": seed}
               for factor in (0.1, 1, 10) for seed in (0, 1)]
    trials += [{"method": "rd", "weight": rd * factor, "seed": 0} for factor in (0.01, 0.1)]
    settings = {"where": {"data": {"dataset": "gowalla"}}}
    command = sweep_command(tmp_path / "tune-gowalla-methods", trials, settings)
    assert command == ("python benchmarks/tune_methods.py --dataset gowalla --methods kd "
                       "--seeds 0 1 && python benchmarks/tune_methods.py --dataset gowalla "
                       "--methods rd --factors 0.01 0.1")


def test_a_scratch_sweeps_command_gives_back_its_recorded_settings(tmp_path):
    settings = {"where": {"data": {"dataset": "gowalla"}},
                "student": {"model": "bpr_mf", "dim": 20, "layers": 3, "l2": "per trial",
                            "loss": "bpr"},
                "fit": {"epochs": 60, "batch_size": 4096, "learning_rate": "per trial",
                        "num_negatives": 1, "patience": 3, "eval_every": 2, "seed": 0,
                        "optimizer": "lazy_adam"}}
    trials = [{"method": "scratch", "learning_rate": lr, "l2": l2, "seed": seed}
              for lr in (2e-3, 5e-3) for l2 in (1e-4, 1e-3) for seed in (0, 1)]
    command = sweep_command(tmp_path / "tune-gowalla-scratch", trials, settings)
    assert command.startswith("kdtfrs tune ")
    args = build_parser().parse_args(command.split()[1:])
    fit = settings["fit"]
    assert (args.epochs, args.batch_size, args.patience, args.eval_every, args.dim) == (
        fit["epochs"], fit["batch_size"], fit["patience"], fit["eval_every"], 20)
    assert args.lr == [2e-3, 5e-3] and args.l2 == [1e-4, 1e-3] and args.seed == [0, 1]
    assert "--optimizer" not in command and "--l2-form" not in command  # defaults left out
    settings["student"]["l2_form"], settings["fit"]["optimizer"] = "tables", "adam"
    args = build_parser().parse_args(
        sweep_command(tmp_path / "t", trials, settings).split()[1:])
    assert (args.l2_form, args.optimizer) == ("tables", "adam")


def test_held_out_scores_are_taken_at_the_weights_in_use_against_their_own_scratch():
    def record(method, weight, score, seed=0):
        return {"method": method, "weight": weight, "val_ndcg@20": score, "seed": seed}

    kd, rd = (build_method(SETTINGS["gowalla"], m)[0].weight for m in ("kd", "rd"))
    sweep = [record("scratch", 0.0, 0.060), record("kd", kd, 0.070),
             record("kd", kd * 10, 0.090), record("kd", kd, 0.080, seed=1)]
    older = [record("scratch", 0.0, 0.050), record("kd", kd, 0.055), record("rd", rd, 0.052),
             record("rd", rd * 10, 0.058)]
    scores = held_out_at_weights_in_use("gowalla", [sweep, older])
    assert scores == {"kd": (0.070, 0.060), "rd": (0.052, 0.050)}
    assert held_out_at_weights_in_use("gowalla", [[record("kd", kd, 0.07)]]) == {}  # no scratch


def test_recall_by_popularity_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    num_users, num_items = 40, 500
    items = np.minimum(rng.zipf(1.3, 3000) - 1, num_items - 1)  # a few items hold many pairs
    users = rng.integers(0, num_users, items.size)
    split = split_random(Interactions(users, items, np.arange(items.size, dtype=np.float64),
                                      np.arange(num_users), np.arange(num_items), "zipf"),
                         seed=0)
    model = BPRMF(num_users, num_items, 4, seed=0)
    sliced = sliced_recall(model, split)

    scores = model.user_embedding.numpy() @ model.item_embedding.numpy().T
    for part in (split.train, split.valid):
        rows, cols = part.to_pairs()
        scores[rows, cols] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :20]
    popularity = np.bincount(split.train.to_pairs()[1], minlength=num_items)
    head = np.isin(np.arange(num_items), np.argsort(-popularity, kind="stable")[:5])  # 1%
    test_users, test_items = split.test.to_pairs()
    for name, in_slice in (("recall@20 head", head), ("recall@20 tail", ~head)):
        recalls = []
        for user in np.unique(test_users):
            truth = test_items[(test_users == user) & in_slice[test_items]]
            if truth.size:
                recalls.append(np.isin(truth, top[user]).mean())
        assert sliced[name] == pytest.approx(np.mean(recalls))
    assert 0 < sliced["recall@20 head"] and 0 < sliced["recall@20 tail"]


def test_the_popularity_table_lists_only_records_that_have_the_slices():
    def row(method, seed, head=None):
        sliced = {} if head is None else {"recall@20 head": head, "recall@20 tail": 0.1}
        return {"method": method, "seed": seed, "recall@20": 0.2, **sliced}

    lines = popularity_section("gowalla", [row("rrd", 0, 0.5), row("rrd", 1, 0.3),
                                           row("kd", 0), row("scratch", 2, 0.4)])
    assert lines[-3:-1] == ["| scratch | 2 | 0.2000 | 0.4000 | 0.1000 |",
                            "| rrd | 0 1 | 0.2000 | 0.4000 | 0.1000 |"]
    assert popularity_section("gowalla", [row("kd", 0)]) == []


def test_docs_benchmarks_is_what_the_report_writes_from_the_records_and_notes(tmp_path,
                                                                              monkeypatch):
    from benchmarks import report
    docs = report.PAGE.parent
    monkeypatch.setattr(report, "PAGE", tmp_path / report.PAGE.name)
    monkeypatch.setattr(sys, "argv", ["report.py"])
    report.main()
    for written in sorted(tmp_path.iterdir()):
        assert written.read_text() == (docs / written.name).read_text(), (
            f"docs/{written.name} is not what `python benchmarks/report.py` writes from "
            "benchmarks/results/ and benchmarks/notes.md now: run it and commit the page")
