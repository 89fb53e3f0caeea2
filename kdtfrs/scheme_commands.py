"""``kdtfrs distill --method bd|hetcomp``: the training schemes beyond one frozen teacher.

    kdtfrs distill --method bd --teacher runs/teacher --dim 20 --output runs/bd
        writes the student to runs/bd and the co-trained teacher to runs/bd/teacher
    kdtfrs distill --method hetcomp --teachers runs/bpr-400 runs/lightgcn-64 --dim 20 \\
        --output runs/hetcomp
        teachers trained with `kdtfrs train --keep-every N` (their trajectories)

The same run safety as every distill run (docs/runs.md): the output is checked and locked,
written whole at the end, never over a teacher; ``--resume`` continues an interrupted run with
the same settings. ``kdtfrs.commands.cmd_distill`` hands these methods over to ``cmd_scheme``.
"""

from __future__ import annotations

import dataclasses
import pathlib

from kdtfrs import model_dir, teacher_identity
from kdtfrs.commands import (_announce, _backbone_spec, _distribution, _fit_config,
                             _make_strategy, _parse_params, _print_metrics, _repointed,
                             _run_directory, _run_info, _run_outcome,
                             _settings_differences)
from kdtfrs.experiment import load_teacher
from kdtfrs.schemes import TEACHER_DIRECTORY, distill_bidirectional, distill_hetcomp


def cmd_scheme(args):
    """Runs ``kdtfrs distill`` for ``args.method`` "bd" or "hetcomp"."""
    if args.method == "bd":
        if args.teacher is None:
            raise ValueError("--method bd trains one teacher with the student: give it with "
                             "--teacher DIR (--teachers is for --method hetcomp).")
        teacher_dirs = [args.teacher]
    else:
        teacher_dirs = args.teachers or [args.teacher]
    strategy = _make_strategy(args)
    params = _parse_params(args)
    backbone, fit = _backbone_spec(args), _fit_config(args)
    flag = "--teacher" if args.teachers is None else "--teachers"
    protect = [(path, f"a teacher ({flag})") for path in teacher_dirs]
    with _run_directory(args, strategy, protect) as run_dir:
        _announce(args, run_dir)
        teacher, split, spec = _load_teachers(teacher_dirs, _repointed(args))
        teachers = [teacher_identity.record(teacher_dirs[0], teacher)] + [
            teacher_identity.record(path, model_dir.load(path, split.train))
            for path in teacher_dirs[1:]]
        settings = {
            "command": "distill", "data": spec.record(split),
            "backbone": backbone.config(), "fit": dataclasses.asdict(fit),
            "method": args.method, "method_config": params,
            "teacher": teachers,
            "distribution": _distribution(args, strategy),
        }
        run_dir.begin(settings, _settings_differences)
        common = dict(params=params, output=run_dir.staging, verbose=args.verbose,
                      checkpoint_dir=run_dir.checkpoints, best_on_interrupt=run_dir.best,
                      strategy=strategy,
                      extra={**_run_info("distill"),
                             "teacher_dir": [entry["path"] for entry in settings["teacher"]]})
        with _run_outcome(run_dir):
            if args.method == "bd":
                _, _, result = distill_bidirectional(teacher, split, spec, backbone, fit,
                                                     **common)
            else:
                _, result = distill_hetcomp(teacher_dirs, split, spec, backbone, fit, **common)
        run_dir.commit()
    _print_metrics(f"test metrics ({args.output})", result["test"])
    if args.method == "bd":
        teacher_output = pathlib.Path(args.output) / TEACHER_DIRECTORY
        _print_metrics(f"test metrics of the co-trained teacher ({teacher_output})",
                       result["teacher"]["test"])


def _load_teachers(teacher_dirs, repointed):
    """(first teacher, split, data spec); every teacher's recorded data must be one split."""
    teacher, split, spec = load_teacher(teacher_dirs[0], **repointed)
    fingerprint = spec.record(split)["fingerprint"]["sha256"]
    for path in teacher_dirs[1:]:
        recorded = model_dir.describe(path)["data"].get("fingerprint", {}).get("sha256")
        if recorded != fingerprint:
            raise ValueError(f"--teachers: {path} was trained on other data than "
                             f"{teacher_dirs[0]} (split fingerprints differ): HetComp's teachers "
                             "must share one split.")
    return teacher, split, spec
