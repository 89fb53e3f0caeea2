"""The main job on the embedded default: the TFX pipeline, end to end, on synthetic data.

Runs the pipeline of ``pipelines`` locally (docs/pipeline.md): the synthetic interactions
split per user, validated, a 64-d BPR-MF teacher, an 8-d student from scratch and an 8-d
student distilled with RRD, the full-ranking evaluator's blessing and the Pusher. Prints the
teacher / scratch / distilled table (with the share of the teacher-student gap distillation
recovers), the blessing and where the student was pushed, then answers one request with the
pushed SavedModel, as TF Serving would.

TFX is imported when the demo runs, not when this module is.
"""

from __future__ import annotations

import time

from kdtfrs.experiment import BackboneSpec
from kdtfrs.fitting import FitConfig

TEACHER_DIM = 64
STUDENT_DIM = 8
COLUMNS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
RRD_PARAMS = {"weight": 0.1, "num_interesting": 20, "num_uninteresting": 40, "max_rank": 100}
MIN_FRACTION_OF_TEACHER = 0.5


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


def answer_request(saved_model_dir, user_id: int, shown: int = 10) -> dict:
    """Asks the SavedModel's ``serving_default`` signature (a serialized tf.Example with
    ``user_id``, as TF Serving's :predict receives it) for ``user_id``'s items; prints and
    returns the answer as NumPy arrays."""
    from kdtfrs._keras import tf

    serve = tf.saved_model.load(str(saved_model_dir)).signatures["serving_default"]
    example = tf.train.Example(features=tf.train.Features(feature={
        "user_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(user_id)]))}))
    answer = {name: value.numpy()
              for name, value in serve(examples=tf.constant([example.SerializeToString()])).items()}
    items = ", ".join(str(item) for item in answer["item_ids"][0][:shown])
    print(f"\nrequest: serving_default(user_id={user_id}) -> top {shown} of "
          f"{answer['item_ids'].shape[1]} items: {items}")
    return answer


def run_demo(output="runs/demo", epochs=30) -> None:
    """The pipeline on the synthetic default in ``output`` (module docstring)."""
    from pipelines.commands import print_outcome, run_locally

    start = time.perf_counter()
    fit = FitConfig(epochs=epochs, batch_size=1024, learning_rate=5e-3, patience=5)
    summary, _, layout = run_locally(
        output, "synthetic", method="rrd", method_params=RRD_PARAMS,
        teacher=BackboneSpec("bpr_mf", TEACHER_DIM), student=BackboneSpec("bpr_mf", STUDENT_DIM),
        fit=fit, min_fraction_of_teacher=MIN_FRACTION_OF_TEACHER)
    print_outcome(summary, "rrd")
    if summary.pushed_to is not None:
        answer_request(summary.pushed_to, user_id=0)
    print(f"\nthe run (artifacts/, metadata.sqlite, serving/) is in {layout.output}; "
          f"{time.perf_counter() - start:.0f} s")
