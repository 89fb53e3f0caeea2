"""benchmarks/distill.py end to end on the embedded data at toy sizes: every kind of record,
each naming the weights of the teacher(s) its table is made against; a rerun skips them."""

import json

from benchmarks import distill
from kdtfrs import model_dir, teacher_identity
from kdtfrs.experiment import BackboneSpec
from kdtfrs.fitting import FitConfig


def test_every_record_names_its_teachers_weights_and_a_rerun_skips_them(tmp_path, monkeypatch,
                                                                        capsys):
    fit = FitConfig(epochs=2, batch_size=512, learning_rate=5e-3, patience=20)
    settings = {
        **distill.SETTINGS["citeulike-t"],
        "teacher": BackboneSpec("bpr_mf", 16, l2=1e-2),
        "student": BackboneSpec("bpr_mf", 4, l2=1e-2),
        "teacher_fit": fit, "student_fit": fit,
        "bd": {"warmup_epochs": 1, "refresh_every": 1},
        "hetcomp": {"dkc_every": 1, "num_checkpoints": 2},
        "hetcomp_teachers": ((BackboneSpec("bpr_mf", 8, l2=1e-2), "teacher_fit"),
                             (BackboneSpec("lightgcn", 8, layers=1, l2=1e-3), "teacher_fit")),
        "keep_every": 1,
    }
    monkeypatch.setitem(distill.SETTINGS, "citeulike-t", settings)
    embedded = distill.DataSpec
    monkeypatch.setattr(distill, "DataSpec", lambda name: embedded("synthetic"))
    results = tmp_path / "distill.json"
    argv = ["--datasets", "citeulike-t", "--work", str(tmp_path / "work"), "--results",
            str(results), "--seeds", "1", "--methods", "teacher", "kd", "bd", "hetcomp",
            "--verbose", "0"]
    distill.main(argv)

    split = embedded("synthetic").load()
    work = tmp_path / "work" / "citeulike-t"
    weights = teacher_identity.weights_digest(model_dir.load(work / "teacher", split.train))
    hetcomp_weights = [
        teacher_identity.weights_digest(model_dir.load(work / "hetcomp-teachers" / name,
                                                       split.train))
        for name in ("bpr_mf-8", "lightgcn-8")]
    records = json.loads(results.read_text())
    expected = {("teacher", 0): weights, ("scratch", 1): weights, ("teacher", 1): weights,
                ("kd", 1): weights, ("bd_teacher", 1): weights, ("bd", 1): weights,
                ("hetcomp_teacher_bpr_mf-8", 0): hetcomp_weights[0],
                ("hetcomp_teacher_lightgcn-8", 0): hetcomp_weights[1],
                ("hetcomp", 1): hetcomp_weights, ("hetcomp_ensemble", 0): hetcomp_weights}
    assert {(r["method"], r["seed"]): r[distill.TEACHER_WEIGHTS] for r in records} == expected

    capsys.readouterr()
    distill.main(argv)
    assert "==" not in capsys.readouterr().out  # every run recorded: nothing trained again
    assert json.loads(results.read_text()) == records
