"""The main job on the embedded default: teacher, scratch student and distilled student.

Trains on the synthetic dataset (no download): a 64-d BPR-MF teacher, an 8-d BPR-MF student
from scratch, and an 8-d student distilled from the teacher with RRD; prints their test
metrics and how much of the teacher-student gap distillation recovers.
"""

from __future__ import annotations

import pathlib

from kdtfrs import model_dir, tasks
from kdtfrs.experiment import BackboneSpec, DataSpec, distill_student, train_backbone
from kdtfrs.fitting import FitConfig
from kdtfrs.run_dir import OutputError

TEACHER_DIM = 64
STUDENT_DIM = 8
COLUMNS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
MODELS = ("teacher", "scratch", "rrd")
_MADE_BY_DEMO = {"run": {"command": "demo"}}


def gap_recovered(student, scratch, teacher):
    """(student - scratch) / (teacher - scratch), or None when the teacher is no better."""
    gap = teacher - scratch
    return (student - scratch) / gap if gap > 0 else None


def format_table(rows) -> str:
    """A plain-text table of (name, dim, metrics dict, gap) rows."""
    header = f"{'model':<16}{'dim':>5}" + "".join(f"{c:>11}" for c in COLUMNS) + f"{'gap@20':>9}"
    lines = [header, "-" * len(header)]
    for name, dim, metrics, gap in rows:
        cells = "".join(f"{metrics[c]:>11.4f}" for c in COLUMNS)
        gap_text = f"{gap:>9.0%}" if gap is not None else f"{'':>9}"
        lines.append(f"{name:<16}{dim:>5}{cells}{gap_text}")
    return "\n".join(lines)


def check_outputs(output, overwrite=False) -> None:
    """Refuses before training to replace anything but models an earlier demo wrote, unless
    ``overwrite`` (which still never replaces a folder that is not a model directory)."""
    for name in MODELS:
        path = pathlib.Path(output) / name
        if not path.exists():
            continue
        if not model_dir.is_model_dir(path):
            raise OutputError(f"{path} exists and is not a kdtfrs model directory; choose "
                              "another --output.")
        recorded = model_dir.describe(path).get("extra", {}).get("run")
        made_by_demo = recorded == _MADE_BY_DEMO["run"]
        if not (made_by_demo or overwrite):
            raise OutputError(f"{path} holds a model the demo did not write. Pass --overwrite "
                              "to replace it, or choose another --output.")


def run_demo(output="runs/demo", epochs=30, verbose=2, overwrite=False):
    output = pathlib.Path(output)
    check_outputs(output, overwrite)
    data_spec = DataSpec("synthetic")
    split = data_spec.load()
    print(f"data: {split}")
    fit = FitConfig(epochs=epochs, batch_size=1024, learning_rate=5e-3, patience=5)
    teacher_spec = BackboneSpec("bpr_mf", TEACHER_DIM, l2=1e-4)
    student_spec = BackboneSpec("bpr_mf", STUDENT_DIM, l2=1e-4)

    print(f"\n[1/3] teacher: BPR-MF, dim {TEACHER_DIM}")
    teacher, teacher_result = train_backbone(data_spec, teacher_spec, fit, output / "teacher",
                                             verbose=verbose, split=split, extra=_MADE_BY_DEMO)
    print(f"\n[2/3] student from scratch: BPR-MF, dim {STUDENT_DIM}")
    _, scratch_result = distill_student(teacher, split, data_spec, [], student_spec, fit,
                                        output / "scratch", verbose=verbose, extra=_MADE_BY_DEMO)
    print(f"\n[3/3] student distilled with RRD: BPR-MF, dim {STUDENT_DIM}")
    rrd = tasks.RRD(weight=0.1, num_interesting=20, num_uninteresting=40, max_rank=100)
    _, rrd_result = distill_student(teacher, split, data_spec, [rrd], student_spec, fit,
                                    output / "rrd", verbose=verbose, extra=_MADE_BY_DEMO)

    def gap(result):
        return gap_recovered(result["test"]["ndcg@20"], scratch_result["test"]["ndcg@20"],
                             teacher_result["test"]["ndcg@20"])

    print("\ntest metrics (full ranking, train and valid items masked):")
    print(format_table([
        ("teacher", TEACHER_DIM, teacher_result["test"], None),
        ("scratch student", STUDENT_DIM, scratch_result["test"], None),
        ("RRD student", STUDENT_DIM, rrd_result["test"], gap(rrd_result)),
    ]))
    print(f"\nmodels and metrics.json files are in {output}/")
