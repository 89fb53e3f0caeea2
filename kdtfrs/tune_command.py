"""``kdtfrs tune``: distillation weights chosen on validation data (``kdtfrs.tuning``).

    kdtfrs tune --teacher runs/teacher --methods scratch rrd kd --weights 0.01 0.1 1 \\
        --dim 20 --lr 0.005 --l2 0.01 --seed 0 1 2 --output runs/weights

One student per (method, weight, --lr, --l2, --seed), each with early stopping on the
validation NDCG@20; a setting is ranked by its mean over the seeds. OUTPUT gets trials.json (a
record per finished trial), table.md (a row per setting) and validation.svg.
The sweep's settings (teacher, data, student, training, each method's --param/--config) are
kept in OUTPUT/sweep.json: a rerun with the same settings skips finished trials and resumes the
interrupted one, so a sweep can be extended with more weights, methods or seeds, a new method
with hyperparameters of its own; other settings, a swept method's other hyperparameters
included, are refused (use another OUTPUT, or --overwrite).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil
import sys

from kdtfrs import tasks, teacher_identity, tuning
from kdtfrs.atomic_files import write_json
from kdtfrs.commands import _parse_params, _repointed
from kdtfrs.experiment import BackboneSpec, load_teacher
from kdtfrs.fitting import MONITOR, FitConfig

SETTINGS_FILE = "sweep.json"
SWEEP_ENTRIES = (SETTINGS_FILE, tuning.TRIALS_FILE, tuning.TABLE_FILE, tuning.PLOT_FILE,
                 tuning.WORK_DIR, tuning.HELD_OUT_TEACHER)


def cmd_tune(args):
    if args.strategy != "default":
        raise ValueError("kdtfrs tune trains its students one after another on one device; "
                         "leave out --strategy (or use `kdtfrs distill --strategy ...` for a "
                         "single run).")
    methods = list(dict.fromkeys(args.methods))
    distilled = [method for method in methods if method != tuning.SCRATCH]
    if distilled and not args.weights:
        raise ValueError(f"--weights is needed to tune {', '.join(distilled)}: give the "
                         "weights to try, e.g. --weights 0.001 0.01 0.1 1.")
    if not args.hold_out < 1:
        raise ValueError(f"--hold-out must lie in (0, 1), got {args.hold_out:g}; e.g. 0.1 "
                         "holds out 10% of each user's training items.")
    params = _parse_params(args)
    if params and len(distilled) != 1:
        raise ValueError("--param/--config apply to one distillation method; tune the methods "
                         "one at a time to give each its own hyperparameters.")
    for method in distilled:  # bad hyperparameters fail now, not after the first trials
        try:
            tasks.build(method, **{**params, "weight": args.weights[0]})
        except (TypeError, ValueError) as error:
            raise ValueError(f"--methods {method} --param/--config: {error}") from None
    output, teacher_dir = pathlib.Path(args.output), pathlib.Path(args.teacher)
    _check_output(output, teacher_dir)
    trials = tuning.trial_grid(methods, args.weights or [], args.lr, args.l2, args.seed)
    teacher, split, spec = load_teacher(teacher_dir, **_repointed(args))
    if args.overwrite:  # only once the teacher and its data are known to load
        _remove_sweep(output)
    student = BackboneSpec(args.model, args.dim, args.layers, args.l2[0], args.loss,
                           args.l2_form)
    fit = FitConfig(epochs=args.epochs, batch_size=args.batch_size,
                    learning_rate=args.lr[0], num_negatives=args.negatives,
                    patience=args.patience, eval_every=args.eval_every, seed=args.seed[0],
                    optimizer=args.optimizer)
    held_out = not split.valid.nnz
    settings = {
        "teacher": {teacher_identity.DIGEST: teacher_identity.weights_digest(teacher)},
        "data": spec.record(split)["fingerprint"],
        "student": {**student.config(), "l2": "per trial"},
        "fit": {**dataclasses.asdict(fit), "learning_rate": "per trial", "seed": "per trial"},
        "params": {method: params for method in distilled},
        "validation": f"{args.hold_out:g} of the training pairs held out" if held_out
        else "the validation part",
    }
    where = {"teacher": str(teacher_dir.absolute()), "data": spec.record(split)}
    unseeded = _begin(output, settings, where)
    # Scratch students learn nothing from the teacher: a sweep of them alone neither trains
    # it again without the held-out pairs nor scores it (a later sweep of methods does).
    scratch_only = all(trial.method == tuning.SCRATCH for trial in trials)
    if held_out:
        held_out_teacher = output / tuning.HELD_OUT_TEACHER
        retrain = ("" if scratch_only else
                   f", and reusing the teacher trained without them ({held_out_teacher})"
                   if tuning.is_trained(held_out_teacher) else
                   f", and training the teacher again without them ({held_out_teacher})")
        print(f"kdtfrs tune: {split.name} has no validation part: holding out "
              f"{args.hold_out:g} of each user's training items{retrain}", file=sys.stderr)
        split = tuning.held_out_split(split, args.hold_out)
        if not scratch_only:
            teacher = tuning.retrain_teacher(teacher_dir, split, spec,
                                             output / tuning.HELD_OUT_TEACHER, args.verbose)
    teacher_score = (None if held_out and scratch_only
                     else tuning.teacher_validation_score(teacher, split))
    sweep = tuning.Sweep(output, unseeded)
    done = sum(sweep.record(trial) is not None for trial in trials)
    level = "" if teacher_score is None else f"; teacher validation NDCG@20 {teacher_score:.4f}"
    print(f"kdtfrs tune: {len(trials)} trials ({done} already done){level}", flush=True)
    sweep.run(teacher, split, spec, trials, student, fit, params=settings["params"],
              teacher_score=teacher_score, verbose=args.verbose,
              report=lambda line: print(line, flush=True))
    sweep.write_summaries(teacher_score)
    print("\nbest per method (validation NDCG@20, mean over seeds):")
    for method, row in sorted(sweep.best().items()):
        spread = "" if row["standard_error"] is None else f" ± {row['standard_error']:.4f}"
        print(f"  {method:>12}: {row[MONITOR]:.4f}{spread}  weight {row['weight']:g}, lr "
              f"{row['learning_rate']:g}, l2 {row['l2']:g}, seeds "
              f"{' '.join(map(str, row['seeds']))}")
    print(f"table: {output / tuning.TABLE_FILE}\nplot:  {output / tuning.PLOT_FILE}")


def _check_output(output, teacher_dir) -> None:
    if output.exists() and not output.is_dir():
        raise ValueError(f"--output {output} is a file; give a folder for the sweep.")
    teacher = teacher_dir.resolve()
    target = output.resolve()
    if target == teacher or teacher in target.parents or target in teacher.parents:
        raise ValueError(f"--output {output} overlaps the teacher directory {teacher_dir}; "
                         "write the sweep elsewhere.")


def _teacher_text(recorded) -> str:
    """A sweep's teacher as its sweep.json names it (``teacher_identity``), for a message."""
    for key in (teacher_identity.DIGEST, teacher_identity.LEGACY_DIGEST):
        if key in (recorded or {}):
            return f"{key} {recorded[key][:12]}…"
    return "not recorded"


def _begin(output, settings, where) -> int:
    """Records the sweep's settings, or checks them against those of the sweep in OUTPUT;
    returns the seed of the trials recorded without one (``tuning.Sweep``'s ``unseeded``).

    ``params`` is compared method by method (``_merged_params``): a method new to the sweep
    adds its hyperparameters to sweep.json.

    ``where`` (the teacher's path, the data's location) is kept for the reader but not
    compared: a sweep continues with its teacher and data moved, as long as they are the same
    (the teacher's weights, ``kdtfrs.teacher_identity``; the data's fingerprint). A sweep
    recorded when --seed took one value (its settings hold that seed) continues with more
    seeds.
    """
    path = output / SETTINGS_FILE
    settings = json.loads(json.dumps(settings))
    if path.exists():
        try:
            recorded = json.loads(path.read_text())
        except json.JSONDecodeError:
            raise ValueError(f"{path} is damaged; start the sweep again with --overwrite.") \
                from None
        raw = json.loads(json.dumps(recorded))  # as read, to write back
        recorded.pop("where", None)
        params = _merged_params(output, recorded.pop("params", {}), settings.pop("params"))
        if teacher_identity.same(recorded.get("teacher"),
                                 {**settings["teacher"], "path": where["teacher"]}):
            recorded["teacher"] = settings["teacher"]  # also a record of an earlier version
        unseeded = recorded.get("fit", {}).get("seed", 0)
        if isinstance(unseeded, int):
            recorded["fit"]["seed"] = "per trial"
        else:
            unseeded = 0
        changed = sorted(key for key in set(settings) | set(recorded)
                         if settings.get(key) != recorded.get(key))
        if changed:
            teacher = ("" if "teacher" not in changed else
                       f"; its teacher: {_teacher_text(recorded.get('teacher'))}, this one: "
                       f"{_teacher_text(settings['teacher'])}")
            raise ValueError(
                f"--output {output} holds a sweep with other settings ({', '.join(changed)} "
                f"differ{teacher}); its trials would not compare with these. Use another "
                "--output, or --overwrite to start it again.")
        if params != raw.get("params"):
            write_json(path, {**raw, "params": params})
        return unseeded
    stray = [entry for entry in SWEEP_ENTRIES if (output / entry).exists()]
    if stray:
        raise ValueError(f"--output {output} holds {', '.join(stray)} but no {SETTINGS_FILE}: "
                         "not a sweep this command can continue; use another --output, or "
                         "--overwrite.")
    output.mkdir(parents=True, exist_ok=True)
    write_json(path, {**settings, "where": where})
    return 0


def _merged_params(output, recorded, given) -> dict:
    """The sweep's hyperparameters per method: ``recorded`` (sweep.json's) with the methods of
    ``given`` added; a method swept before must come with the same ones. Sweeps written
    before 2026-12-06 named only the methods given --param/--config: a method with trials
    but no entry ran with none."""
    swept = {record["method"] for record in tuning.Sweep(output).records}
    for method, params in given.items():
        before = recorded.get(method, {} if method in swept else None)
        if before is not None and before != params:
            raise ValueError(
                f"--output {output} holds a sweep of {method} with other hyperparameters "
                f"({_described(before)}, given {_described(params)}); its trials would not "
                "compare with these. Use another --output, or --overwrite to start it again.")
    return {**recorded, **given}


def _described(params) -> str:
    return ", ".join(f"{key}={value}" for key, value in params.items()) or "none"


def _remove_sweep(output) -> None:
    """Removes what a sweep writes in ``output`` (and nothing else)."""
    for entry in SWEEP_ENTRIES:
        path = output / entry
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
