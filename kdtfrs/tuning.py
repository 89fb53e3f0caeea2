"""Distillation weights (and the student's learning rate and L2) chosen on validation data.

    trials = trial_grid(["scratch", "rrd", "kd"], weights=[0.01, 0.1, 1.0], seeds=[0, 1, 2])
    sweep = Sweep(output_dir)
    sweep.run(teacher, split, data_spec, trials, student=BackboneSpec("bpr_mf", 20),
              fit=FitConfig(epochs=100, learning_rate=5e-3))
    sweep.best()  # {method: its setting with the best mean validation NDCG@20 over seeds}

Each trial distils one student (``kdtfrs.experiment.distill_student``: early stopping on the
validation NDCG@20, the best epoch's weights kept) and records that best validation score.
A setting (method, weight, learning rate, L2) is tried once per seed and ranked by its mean
over the seeds (``settings``): the scratch students' validation NDCG@20 on CiteULike-t spreads
0.0326-0.0381 over seeds at one setting, more than the settings a one-seed sweep tells apart.
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
    """One student to train: a method at one weight (0 for scratch), learning rate and L2,
    initialised and sampled with one seed."""

    method: str
    weight: float
    learning_rate: float
    l2: float
    seed: int = 0

    @property
    def name(self) -> str:
        return (f"{self.method}-w{self.weight:g}-lr{self.learning_rate:g}-l2{self.l2:g}"
                f"-seed{self.seed}")

    def key(self) -> tuple:
        return (self.method, self.weight, self.learning_rate, self.l2, self.seed)


def trial_grid(methods, weights, learning_rates=(1e-3,), l2s=(1e-4,), seeds=(0,)) -> list[Trial]:
    """Every method at every weight, learning rate and L2 (scratch once per rate and L2), each
    once per seed."""
    methods = list(dict.fromkeys(methods))
    if not methods:
        raise ValueError("give at least one method to tune (e.g. rrd, or scratch).")
    unknown = [method for method in methods if method != SCRATCH and method not in tasks.METHODS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; choose from scratch, "
                         f"{', '.join(tasks.METHODS)}.")
    needs = [("learning rates", learning_rates), ("l2 values", l2s), ("seeds", seeds)]
    if any(method != SCRATCH for method in methods):
        needs.append(("weights", weights))
    for name, values in needs:
        if not list(values):
            raise ValueError(f"give at least one of the {name} to try.")
    weights = [check_number("weight", weight, above=0) for weight in weights]
    learning_rates = [check_number("learning rate", lr, above=0) for lr in learning_rates]
    l2s = [check_number("l2", l2, minimum=0) for l2 in l2s]
    seeds = [check_number("seed", seed, minimum=0, integer=True) for seed in seeds]
    trials = []
    for method in methods:
        for weight in ([0.0] if method == SCRATCH else sorted(set(weights))):
            for lr in sorted(set(learning_rates)):
                trials += [Trial(method, float(weight), float(lr), float(l2), int(seed))
                           for l2 in sorted(set(l2s)) for seed in sorted(set(seeds))]
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
    if is_trained(output):
        return model_dir.load(output, split.train)
    extra = model_dir.describe(teacher_dir).get("extra", {})
    if "backbone" not in extra or "fit" not in extra:
        raise ValueError(
            f"{teacher_dir}'s model.json records no training settings (backbone, fit), so "
            "the teacher cannot be retrained without the held-out pairs; train it with "
            "`kdtfrs train`, or tune on data that has a validation part.")
    checkpoints = output.parent / WORK_DIR / output.name
    model, _ = train_backbone(data_spec, BackboneSpec(**extra["backbone"]),
                              FitConfig(**extra["fit"]), output, verbose=verbose, split=split,
                              checkpoint_dir=checkpoints)
    if checkpoints.is_dir() and not any(checkpoints.iterdir()):
        checkpoints.rmdir()  # training removed its checkpoints; the folder goes with them
    return model


def is_trained(output) -> bool:
    """Whether ``retrain_teacher`` has already saved its teacher in ``output``."""
    return (pathlib.Path(output) / model_dir.MODEL_FILE).exists()


class Sweep:
    """The trials of one sweep and their records, in an output folder (module docstring).

    ``unseeded`` is the seed of records written before trials had one (a sweep of one seed,
    recorded in its settings): they count as that seed's trials.
    """

    def __init__(self, output, unseeded=0):
        self.output = pathlib.Path(output)
        self.unseeded = int(unseeded)
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
        return [{**record, "seed": record.get("seed", self.unseeded)} for record in records]

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
        fit = dataclasses.replace(fit, learning_rate=trial.learning_rate, seed=trial.seed)
        record = {"method": trial.method, "weight": trial.weight,
                  "learning_rate": trial.learning_rate, "l2": trial.l2, "seed": trial.seed,
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
        """{method: its setting (``settings``) with the best mean validation NDCG@20}."""
        return best_settings(settings(self.records))

    def write_summaries(self, teacher_score=None) -> None:
        """``table.md`` and ``validation.svg`` from the records so far."""
        rows = settings(self.records)
        write_text(self.output / TABLE_FILE, table(rows, best_settings(rows), teacher_score))
        write_text(self.output / PLOT_FILE, validation_plot(rows, teacher_score))


def settings(records) -> list[dict]:
    """The records grouped by setting (method, weight, learning rate, L2), one dict each:
    the setting, ``seeds`` (those finished), the mean validation NDCG@20 over them (None when
    a seed diverged: the setting is not usable), ``standard_error`` of that mean (None for
    one seed), and the means of ``best_epoch``, ``epochs`` and ``seconds_per_epoch``."""
    groups = {}
    for record in records:
        groups.setdefault(_setting_key(record), []).append(record)
    rows = []
    for key, group in groups.items():
        group = sorted(group, key=lambda record: record["seed"])
        row = dict(zip(("method", "weight", "learning_rate", "l2"), key),
                   seeds=[record["seed"] for record in group])
        diverged = [record for record in group if "diverged" in record]
        if diverged:
            rows.append({**row, MONITOR: None, "diverged": diverged[0]["diverged"]})
            continue
        scores = [record.get(MONITOR) for record in group]
        if None in scores:  # no validation score: nothing to rank it by
            rows.append({**row, MONITOR: None, "standard_error": None, "best_epoch": None,
                         "epochs": None, "seconds_per_epoch": None})
            continue
        mean = sum(scores) / len(scores)
        spread = (math.sqrt(sum((score - mean) ** 2 for score in scores)
                            / (len(scores) - 1) / len(scores)) if len(scores) > 1 else None)
        row.update({MONITOR: mean, "standard_error": spread})
        for name in ("best_epoch", "epochs", "seconds_per_epoch"):
            values = [record[name] for record in group if record.get(name) is not None]
            row[name] = sum(values) / len(values) if values else None
        rows.append(row)
    return rows


def best_settings(rows) -> dict:
    """{method: the row of ``settings`` with the best mean validation NDCG@20}."""
    best = {}
    for row in rows:
        score = row.get(MONITOR)
        if score is not None and (row["method"] not in best
                                  or score > best[row["method"]][MONITOR]):
            best[row["method"]] = row
    return best


def teacher_validation_score(teacher, split) -> float:
    """The teacher's validation NDCG@20 (the level students are compared with)."""
    return evaluate_split(teacher, split, "valid", ks=(20,))["ndcg@20"]


def describe(record) -> str:
    """One line for a finished trial."""
    setting = (f"{record['method']} weight {record['weight']:g}, lr {record['learning_rate']:g}"
               f", l2 {record['l2']:g}, seed {record['seed']}")
    if "diverged" in record:
        return f"{setting}: diverged (non-finite loss)"
    return (f"{setting}: validation NDCG@20 {record[MONITOR]:.4f} at epoch "
            f"{record['best_epoch']} of {record['epochs']}, {record['seconds_per_epoch']:.2f} "
            "s/epoch")


def table(rows, best, teacher_score=None) -> str:
    """The settings (``settings``) as a Markdown table, each method's best marked, best first
    per method; scores are means over the seeds ± their standard error, epochs and seconds
    means too."""
    lines = ["# Validation NDCG@20 per setting (mean over seeds ± standard error)", ""]
    if teacher_score is not None:
        lines += [f"Teacher: {teacher_score:.4f}.", ""]
    lines += ["| method | weight | lr | l2 | validation NDCG@20 | seeds | best epoch | epochs |"
              " s/epoch | best |", "|---|---|---|---|---|---|---|---|---|---|"]
    order = sorted(rows, key=lambda r: (r["method"] != SCRATCH, r["method"],
                                        -(r.get(MONITOR) or -math.inf)))
    for r in order:
        if "diverged" in r:
            score, epochs, seconds = "diverged", ("", ""), ""
        else:
            score = ("" if r[MONITOR] is None else f"{r[MONITOR]:.4f}") + (
                f" ± {r['standard_error']:.4f}" if r["standard_error"] is not None else "")
            epochs = tuple("" if r[name] is None else f"{round(r[name], 1):g}"
                           for name in ("best_epoch", "epochs"))
            seconds = ("" if r["seconds_per_epoch"] is None
                       else f"{r['seconds_per_epoch']:.2f}")
        chosen = "yes" if best.get(r["method"]) is r else ""
        lines.append(f"| {r['method']} | {r['weight']:g} | {r['learning_rate']:g} | "
                     f"{r['l2']:g} | {score} | {' '.join(map(str, r['seeds']))} | "
                     f"{epochs[0]} | {epochs[1]} | {seconds} | {chosen} |")
    return "\n".join(lines) + "\n"


def _setting_key(record) -> tuple:
    return (record["method"], record["weight"], record["learning_rate"], record["l2"])


def _record_key(record) -> tuple:
    return (*_setting_key(record), record["seed"])


__all__ = ["Sweep", "Trial", "best_settings", "held_out_split", "is_trained", "retrain_teacher",
           "settings", "teacher_validation_score", "trial_grid"]
