"""What each ``kdtfrs`` command does once its flags are parsed (``kdtfrs.cli`` parses them).

This module imports TensorFlow; ``kdtfrs.cli`` imports it only when a command runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import pathlib
import shlex
import sys
import time
import warnings

from kdtfrs import __version__, data, model_dir, teacher_identity, trajectory
from kdtfrs.atomic_files import write_json
from kdtfrs.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, cli_message
from kdtfrs.experiment import (BackboneSpec, distill_student, evaluate_split, load_teacher,
                               train_backbone)
from kdtfrs.fitting import FitConfig
from kdtfrs.provenance import DataSpec, load_verified
from kdtfrs.run_dir import RunDirectory
from kdtfrs.run_guards import NonFiniteLossError, RunInterrupted
from kdtfrs.strategy import chief_output, is_chief, make_strategy

_CSV_FLAGS = ("delimiter", "user_column", "item_column", "order_column", "header")
_SETTING_FLAGS = {
    "epochs": "--epochs", "batch_size": "--batch-size", "learning_rate": "--lr",
    "num_negatives": "--negatives", "patience": "--patience", "eval_every": "--eval-every",
    "seed": "--seed", "optimizer": "--optimizer", "stop_on": "--stop-on", "model": "--model",
    "dim": "--dim", "layers": "--layers", "l2": "--l2", "l2_form": "--l2-form", "loss": "--loss",
    "method": "--method",
    "method_config": "--param/--config", "teacher": "--teacher", "strategy": "--strategy",
}
# What a run recorded without a setting ran with: --strategy, --stop-on (runs made before
# they existed), --l2-form (its default is never written: BackboneSpec.config).
_UNRECORDED = {"distribution": {"strategy": "default", "replicas": 1},
               "fit": {"stop_on": "ndcg@20"}, "backbone": {"l2_form": "rows"}}


def run(args) -> int:
    """Runs the parsed command; returns the exit status (messages go to stderr)."""
    command = {"train": cmd_train, "distill": cmd_distill, "tune": cmd_tune,
               "evaluate": cmd_evaluate, "demo": cmd_demo, "pipeline": cmd_pipeline,
               "export": cmd_export}[args.command]
    prefix = f"kdtfrs {args.command}"
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # e.g. retracing notes
    with _warnings_as_messages(prefix):
        try:
            command(args)
        except RunInterrupted as interrupted:
            _report_interruption(prefix, args, interrupted)
            return EXIT_INTERRUPTED
        except KeyboardInterrupt:
            print(f"{prefix}: interrupted; nothing was saved.", file=sys.stderr)
            return EXIT_INTERRUPTED
        except NonFiniteLossError as error:
            print(f"{prefix}: error: {cli_message(str(error))} (--lr is "
                  f"{getattr(args, 'lr', '?')})", file=sys.stderr)
            return EXIT_FAILED
        except (data.DataError, FileNotFoundError, ValueError) as error:
            print(f"{prefix}: error: {cli_message(str(error))}", file=sys.stderr)
            return EXIT_USAGE
    return 0


# -- commands ---------------------------------------------------------------------------------
def cmd_train(args):
    strategy = _make_strategy(args)
    spec = DataSpec(args.dataset, args.data_dir, args.split, args.seed,
                    **{name: getattr(args, name) for name in _CSV_FLAGS})
    backbone, fit = _backbone_spec(args), _fit_config(args)
    with _run_directory(args, strategy) as run_dir:
        _announce(args, run_dir)
        split = spec.load()
        settings = {"command": "train", "data": spec.record(split),
                    "backbone": backbone.config(), "fit": dataclasses.asdict(fit),
                    "distribution": _distribution(args, strategy)}
        run_dir.begin(settings, _settings_differences)
        snapshots = _trajectory_snapshots(args, run_dir, spec, split)
        with _run_outcome(run_dir):
            _, result = train_backbone(spec, backbone, fit, run_dir.staging, args.verbose,
                                       split=split, checkpoint_dir=run_dir.checkpoints,
                                       best_on_interrupt=run_dir.best, extra=_run_info("train"),
                                       strategy=strategy, callbacks=snapshots)
        if snapshots and snapshots[0].directory.is_dir():
            snapshots[0].directory.rename(run_dir.staging / trajectory.DIRECTORY)
        run_dir.commit()
    _print_metrics(f"test metrics ({args.output})", result["test"])


def cmd_distill(args):
    from kdtfrs import tasks
    from kdtfrs.method_ids import SCHEMES

    if args.method in SCHEMES:
        from kdtfrs.scheme_commands import cmd_scheme

        return cmd_scheme(args)
    if args.teachers is not None:
        raise ValueError(f"--teachers is for --method hetcomp; --method {args.method} learns "
                         "from one teacher: give it with --teacher DIR.")
    strategy = _make_strategy(args)
    try:
        with strategy.scope():  # the tasks' variables and metrics, mirrored
            distillation = (tasks.build(args.method, **_parse_params(args))
                            if args.method != "scratch" else [])
    except (TypeError, ValueError) as error:
        raise ValueError(f"--method {args.method} --param/--config: {error}") from None
    backbone, fit = _backbone_spec(args), _fit_config(args)
    protect = [(args.teacher, "the teacher (--teacher)")]
    with _run_directory(args, strategy, protect) as run_dir:
        _announce(args, run_dir)
        teacher, split, spec = load_teacher(args.teacher, **_repointed(args))
        settings = {
            "command": "distill", "data": spec.record(split),
            "backbone": backbone.config(), "fit": dataclasses.asdict(fit),
            "method": args.method,
            "method_config": tasks.describe(distillation) if distillation else {},
            "teacher": teacher_identity.record(args.teacher, teacher),
            "distribution": _distribution(args, strategy),
        }
        run_dir.begin(settings, _settings_differences)
        with _run_outcome(run_dir):
            _, result = distill_student(
                teacher, split, spec, distillation, backbone, fit, run_dir.staging,
                verbose=args.verbose, checkpoint_dir=run_dir.checkpoints, method_id=args.method,
                best_on_interrupt=run_dir.best, strategy=strategy,
                extra={**_run_info("distill"), "teacher_dir": settings["teacher"]["path"]})
        run_dir.commit()
    _print_metrics(f"test metrics ({args.output})", result["test"])


def cmd_tune(args):
    from kdtfrs.tune_command import cmd_tune as run_sweep

    return run_sweep(args)


def cmd_evaluate(args):
    description = model_dir.describe(args.model_dir)
    split, _ = load_verified(description["data"], args.model_dir, **_repointed(args))
    model = model_dir.load(args.model_dir, split.train)
    reference = args.protocol == "reference" and args.on == "test"
    metrics = evaluate_split(model, split, args.on, tuple(args.ks), mask_valid=not reference)
    name = f"metrics-{args.on}{'-reference' if reference else ''}.json"
    out = write_json(pathlib.Path(args.model_dir) / name, metrics)
    _print_metrics(f"{args.on} metrics ({args.model_dir}), written to {out}", metrics)


def _search_options(args) -> dict:
    """The export's search options; --precision belongs to the exact search only."""
    if args.precision == "float32":
        return {}
    if args.search != "exact":
        raise ValueError(f"--precision {args.precision} applies to --search exact only; the "
                         f"{args.search} search scores its candidates in float32.")
    return {"precision": args.precision}


def cmd_export(args):
    from kdtfrs.serving import export_model_dir

    path = export_model_dir(args.model_dir, args.output, exclude_train=args.exclude_train,
                            data_overrides=_repointed(args), k=args.k, version=args.version,
                            overwrite=args.overwrite, search=args.search,
                            search_options=_search_options(args))
    print(f"kdtfrs export: wrote {path} (serve {pathlib.Path(args.output).absolute()}; "
          "docs/serving.md)")


def cmd_pipeline(args):
    from pipelines import commands as pipeline_commands  # TFX, imported only here

    action = {"run": pipeline_commands.cmd_run, "compile": pipeline_commands.cmd_compile}
    action[args.action](args, _parse_params(args))


def cmd_demo(args):
    from kdtfrs.demo import run_demo

    run_demo(args.output, epochs=args.epochs)


# -- helpers ----------------------------------------------------------------------------------
def _trajectory_snapshots(args, run_dir, spec, split) -> list:
    """``--keep-every N``: the callback keeping the model every N epochs in the work area
    (moved into the finished model directory at the end), or []."""
    if not args.keep_every:
        return []
    return [trajectory.TrajectorySnapshots(
        None, run_dir.work / trajectory.DIRECTORY, args.keep_every, spec.record(split),
        _run_info("train"), ids=(split.user_ids, split.item_ids))]


def _make_strategy(args):
    """``--strategy``'s strategy, made before anything else runs TensorFlow (a multi-worker
    strategy must be)."""
    return make_strategy(args.strategy)


@contextlib.contextmanager
def _run_directory(args, strategy, protect=()):
    """The run's ``RunDirectory``, open: ``--output`` on the chief (and in a one-process run);
    on another worker of a multi-worker run, a temporary folder (``chief_output``) that starts
    as the chief's run does: the same errors, and with ``--resume`` the chief's checkpoint."""
    with chief_output(args.output, strategy) as output:
        run_dir = RunDirectory(output, overwrite=args.overwrite, resume=args.resume,
                               protect=protect)
        if not is_chief(strategy):
            run_dir.follow(args.output)
        with run_dir:
            yield run_dir


def _distribution(args, strategy) -> dict:
    """The run's distribution, in run.json (a resumed run must train on as many replicas)."""
    return {"strategy": args.strategy, "replicas": int(strategy.num_replicas_in_sync)}


def _fit_config(args) -> FitConfig:
    return FitConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                     num_negatives=args.negatives, patience=args.patience,
                     eval_every=args.eval_every, seed=args.seed, optimizer=args.optimizer,
                     stop_on=args.stop_on)


def _backbone_spec(args) -> BackboneSpec:
    return BackboneSpec(args.model, args.dim, args.layers, args.l2, args.loss, args.l2_form)


def _repointed(args) -> dict:
    """The data flags given to distill/evaluate (None: keep what model.json recorded)."""
    return {name: getattr(args, name) for name in ("dataset", "data_dir", *_CSV_FLAGS)}


def _parse_params(args) -> dict:
    import yaml

    from kdtfrs import config_values

    params = {}
    if args.config:
        try:
            loaded = config_values.load(pathlib.Path(args.config).read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"--config {args.config}: cannot be read ({error}).") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"--config {args.config}: expected a mapping of hyperparameters, "
                             f"got {type(loaded).__name__}.")
        params.update(loaded)
    for item in args.param or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--param expects KEY=VALUE, got {item!r}.")
        try:
            params[key.replace("-", "_")] = config_values.load(value)
        except yaml.YAMLError as error:
            raise ValueError(f"--param {item!r}: the value is not YAML ({error}).") from None
    return params


def _run_info(command) -> dict:
    return {"run": {"command": command, "kdtfrs": __version__,
                    "finished": time.strftime("%Y-%m-%d %H:%M:%S")}}


def _announce(args, run_dir) -> None:
    if run_dir.resuming:
        print(f"kdtfrs {args.command}: resuming the interrupted run in {run_dir.work}",
              file=sys.stderr)
    elif args.resume:
        print(f"kdtfrs {args.command}: no interrupted run in {run_dir.work}; starting a new "
              "one", file=sys.stderr)


@contextlib.contextmanager
def _run_outcome(run_dir):
    """Discards the work area of a run that diverged (resuming it would diverge again)."""
    try:
        yield
    except NonFiniteLossError:
        run_dir.discard()
        raise


def _settings_differences(recorded: dict, current: dict) -> list[str]:
    differences = []
    if recorded.get("command") != current.get("command"):
        return [f"it was started by `kdtfrs {recorded.get('command')}`"]
    recorded_data = recorded.get("data", {})
    data_changes = data.fingerprint_differences(recorded_data.get("fingerprint", {}),
                                                current["data"]["fingerprint"])
    if data_changes:  # the same pairs from another path are the same data
        differences.append(f"the data differ from {DataSpec.from_record(recorded_data).describe()}"
                           f" ({', '.join(data_changes)})")
    for section in ("backbone", "fit", "distribution"):
        unrecorded = _UNRECORDED.get(section, {})
        before = {**unrecorded, **recorded.get(section, {})}
        now = {**unrecorded, **current.get(section, {})}
        for key in sorted(set(before) | set(now)):
            if before.get(key) != now.get(key):
                flag = _SETTING_FLAGS.get(key, key)
                differences.append(f"{flag} was {before.get(key)}, now {now.get(key)}")
    for key in ("method", "method_config"):
        if recorded.get(key) != current.get(key):
            differences.append(f"{_SETTING_FLAGS[key]} differs")
    if not teacher_identity.same(recorded.get("teacher"), current.get("teacher")):
        differences.append(f"{_SETTING_FLAGS['teacher']} differs (other weights)")
    return differences


def _report_interruption(prefix, args, interrupted) -> None:
    cause = interrupted.signal_name or "interrupted"
    lines = [f"{prefix}: {cause}: stopped after {interrupted.epochs_done} finished "
             f"epoch{'s' if interrupted.epochs_done != 1 else ''}."]
    if interrupted.saved_to is not None:
        best = (f"epoch {interrupted.best_epoch}, validation NDCG@20 "
                f"{interrupted.best_score:.4f}" if interrupted.best_epoch else
                f"after epoch {interrupted.epochs_done}")
        lines.append(f"  the best model so far ({best}) is in {interrupted.saved_to}")
    if args.command == "tune":  # finished trials are recorded; a rerun continues the sweep
        lines.append(f"  finished trials are in {pathlib.Path(args.output) / 'trials.json'}; "
                     f"continue with: kdtfrs {shlex.join(args.argv)}")
    elif interrupted.epochs_done:
        argv = [arg for arg in args.argv if arg != "--resume"]
        lines.append(f"  resume with: kdtfrs {shlex.join(argv)} --resume")
    else:
        lines.append("  no epoch had finished: nothing was saved.")
    print("\n".join(lines), file=sys.stderr)


@contextlib.contextmanager
def _warnings_as_messages(prefix):
    """Shows kdtfrs' own warnings as ``kdtfrs CMD: warning: ...``; hides the libraries'."""
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if "kdtfrs" in pathlib.Path(filename).parts:
            print(f"{prefix}: warning: {cli_message(str(message))}", file=sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = original


def _print_metrics(title, metrics):
    print(f"\n{title}")
    for key in sorted(metrics):
        if "/" not in key:
            print(f"  {key:>12}: {metrics[key]:.4f}")
