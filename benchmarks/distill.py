"""Teacher vs scratch student vs every ranking-distillation method, same protocol.

    python benchmarks/distill.py --datasets citeulike-t --seeds 0            # one seed
    python benchmarks/distill.py                                             # full sweep
    python benchmarks/distill.py --datasets citeulike-t --methods           # scratch only

Per dataset: a BPR-MF teacher (400-d on CiteULike-t, 300-d on Gowalla, METHODS.md 1.4) is
trained once (seed 0) and kept under --work; then, per seed, a 20-d BPR-MF student from
scratch and one per method, all with the same optimiser, epochs and early stopping on
validation NDCG@20 (Gowalla's given split has no validation part: the epochs and l2 chosen by
benchmarks/tune.py on held-out training pairs). Test metrics mask training (and validation)
items; beside them, Recall@20 on the 1% most popular items and on the others
(benchmarks/popularity.py; records made before 2026-12-04 lack it). Records go to
benchmarks/results/distill.json, one per dataset x method x seed; finished records are
skipped, and a run in progress resumes from its checkpoint. A record or checkpoint made with
other settings (e.g. a retuned weight), or a teacher under --work trained with other settings,
stops the run with what to move aside, so results of two settings never mix. Each record keeps
the settings of the teacher its table is made against (``teacher_config``) and that teacher's
weights digest (``teacher_weights``, ``kdtfrs.teacher_identity``), so a record made against
another teacher stops it too, and so does a teacher under --work whose weights are not those of
the table's teacher record.
``python benchmarks/report.py`` turns the records into docs/benchmarks.md.

The schemes beyond one frozen teacher (``SCHEMES``) run under the same protocol and seeds:

- ``bd``: Bidirectional Distillation from a copy of the teacher above (paper's rank
  direction); each run writes two records: ``bd`` (the student) and ``bd_teacher`` (the
  co-trained teacher, at the epoch early stopping chose for the student). ``bd_notebook``
  (the reference notebook's direction) and ``bd_alone`` (both weights 0: each model trained
  alone on the same schedule, the control for "both improve") write theirs alike.
- ``hetcomp``: HetComp from the dataset's heterogeneous teachers (``hetcomp_teachers``,
  trained once with their trajectories, ``--keep-every``; each recorded as
  ``hetcomp_teacher_<model>-<dim>``, seed 0), and once ``hetcomp_ensemble`` (seed 0): the
  teachers' ensemble as a recommender, to compare the student with.

A variant of a method's settings (``--param METHOD:KEY=VALUE``, e.g. the fidelity option
``rrd:per_unique_user=true``) or of every student's (``--student KEY=VALUE``: the learning
rate, epochs, l2, batch size, patience...) goes to its own results file (``--results``): its
records keep the changed config, a file's records never mix two settings, and the students'
resumable state of a results file other than distill.json lives apart, under
``--work/<dataset>/<results file's stem>/``, so a variant never meets the main sweep's state.

``teacher``: the teacher retrained with each seed other than 0 (records ``teacher``, seed
1, 2, ...; kept apart under --work, never distilled from): its own seed noise, shown in the
report's teacher row. Students always distil from seed 0's, and gaps are against it.

``scratch_tuned``: the scratch student with the learning rate and L2 that ``kdtfrs tune``
chose on validation (``SETTINGS[dataset]["scratch_tuned"]``, the sweep in
benchmarks/results/tune-<dataset>-scratch/), the baseline tuned as hard as the methods; on
data without a validation part also its number of epochs (the best one on the held-out pairs).
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.arguments import benchmark_parser  # noqa: E402
from benchmarks.popularity import SLICES, sliced_recall  # noqa: E402
from benchmarks.records import (TEACHER_WEIGHTS, ResultsFile, claim_checkpoint,  # noqa: E402
                                other_teacher_error, plain, release_checkpoint,
                                stale_record_error)
from kdtfrs import config_values, tasks, model_dir, teacher_identity, trajectory  # noqa: E402
from kdtfrs.evaluation import evaluate_lists  # noqa: E402
from kdtfrs.experiment import (BackboneSpec, DataSpec, distill_student,  # noqa: E402
                               evaluate_split, train_backbone)
from kdtfrs.fitting import FitConfig  # noqa: E402
from kdtfrs.hetcomp import ensemble_top_items  # noqa: E402
from kdtfrs.schemes import distill_bidirectional, distill_hetcomp  # noqa: E402
from kdtfrs.signals import TeacherSignals  # noqa: E402

METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
SCHEMES = ("bd", "bd_notebook", "bd_alone", "hetcomp")
TUNED_SCRATCH = "scratch_tuned"
TEACHER_SEEDS = "teacher"
DEFAULT_RESULTS_STEM = "distill"
ALL_METHODS = (TEACHER_SEEDS,) + tasks.method_ids() + SCHEMES + (TUNED_SCRATCH,)

# Teacher size and per-dataset settings (METHODS.md 1.4; KDs configs where they differ).
SETTINGS = {
    "citeulike-t": {
        # L2 tuned on validation NDCG@20 over {1e-3, 1e-2, 3e-2, 1e-1} (teacher) and
        # {1e-3, 1e-2} (student): 1e-2 for both. Patience 20: with 5, validation noise
        # stopped the scratch student at 12-16 epochs on two seeds of three (test NDCG@20
        # 0.0104 +- 0.0025, results/distill-patience5.json; 0.0130 +- 0.0004 with 20).
        "teacher": BackboneSpec("bpr_mf", 400, l2=1e-2),
        "student": BackboneSpec("bpr_mf", 20, l2=1e-2),
        "teacher_fit": FitConfig(epochs=200, batch_size=2048, learning_rate=5e-3, patience=20),
        "student_fit": FitConfig(epochs=200, batch_size=2048, learning_rate=5e-3, patience=20),
        # Weights chosen on validation NDCG@20 (benchmarks/tune_weights.py, seed 0).
        "params": {
            "unkd": {"weight": 0.05},
            # RCE-KD: the weight sweep (results/tune-citeulike-t-methods/) put 5 first (0.0449
            # against 0.0440 at the class default 500; flat over 5-5,000). The rows at 500 are
            # results/distill-rce-kd-weight500.json.
            "rce_kd": {"weight": 5.0},
            # DCD: the sweep put 0.001 first (0.0455 against 0.0402 at the class default
            # 0.01 and 0.0353 at 0.1). The rows at 0.01 are results/distill-dcd-weight0.01.json.
            "dcd": {"weight": 0.001},
            # RRD: the sweep's curve is flat (0.0422 / 0.0441 / 0.0445 / 0.0447 at 0.01 / 0.1 /
            # 1 / 10); the protocol takes its best, 10. The rows at the class default 0.1 are
            # results/distill-rrd-weight0.1.json.
            "rrd": {"weight": 10.0},
            # HTD: the TD repository's λ and α, not KDs' (0.5, 0.9). On the first batch of an
            # untrained student the HTD term at weight 1 is 75 against BPR's 0.69 (FTD's 1095,
            # run at 0.001; benchmarks/loss_scale.py), so KDs' 0.5 made it 54x the student's
            # own loss and the student fell to half the scratch level
            # (results/distill-htd-kds.json: 0.0064).
            "htd": {"weight": 0.001, "alpha": 0.5},
        },
        # The scratch student's lr and l2 as a ONE-seed `kdtfrs tune` chose them on
        # validation NDCG@20 (lr {1, 2, 5, 10, 20}e-3 x l2 {1, 3, 10, 30}e-3, seed 0,
        # patience 20: results/tune-citeulike-t-scratch/; 0.0351 against 0.0326 at the
        # settings above). A 3 x 2 grid around its leaders on seeds 0-2, ranked by their mean
        # (results/tune-citeulike-t-scratch-seeds/), put the settings above first (0.0346 ±
        # 0.0017; this one 0.0315 ± 0.0036): the scratch row runs the tuned setting, and this
        # row shows what a one-seed sweep picks.
        "scratch_tuned": {"learning_rate": 2e-3, "l2": 3e-2},
        # BD: the paper's weights, temperatures and rank scales (the class defaults). Each
        # model alone for 2 epochs (the student's ranking drives the teacher's draws), ranks
        # refreshed every 2 epochs: the scratch student peaks at epoch 8 here, so the paper's
        # 10 and 10 left BD no epoch to act in (results/distill-bd-warmup10.json: every BD
        # variant stopped at its warm-up's epoch 8, equal to bd_alone).
        "bd": {"warmup_epochs": 2, "refresh_every": 2},
        # HetComp: KDs citeulike/bpr values (the class defaults: weight 0.005, K 50, 4
        # checkpoints); DKC every 5 epochs, as our students stop within 30-150 epochs.
        "hetcomp": {"dkc_every": 5},
        "hetcomp_teachers": (
            (BackboneSpec("bpr_mf", 400, l2=1e-2), "teacher_fit"),
            (BackboneSpec("bpr_mf", 100, l2=1e-2), "teacher_fit"),
            (BackboneSpec("lightgcn", 128, layers=3, l2=1e-3), "teacher_fit"),
            (BackboneSpec("lightgcn", 64, layers=3, l2=1e-3), "teacher_fit"),
        ),
        "keep_every": 5,
    },
    "gowalla": {
        # Chosen on 10% of the training pairs held out, then trained on all of them for the
        # epoch count that peaked there (benchmarks/tune.py, records in results/tuning.json).
        # Teacher: l2 1e-3 (1e-4 overfits, 1e-2 underfits), lr 2e-3: 0.0978 held-out NDCG@20
        # at epoch 90, against 0.0868 at lr 5e-3. Student: `kdtfrs tune` (seed 0,
        # results/tune-gowalla-scratch{,-long}/): lr 2e-3, l2 1e-5, 0.0731 at epoch 88
        # (lr 1e-3: 0.0733 at 186; lr 5e-3: 0.0682 at 34; l2 1e-4 ties with 1e-5).
        # Until 2026-12-05 both ran lr 5e-3 (teacher 90 epochs, students l2 1e-4 for 25):
        # that table is results/distill-gowalla-lr5e-3.json.
        "teacher": BackboneSpec("bpr_mf", 300, l2=1e-3),
        "student": BackboneSpec("bpr_mf", 20, l2=1e-5),
        "teacher_fit": FitConfig(epochs=90, batch_size=4096, learning_rate=2e-3),
        "student_fit": FitConfig(epochs=88, batch_size=4096, learning_rate=2e-3),
        # KDs gowalla/bpr values where they differ from the CiteULike defaults, except
        # BlackD's weight: chosen on the held-out pairs at the first protocol's fit
        # (benchmarks/tune_weights.py, seed 0; 0.0725 at 0.05 against 0.0715 at KDs' 0.5,
        # 0.0645 at 0.005, scratch 0.0673).
        "params": {
            # Targets drawn once per epoch and user, as KDs draws them: on CiteULike-t's three
            # seeds as good as per step or better for these seven (RRD 2% lower), at a half
            # to a fifth of Gowalla's profiled per-step cost (benchmarks/notes.md, "Targets
            # drawn once per epoch"). CD, KD and RCE-KD keep the per-step draws they ran with.
            **{method: {"draw_every": "epoch"} for method in ("rd", "sld", "dcd")},
            # Weights chosen on the held-out pairs (results/tune-gowalla-methods, seed 0; the
            # scratch student 0.0731): MSE 0.0743 at 1e-4, 0.0740 at 1e-3, 0.0685 at its
            # default 0.01; BCE 0.0735 at 1e-3, 0.0713 at 0.01, 0.0682 at its default 0.1;
            # UnKD 0.0729 at 0.05, 0.0723 at 0.005, 0.0716 at KDs' 0.5. MSE's and BCE's best
            # lie at the grid's low end, within 0.0012 of scratch.
            "mse": {"weight": 1e-4, "draw_every": "epoch"},
            "bce": {"weight": 1e-3, "draw_every": "epoch"},
            "unkd": {"weight": 0.05, "draw_every": "epoch"},
            "rrd": {"weight": 0.005, "temperature": 100.0, "draw_every": "epoch"},
            "rce_kd": {"weight": 10.0, "num_top": 100, "num_closure": 50, "max_rank": 150,
                       "beta": 5.0},
            "blackd": {"weight": 0.05},
            # DCD: swept on the held-out pairs with the tuned scratch student's whole-table
            # decay (results/tune-gowalla-dcd-l2-1e-07-l2_form-tables, seed 0; its scratch
            # 0.0774): 0.0839 at 1e-4, 0.0693 at 1e-3. At the class default 0.01 its test
            # NDCG@20 fell to 0.0860 against the decayed scratch's 0.1149 on seed 0
            # (results/distill-gowalla-dcd-weight0.01.json).
            "dcd": {"weight": 1e-4, "draw_every": "epoch"},
            # DE and PCKD: KDs gowalla/bpr (METHODS.md 2.1): 5 experts, not CiteULike's 30
            # (a sixth of the projector's arithmetic), λ 0.005; PCKD α 0.5, Q 10, τ 0.01.
            # DE-RRD's DE part as DE's; its RRD part keeps the DE-RRD repository's values.
            "de": {"weight": 0.005, "num_experts": 5},
            **{method: {"weight": 0.005, "num_experts": 5, "alpha": 0.5, "num_samples": 10,
                        "tau": 0.01} for method in ("pckd_pair", "pckd_list", "pckd_hybrid")},
            "de_rrd": {"de_weight": 0.005, "num_experts": 5},
            # HTD: CiteULike-t's values (KDs' gowalla/bpr keeps α 0.5 and no λ); FTD its
            # default 0.001 there too. At weight 1 their terms are 84x and 2,622x BPR's on
            # Gowalla's first batch against 109x and 1,579x on CiteULike-t's
            # (benchmarks/loss_scale.py), the same order, so the same λ. Its experts in
            # bfloat16: with float32 ones a run needs at least 3.35 h (692 ms profiled step x
            # 198 x 88), more than a session here, so it could never be recorded; 2.16 h with
            # bfloat16 (benchmarks/notes.md). The table labels the row.
            "htd": {"weight": 0.001, "alpha": 0.5, "expert_dtype": "bfloat16"},
        },
        "bd": {"warmup_epochs": 5, "refresh_every": 10},
        "hetcomp": {"dkc_every": 5},  # as on CiteULike-t: DKC at 5, 10, ..., 85 of 88
        # LightGCN: benchmarks/backbones.py's Gowalla settings (70 epochs, no validation).
        "lightgcn_fit": FitConfig(epochs=70, batch_size=16384, learning_rate=1e-2),
        "hetcomp_teachers": (
            (BackboneSpec("bpr_mf", 300, l2=1e-3), "teacher_fit"),
            (BackboneSpec("bpr_mf", 64, l2=1e-3), "teacher_fit"),
            (BackboneSpec("lightgcn", 64, layers=3, l2=1e-4), "lightgcn_fit"),
            (BackboneSpec("lightgcn", 128, layers=3, l2=1e-4), "lightgcn_fit"),
        ),
        "keep_every": 10,
    },
}


def build_method(settings, method_id):
    """The tasks of ``method_id`` with this dataset's settings; [] for the scratch student."""
    if method_id == "scratch":
        return []
    return tasks.build(method_id, **settings["params"].get(method_id, {}))


def method_config(distillation):
    """The config a record keeps of a list of tasks ({} for scratch)."""
    return plain(tasks.describe(distillation)) if distillation else {}


def teacher_dir(work, dataset):
    return pathlib.Path(work) / dataset / "teacher"


def record_of(dataset, method, seed, result, teacher_name, teacher_config, teacher_weights,
              student_dim, seconds):
    """A results record; ``teacher_config`` and ``teacher_weights`` are the settings and the
    weights digest of the teacher(s) of the table the record belongs to (``protocol_teacher``,
    ``hetcomp_teacher_configs``; a list for several teachers)."""
    metrics = result["test"]
    training = result["training"]
    return {
        "dataset": dataset, "method": method, "teacher": teacher_name,
        "teacher_config": teacher_config, TEACHER_WEIGHTS: teacher_weights,
        "student_dim": student_dim, "seed": seed,
        **{metric: metrics[metric] for metric in METRICS},
        **{name: metrics[name] for name in SLICES if name in metrics},
        "seconds_per_epoch": training["seconds_per_epoch"],
        "refresh_seconds": training["refresh_seconds"],
        "epochs": training["epochs"],
        # wall_seconds: this process's run, a resumed run's last process only;
        # training_seconds: every epoch's training, refresh and evaluation, resumes included.
        "wall_seconds": round(seconds, 1),
        "training_seconds": round(training["training_seconds"], 1),
        # The early-stopping metric (None on Gowalla, which has no validation part).
        "best_val_ndcg@20": training.get("best_val_ndcg@20"),
        "best_epoch": training.get("best_epoch"),
        "config": result.get("method_config", {}),
    }


def train_student(teacher, split, data_spec, signals, method_id, distillation, student, fit,
                  checkpoint, verbose):
    """Distils with the tasks ``distillation`` (or, with none, trains) one student, resuming
    from ``checkpoint``.

    The directory is claimed for this exact run (``claim_checkpoint``), so the state of a run
    with other settings is never resumed, and released when the run ends (its record, which
    the caller writes, guards it from then on). Returns ``distill_student``'s result.
    """
    claim_checkpoint(checkpoint, {"method": method_id, "config": method_config(distillation),
                                  "student": student.config(),
                                  "fit": dataclasses.asdict(fit)})
    model, result = distill_student(teacher, split, data_spec, distillation, student, fit,
                                    verbose=verbose, signals=signals,
                                    checkpoint_dir=checkpoint, method_id=method_id)
    release_checkpoint(checkpoint)
    return with_slices(result, model, split)


def with_slices(result, model, split):
    """``result`` with ``model``'s test recall per popularity slice (benchmarks/popularity.py)
    beside its test metrics."""
    return {**result, "test": {**result["test"], **sliced_recall(model, split)}}


def teacher_run_config(spec, fit) -> dict:
    """What a teacher's state directory is claimed for (``claim_checkpoint``)."""
    return plain({"method": "teacher", "teacher": spec.config(),
                  "fit": dataclasses.asdict(fit)})


def protocol_teacher(settings) -> dict:
    """The settings of the seed-0 teacher every record of a dataset's table is made against
    (its students distil from it, and gaps are against it): kept in each record, so the
    results file itself tells two teachers' tables apart."""
    return teacher_run_config(settings["teacher"], settings["teacher_fit"])


def hetcomp_teacher_configs(settings) -> list:
    """The settings of HetComp's teachers, what HetComp's records are made against."""
    return [teacher_run_config(spec, settings[fit_name])
            for spec, fit_name in settings["hetcomp_teachers"]]


def get_teacher(dataset, settings, work, results, verbose):
    """The dataset's seed-0 teacher under ``work`` (trained and recorded when missing), its
    split, DataSpec and name; stops the run if it is not the teacher of the results file's
    teacher record (``check_teacher``), before anything is written."""
    data_spec = DataSpec(dataset)
    split = data_spec.load()
    spec = settings["teacher"]
    name = f"{spec.model}-{spec.dim}"
    path = teacher_dir(work, dataset)
    # Claimed even when the teacher is trained: one trained with other settings stops the run.
    checkpoint = claim_checkpoint(pathlib.Path(work) / dataset / "teacher-state",
                                  protocol_teacher(settings))
    trained = None  # (result, seconds) of a teacher trained now
    if not (path / model_dir.MODEL_FILE).exists():
        start = time.perf_counter()
        model, result = train_backbone(
            data_spec, spec, settings["teacher_fit"], path, verbose=verbose, split=split,
            checkpoint_dir=checkpoint)
        trained = with_slices(result, model, split), time.perf_counter() - start
    teacher = model_dir.load(path, split.train)
    digest = teacher_identity.weights_digest(teacher)
    recorded = results.get(dataset=dataset, method="teacher", seed=0)
    if recorded is not None:  # a record without the weights is checked by its metrics
        check_teacher(results.path, recorded, path, digest,
                      None if TEACHER_WEIGHTS in recorded
                      else trained[0]["test"] if trained
                      else evaluate_split(teacher, split, ks=(10, 20)))
    if trained is not None:
        results.add(record_of(dataset, "teacher", 0, trained[0], name,
                              protocol_teacher(settings), digest, spec.dim, trained[1]))
    elif recorded is not None and TEACHER_WEIGHTS not in recorded:
        results.add({**recorded, TEACHER_WEIGHTS: digest})  # known from now on by its weights
    return teacher, split, data_spec, name


def check_teacher(results_path, recorded, path, digest, metrics):
    """Stops the run unless the teacher at ``path`` is the one of the teacher record
    ``recorded``: the same weights (``digest``), or for a record made before records kept
    them, the same test ``metrics`` (to 1e-6; None when the record has the weights)."""
    if TEACHER_WEIGHTS in recorded:
        if recorded[TEACHER_WEIGHTS] == digest:
            return
        found = (f"weights sha256 {digest[:12]}…, not the record's "
                 f"{recorded[TEACHER_WEIGHTS][:12]}…")
    else:
        differing = [metric for metric in METRICS
                     if not math.isclose(metrics[metric], recorded[metric], rel_tol=1e-6)]
        if not differing:
            return
        found = ", ".join(f"{metric} {metrics[metric]:.6f}, not the record's "
                          f"{recorded[metric]:.6f}" for metric in differing)
    raise SystemExit(
        f"{path} is not the teacher of {results_path}'s {recorded['dataset']} table: its "
        f"{found}. Its students' records would mix two teachers. Put the table's teacher "
        "back at that path, or move that dataset's records to another file (e.g. "
        "results/distill-superseded.json) to make the table again with this teacher; the "
        "results file is unchanged.")


def with_params(settings, overrides):
    """``settings`` with ``overrides`` ({method: {key: value}}) merged into its params."""
    params = {method: dict(values) for method, values in settings["params"].items()}
    for method, values in overrides.items():
        params[method] = {**params.get(method, {}), **values}
    return {**settings, "params": params}


#: ``--student`` keys: FitConfig's optimisation fields, and the student backbone's L2.
BACKBONE_KEYS = ("l2", "l2_form")
STUDENT_KEYS = ("learning_rate", "epochs", "batch_size", "patience", "eval_every",
                "num_negatives", "optimizer", "stop_on", *BACKBONE_KEYS)


def parse_student(text) -> tuple:
    """``KEY=VALUE`` of ``--student`` as (key, value), the value read as kdtfrs's CLI does."""
    key, equals, value = text.partition("=")
    key = key.replace("-", "_")
    if not equals or key not in STUDENT_KEYS:
        raise SystemExit(f"--student {text!r}: expected KEY=VALUE with a key of "
                         f"{', '.join(STUDENT_KEYS)}, e.g. learning_rate=0.002")
    return key, config_values.load(value)


def with_student(settings, overrides):
    """``settings`` with every student's backbone L2 and fit changed by ``overrides``."""
    if not overrides:
        return settings
    fit = {key: value for key, value in overrides.items() if key not in BACKBONE_KEYS}
    student = dataclasses.replace(settings["student"], **{
        key: value for key, value in overrides.items() if key in BACKBONE_KEYS})
    return {**settings, "student": student,
            "student_fit": dataclasses.replace(settings["student_fit"], **fit)}


def with_student_config(config, args):
    """A record's ``config`` with the run's ``--student`` overrides, when it has any."""
    return {**config, "student": args.student_overrides} if args.student_overrides else config


def state_dir(args, dataset, name) -> pathlib.Path:
    """Where a student run ``name`` keeps its resumable state (module docstring)."""
    work = pathlib.Path(args.work) / dataset
    stem = pathlib.Path(args.results).stem
    return work / name if stem == DEFAULT_RESULTS_STEM else work / stem / name


def parse_param(text) -> tuple:
    """``METHOD:KEY=VALUE`` as (method, key, value), the value read as kdtfrs's CLI does."""
    method, colon, rest = text.partition(":")
    key, equals, value = rest.partition("=")
    if not (colon and equals and method and key) or method not in tasks.method_ids():
        raise SystemExit(f"--param {text!r}: expected METHOD:KEY=VALUE with a method of "
                         f"{', '.join(tasks.method_ids())}, e.g. rrd:per_unique_user=true")
    return method, key.replace("-", "_"), config_values.load(value)


def run(args):
    results = ResultsFile(args.results, ("dataset", "method", "seed"))
    overrides = {}
    for method, key, value in map(parse_param, args.param):
        overrides.setdefault(method, {})[key] = value
    args.student_overrides = dict(map(parse_student, args.student))
    for dataset in args.datasets:  # a bad --param or --student stops the run now, not later
        for method in overrides:
            try:
                build_method(with_params(SETTINGS[dataset], overrides), method)
            except (TypeError, ValueError) as error:
                raise SystemExit(f"--param for {method} on {dataset}: {error}") from None
        try:
            with_student(SETTINGS[dataset], args.student_overrides)
        except (TypeError, ValueError) as error:
            raise SystemExit(f"--student on {dataset}: {error}") from None
    for dataset in args.datasets:
        settings = with_student(with_params(SETTINGS[dataset], overrides),
                                args.student_overrides)
        teacher, split, data_spec, teacher_name = get_teacher(
            dataset, settings, args.work, results, args.verbose)
        signals = TeacherSignals(teacher, split.train)
        weights = teacher_identity.weights_digest(teacher)
        student = settings["student"]
        for seed in args.seeds:
            for method_id in ["scratch", *args.methods]:
                if method_id == TEACHER_SEEDS:
                    run_teacher_seed(dataset, settings, seed, data_spec, split, weights, args,
                                     results)
                    continue
                if method_id == TUNED_SCRATCH:
                    run_tuned_scratch(dataset, settings, seed, teacher, split, data_spec,
                                      signals, teacher_name, weights, args, results)
                    continue
                if method_id in SCHEMES:
                    run_scheme(dataset, settings, method_id, seed, teacher, split, data_spec,
                               teacher_name, weights, args, results)
                    continue
                distillation = build_method(settings, method_id)
                config = with_student_config(method_config(distillation), args)
                if recorded(results, dataset, method_id, seed, config, settings, weights):
                    continue
                fit = dataclasses.replace(settings["student_fit"], seed=seed)
                print(f"== {dataset} {method_id} seed {seed}", flush=True)
                start = time.perf_counter()
                result = train_student(teacher, split, data_spec, signals, method_id,
                                       distillation, student, fit,
                                       state_dir(args, dataset, f"{method_id}-{seed}"),
                                       args.verbose)
                results.add({**record_of(dataset, method_id, seed, result, teacher_name,
                                         protocol_teacher(settings), weights, student.dim,
                                         time.perf_counter() - start),
                             "config": config})


def recorded(results, dataset, method, seed, config, settings, teacher_weights,
             teacher_config=None) -> bool:
    """Whether this run is recorded; stops the sweep if its record has other settings or was
    made against another teacher (``teacher_config``, by default ``protocol_teacher``; or,
    where the record keeps them, other ``teacher_weights``)."""
    record = results.get(dataset=dataset, method=method, seed=seed)
    if record is None:
        return False
    if record["config"] != config:
        raise SystemExit(stale_record_error(results.path, record, config))
    teacher_config = protocol_teacher(settings) if teacher_config is None else teacher_config
    if record.get("teacher_config") != teacher_config:
        raise SystemExit(other_teacher_error(results.path, record, teacher_config))
    if record.get(TEACHER_WEIGHTS, teacher_weights) != teacher_weights:
        raise SystemExit(other_teacher_error(results.path, record, teacher_config,
                                             teacher_weights))
    return True


def run_teacher_seed(dataset, settings, seed, data_spec, split, weights, args, results):
    """The teacher retrained with ``seed`` (module docstring); seed 0 is the one distilled
    from, trained by ``get_teacher``. Skipped when recorded."""
    if seed == 0 or recorded(results, dataset, "teacher", seed, {}, settings, weights):
        return
    spec = settings["teacher"]
    work = pathlib.Path(args.work) / dataset
    fit = dataclasses.replace(settings["teacher_fit"], seed=seed)
    checkpoint = claim_checkpoint(work / f"teacher-{seed}-state", teacher_run_config(spec, fit))
    print(f"== {dataset} teacher seed {seed}", flush=True)
    start = time.perf_counter()
    model, result = train_backbone(data_spec, spec, fit, work / f"teacher-{seed}",
                                   verbose=args.verbose, split=split, checkpoint_dir=checkpoint)
    results.add(record_of(dataset, "teacher", seed, with_slices(result, model, split),
                          f"{spec.model}-{spec.dim}", protocol_teacher(settings), weights,
                          spec.dim, time.perf_counter() - start))


def run_tuned_scratch(dataset, settings, seed, teacher, split, data_spec, signals,
                      teacher_name, weights, args, results):
    """One seed of ``scratch_tuned`` (module docstring); skipped when recorded or untuned."""
    tuned = settings.get(TUNED_SCRATCH)
    if tuned is None:
        print(f"== {dataset} {TUNED_SCRATCH}: not tuned for this dataset yet, skipped",
              flush=True)
        return
    config = with_student_config(plain(tuned), args)
    if recorded(results, dataset, TUNED_SCRATCH, seed, config, settings, weights):
        return
    student = dataclasses.replace(settings["student"], l2=tuned["l2"])
    fit = dataclasses.replace(settings["student_fit"], seed=seed,
                              learning_rate=tuned["learning_rate"],
                              epochs=tuned.get("epochs", settings["student_fit"].epochs))
    print(f"== {dataset} {TUNED_SCRATCH} seed {seed}", flush=True)
    start = time.perf_counter()
    result = train_student(teacher, split, data_spec, signals, TUNED_SCRATCH, [], student, fit,
                           state_dir(args, dataset, f"{TUNED_SCRATCH}-{seed}"),
                           args.verbose)
    results.add({**record_of(dataset, TUNED_SCRATCH, seed, result, teacher_name,
                             protocol_teacher(settings), weights, student.dim,
                             time.perf_counter() - start), "config": config})


def scheme_params(settings, scheme):
    """The hyperparameters of a scheme run: BD's three variants, HetComp's."""
    if scheme == "hetcomp":
        return dict(settings["hetcomp"])
    variant = {"bd": {}, "bd_notebook": {"rank_direction": "notebook"},
               "bd_alone": {"teacher_weight": 0.0, "student_weight": 0.0}}[scheme]
    return {**settings["bd"], **variant}


def run_scheme(dataset, settings, scheme, seed, teacher, split, data_spec, teacher_name,
               weights, args, results):
    """One seed of a scheme (module docstring), resumable; skipped when recorded. ``weights``:
    the digest of ``teacher``; HetComp's records keep those of its own teachers."""
    params = scheme_params(settings, scheme)
    teachers = hetcomp_teachers(dataset, settings, args, results) if scheme == "hetcomp" else []
    config = with_student_config(plain(
        {**params, "teachers": [path.name for path in teachers]} if teachers else params), args)
    if scheme == "hetcomp":
        teacher_config = hetcomp_teacher_configs(settings)
        weights = [teacher_identity.weights_digest(model_dir.load(path, split.train))
                   for path in teachers]
    else:
        teacher_config = protocol_teacher(settings)
    if recorded(results, dataset, scheme, seed, config, settings, weights, teacher_config):
        return
    student = settings["student"]
    fit = dataclasses.replace(settings["student_fit"], seed=seed)
    checkpoint = claim_checkpoint(state_dir(args, dataset, f"{scheme}-{seed}"), {
        "method": scheme, "config": config, "student": student.config(),
        "fit": dataclasses.asdict(fit)})
    print(f"== {dataset} {scheme} seed {seed}", flush=True)
    start = time.perf_counter()
    if scheme == "hetcomp":
        distilled, result = distill_hetcomp(teachers, split, data_spec, student, fit, params,
                                            verbose=args.verbose, checkpoint_dir=checkpoint)
    else:
        co_trained, distilled, result = distill_bidirectional(
            teacher, split, data_spec, student, fit, params, verbose=args.verbose,
            checkpoint_dir=checkpoint)
        teacher_result = with_slices({**result, "test": result["teacher"]["test"]},
                                     co_trained, split)
        results.add({**record_of(dataset, f"{scheme}_teacher", seed, teacher_result,
                                 teacher_name, teacher_config, weights,
                                 co_trained.embedding_dim,
                                 time.perf_counter() - start), "config": config})
    label = "+".join(path.name for path in teachers) if teachers else teacher_name
    results.add({**record_of(dataset, scheme, seed, with_slices(result, distilled, split),
                             label, teacher_config, weights, student.dim,
                             time.perf_counter() - start),
                 "config": config})
    if scheme == "hetcomp" and not results.has(dataset=dataset, method="hetcomp_ensemble",
                                               seed=0):
        results.add(ensemble_record(dataset, teachers, split, config, teacher_config, weights))
    release_checkpoint(checkpoint)


def hetcomp_teachers(dataset, settings, args, results):
    """The model directories of HetComp's teachers, each trained once (seed 0, resumable) with
    its trajectory: snapshots every ``keep_every`` epochs, moved into the directory when it is
    finished; each recorded as ``hetcomp_teacher_<model>-<dim>``."""
    work = pathlib.Path(args.work) / dataset / "hetcomp-teachers"
    data_spec = DataSpec(dataset)
    paths = []
    for (spec, fit_name), teacher_config in zip(settings["hetcomp_teachers"],
                                                hetcomp_teacher_configs(settings)):
        name = f"{spec.model}-{spec.dim}"
        path, kept = work / name, work / f"{name}-trajectory"
        paths.append(path)
        # Claimed even when the teacher is trained, as get_teacher's.
        state = claim_checkpoint(work / f"{name}-state", teacher_config)
        if not (path / model_dir.MODEL_FILE).exists():
            split = data_spec.load()
            snapshots = trajectory.TrajectorySnapshots(
                None, kept, settings["keep_every"], data_spec.record(split),
                ids=(split.user_ids, split.item_ids))
            print(f"== {dataset} HetComp teacher {name}", flush=True)
            start = time.perf_counter()
            model, result = train_backbone(data_spec, spec, settings[fit_name], path,
                                           verbose=args.verbose, split=split,
                                           checkpoint_dir=state,
                                           callbacks=[snapshots])
            results.add(record_of(dataset, f"hetcomp_teacher_{name}", 0,
                                  with_slices(result, model, split), name, teacher_config,
                                  teacher_identity.weights_digest(model), spec.dim,
                                  time.perf_counter() - start))
        if kept.is_dir():  # moved in once the teacher is finished (also after a kill between)
            kept.rename(path / trajectory.DIRECTORY)
    return paths


def ensemble_record(dataset, teachers, split, config, teacher_config, teacher_weights):
    """Test metrics of the final teachers' ensemble (their top-50 lists outside the training
    and validation items, combined by HetComp's rank-discounted vote)."""
    models = [model_dir.load(path, split.train) for path in teachers]
    lists = ensemble_top_items(models, split.train, 50, exclude=(split.train, split.valid))
    users = split.test.row_lengths().nonzero()[0]
    metrics = evaluate_lists(split.test, users, lists[users], ks=(10, 20)).metrics
    return {"dataset": dataset, "method": "hetcomp_ensemble", "seed": 0,
            "teacher": "+".join(path.name for path in teachers),
            "teacher_config": teacher_config, TEACHER_WEIGHTS: teacher_weights,
            "student_dim": None,
            **{metric: metrics[metric] for metric in METRICS}, "seconds_per_epoch": 0.0,
            "refresh_seconds": 0.0, "epochs": 0, "wall_seconds": 0.0, "training_seconds": 0.0,
            "best_val_ndcg@20": None, "best_epoch": None, "config": config}


def main(argv=None):
    parser = benchmark_parser(__doc__, f"{DEFAULT_RESULTS_STEM}.json")
    parser.add_argument("--datasets", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--methods", nargs="*", default=list(ALL_METHODS), choices=ALL_METHODS,
                        help="the scratch student always runs; none: only it")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--param", action="append", default=[], metavar="METHOD:KEY=VALUE",
                        help="change a method's hyperparameter (repeatable); write the variant "
                             "to its own --results file")
    parser.add_argument("--student", action="append", default=[], metavar="KEY=VALUE",
                        help="change every student's fit or l2 (repeatable; keys: "
                             f"{', '.join(STUDENT_KEYS)}); write the variant to its own "
                             "--results file")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
