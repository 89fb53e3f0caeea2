"""Distillation weights (and the student's learning rate and L2) chosen on validation data.

    trials = trial_grid(["scratch", "rrd", "kd"], weights=[0.01, 0.1, 1.0])
    sweep = Sweep(output_dir)
    sweep.run(teacher, split, data_spec, trials, student=BackboneSpec("bpr_mf", 20),
              fit=FitConfig(epochs=100, learning_rate=5e-3))
    sweep.best()  # {method: its record with the best validation NDCG@20}

Each trial distils one student (``kdtfrs.experiment.distill_student``: early stopping on the
validation NDCG@20, the best epoch's weights kept) and records that best validation score.
The test part is never read. The records go to ``OUTPUT/trials.json`` as each trial ends,
so an interrupted sweep loses at most the trial it was in, and that one resumes from its
last epoch (``OUTPUT/work/<trial>``). ``OUTPUT/table.md`` and ``OUTPUT/validation.svg``
(validation NDCG@20 against the weight, one line per method) are rewritten after every trial.

Where the data has no validation part (Gowalla's published split), ``held_out_split`` moves a
fraction of each user's training items into one, and the teacher must be retrained without
them (``retrain_teacher``): a teacher that saw the held-out pairs would lead its students
straight to them and favour distillation over the scratch student.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import shutil

from kdtfrs import data, model_dir, tasks
from kdtfrs.atomic_files import write_json, write_text
from kdtfrs.experiment import BackboneSpec, distill_student, evaluate_split, train_backbone
from kdtfrs.fitting import MONITOR, FitConfig
from kdtfrs.run_guards import NonFiniteLossError
from kdtfrs.signals import TeacherSignals
from kdtfrs.tuning_plot import validation_plot
from kdtfrs.validation import check_number

TRIALS_FILE = "trials.json"
TABLE_FILE = "table.md"
PLOT_FILE = "validation.svg"
WORK_DIR = "work"
HELD_OUT_TEACHER = "teacher-held-out"
SCRATCH = "scratch"


@dataclasses.dataclass(frozen=True)
class Trial:
    """One student to train: a method at one weight (0 for scratch), learning rate and L2."""

    method: str
    weight: float
    learning_rate: float
    l2: float

    @property
    def name(self) -> str:
        return f"{self.method}-w{self.weight:g}-lr{self.learning_rate:g}-l2{self.l2:g}"

    def key(self) -> tuple:
        return (self.method, self.weight, self.learning_rate, self.l2)


def trial_grid(methods, weights, learning_rates=(1e-3,), l2s=(1e-4,)) -> list[Trial]:
    """Every method at every weight, learning rate and L2 (scratch once per rate and L2)."""
    methods = list(dict.fromkeys(methods))
    if not methods:
        raise ValueError("give at least one method to tune (e.g. rrd, or scratch).")
    unknown = [method for method in methods if method != SCRATCH and method not in tasks.METHODS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; choose from scratch, "
                         f"{', '.join(tasks.METHODS)}.")
    needs = [("learning rates", learning_rates), ("l2 values", l2s)]
    if any(method != SCRATCH for method in methods):
        needs.append(("weights", weights))
    for name, values in needs:
        if not list(values):
            raise ValueError(f"give at least one of the {name} to try.")
    weights = [check_number("weight", weight, above=0) for weight in weights]
    learning_rates = [check_number("learning rate", lr, above=0) for lr in learning_rates]
    l2s = [check_number("l2", l2, minimum=0) for l2 in l2s]
    trials = []
    for method in methods:
        for weight in ([0.0] if method == SCRATCH else sorted(set(weights))):
            for lr in sorted(set(learning_rates)):
                trials += [Trial(method, float(weight), float(lr), float(l2))
                           for l2 in sorted(set(l2s))]
    return trials


def held_out_split(split: data.SplitData, fraction: float, seed: int = 0) -> data.SplitData:
    """``split`` itself if it has a validation part, else one with ``fraction`` of each
    user's training items held out as validation (``kdtfrs.data.hold_out_validation``)."""
    if split.valid.nnz:
        return split
    return data.hold_out_validation(split, fraction=fraction, seed=seed)


def retrain_teacher(teacher_dir, split, data_spec, output, verbose=0):
    """The teacher of ``teacher_dir`` trained again, with its recorded model and training
    settings, on ``split`` (the training pairs left after a hold-out); kept in ``output``
    (reused when it is already there; resumable from ``output``'s sibling work area)."""
    output = pathlib.Path(output)
    if (output / model_dir.MODEL_FILE).exists():
        return model_dir.load(output, split.train)
    extra = model_dir.describe(teacher_dir).get("extra", {})
    if "backbone" not in extra or "fit" not in extra:
        raise ValueError(
            f"{teacher_dir}'s model.json records no training settings (backbone, fit), so "
            "the teacher cannot be retrained without the held-out pairs; train it with "
            "`kdtfrs train`, or tune on data that has a validation part.")
    model, _ = train_backbone(data_spec, BackboneSpec(**extra["backbone"]),
                              FitConfig(**extra["fit"]), output, verbose=verbose, split=split,
                              checkpoint_dir=output.parent / WORK_DIR / output.name)
    return model


class Sweep:
    """The trials of one sweep and their records, in an output folder (module docstring)."""

    def __init__(self, output):
        self.output = pathlib.Path(output)
        self.records = self._read()

    def _read(self) -> list:
        path = self.output / TRIALS_FILE
        if not path.exists():
            return []
        try:
            records = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is damaged ({error.msg}); move it away to start the "
                             "sweep again.") from None
        if not isinstance(records, list):
            raise ValueError(f"{path} does not hold a list of trial records; move it away.")
        return records

    def record(self, trial: Trial):
        """The record of ``trial``, or None if it has not finished."""
        return next((r for r in self.records if _record_key(r) == trial.key()), None)

    def run(self, teacher, split, data_spec, trials, student: BackboneSpec, fit: FitConfig,
            params=None, teacher_score=None, verbose=0, report=print):
        """Trains every trial not recorded yet; returns the records of ``trials``.

        ``params`` maps a method id to its other hyperparameters; ``teacher_score`` (the
        teacher's validation NDCG@20) is drawn in the table and plot; ``report`` gets one
        line per trial.
        """
        params = params or {}
        signals = None
        pending = [trial for trial in trials if self.record(trial) is None]
        done = len(trials) - len(pending)
        for trial in pending:
            if signals is None:  # the teacher's lists, once, when a trial needs them
                signals = TeacherSignals(teacher, split.train)
            done += 1
            record = self._train(teacher, split, data_spec, trial, student, fit,
                                 params.get(trial.method, {}), signals, verbose)
            self.records = [r for r in self._read() if _record_key(r) != trial.key()]
            self.records.append(record)
            self.output.mkdir(parents=True, exist_ok=True)
            write_json(self.output / TRIALS_FILE, self.records)
            shutil.rmtree(self.output / WORK_DIR / trial.name, ignore_errors=True)
            self.write_summaries(teacher_score)
            report(f"[{done}/{len(trials)}] {describe(record)}")
        work = self.output / WORK_DIR
        if work.is_dir() and not any(work.iterdir()):
            work.rmdir()  # every trial finished: no work area left behind
        return [self.record(trial) for trial in trials]

    def _train(self, teacher, split, data_spec, trial, student, fit, params, signals, verbose):
        distillation = ([] if trial.method == SCRATCH
                        else tasks.build(trial.method, **{**params, "weight": trial.weight}))
        student = dataclasses.replace(student, l2=trial.l2)
        fit = dataclasses.replace(fit, learning_rate=trial.learning_rate)
        record = {"method": trial.method, "weight": trial.weight,
                  "learning_rate": trial.learning_rate, "l2": trial.l2,
                  "config": tasks.describe(distillation) if distillation else {}}
        try:
            _, result = distill_student(teacher, split, data_spec, distillation, student, fit,
                                        verbose=verbose, signals=signals,
                                        checkpoint_dir=self.output / WORK_DIR / trial.name,
                                        method_id=trial.method)
        except NonFiniteLossError as error:
            return {**record, "diverged": str(error)}
        training = result["training"]
        return {**record, MONITOR: training.get("best_" + MONITOR),
                "best_epoch": training.get("best_epoch"), "epochs": training["epochs"],
                "seconds_per_epoch": training["seconds_per_epoch"],
                "refresh_seconds": training["refresh_seconds"]}

    def best(self) -> dict:
        """{method: the record with the best validation NDCG@20} over the finished trials."""
        best = {}
        for record in self.records:
            score = record.get(MONITOR)
            if score is not None and (record["method"] not in best
                                      or score > best[record["method"]][MONITOR]):
                best[record["method"]] = record
        return best

    def write_summaries(self, teacher_score=None) -> None:
        """``table.md`` and ``validation.svg`` from the records so far."""
        write_text(self.output / TABLE_FILE, table(self.records, self.best(), teacher_score))
        write_text(self.output / PLOT_FILE, validation_plot(self.records, teacher_score))


def teacher_validation_score(teacher, split) -> float:
    """The teacher's validation NDCG@20 (the level students are compared with)."""
    return evaluate_split(teacher, split, "valid", ks=(20,))["ndcg@20"]


def describe(record) -> str:
    """One line for a finished trial."""
    setting = (f"{record['method']} weight {record['weight']:g}, lr {record['learning_rate']:g}"
               f", l2 {record['l2']:g}")
    if "diverged" in record:
        return f"{setting}: diverged (non-finite loss)"
    return (f"{setting}: validation NDCG@20 {record[MONITOR]:.4f} at epoch "
            f"{record['best_epoch']} of {record['epochs']}, {record['seconds_per_epoch']:.2f} "
            "s/epoch")


def table(records, best, teacher_score=None) -> str:
    """The records as a Markdown table, each method's best marked, best first per method."""
    lines = ["# Validation NDCG@20 per trial", ""]
    if teacher_score is not None:
        lines += [f"Teacher: {teacher_score:.4f}.", ""]
    lines += ["| method | weight | lr | l2 | validation NDCG@20 | best epoch | epochs | s/epoch |"
              " best |", "|---|---|---|---|---|---|---|---|---|"]
    order = sorted(records, key=lambda r: (r["method"] != SCRATCH, r["method"],
                                           -(r.get(MONITOR) or -math.inf)))
    for r in order:
        score = "diverged" if "diverged" in r else f"{r[MONITOR]:.4f}"
        seconds = "" if "diverged" in r else f"{r['seconds_per_epoch']:.2f}"
        chosen = "yes" if best.get(r["method"]) is r else ""
        lines.append(f"| {r['method']} | {r['weight']:g} | {r['learning_rate']:g} | "
                     f"{r['l2']:g} | {score} | {r.get('best_epoch', '')} | "
                     f"{r.get('epochs', '')} | {seconds} | {chosen} |")
    return "\n".join(lines) + "\n"


def _record_key(record) -> tuple:
    return (record["method"], record["weight"], record["learning_rate"], record["l2"])


__all__ = ["Sweep", "Trial", "held_out_split", "retrain_teacher", "teacher_validation_score",
           "trial_grid"]
