"""Runs of the training schemes beyond one frozen teacher, as the CLI and the benchmarks run them.

- ``distill_bidirectional``: Bidirectional Distillation (``kdtfrs.bidirectional``); the teacher
  trains too, so both models come out: the student is saved as the model directory and the
  co-trained teacher inside it, in ``teacher/``.
- ``distill_hetcomp``: HetComp (``kdtfrs.tasks.HetComp``) from several teachers' trajectories
  (``kdtfrs train --keep-every N`` wrote them); a ``Distiller`` with one task, like any
  method.

Both train through ``kdtfrs.fitting.fit_model``: early stopping on the student's validation
NDCG@20, resumable from ``checkpoint_dir`` (both BD models, both optimizers and the sampling
pools; HetComp's curriculum), the best student so far written on an interruption.
"""

from __future__ import annotations

import dataclasses
import inspect
import pathlib

from kdtfrs import model_dir
from kdtfrs._keras import tf
from kdtfrs.bidirectional import BidirectionalDistiller
from kdtfrs.experiment import BackboneSpec, _finish, _fit, distill_student, evaluate_split
from kdtfrs.fitting import FitConfig
from kdtfrs.hetcomp import TrajectoryKnowledge
from kdtfrs.strategy import describe as describe_strategy
from kdtfrs.tasks import HetComp

TEACHER_DIRECTORY = "teacher"


def distill_bidirectional(teacher, split, data_spec, student: BackboneSpec, fit: FitConfig,
                          params=None, output=None, verbose=1, checkpoint_dir=None,
                          best_on_interrupt=None, extra=None, strategy=None):
    """Trains a copy of ``teacher`` and a new student together (``BidirectionalDistiller``).

    Args:
      teacher: the teacher to start from (a kdtfrs Recommender, e.g. ``load_teacher``'s); it
        is copied, the copy trains.
      params: ``BidirectionalDistiller`` hyperparameters (its seed is ``fit.seed``).
      output: the student's model directory to write; the teacher goes to ``output/teacher``.
      the others: as ``kdtfrs.experiment.distill_student``.

    Returns:
      (trained teacher, student, result); result["teacher"]["test"] holds the teacher's test
      metrics (at the epoch early stopping chose for the student).
    """
    params = dict(params or {})
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        teacher = _copy(teacher)
        model = student.build(split, fit.seed)
        try:
            distiller = BidirectionalDistiller(teacher, model, split.train, seed=fit.seed,
                                               **params)
        except TypeError as error:
            raise ValueError(f"bad hyperparameters for method 'bd': {error}. See "
                             "help(kdtfrs.BidirectionalDistiller).") from None
    config = distiller.get_config()
    teacher_record = {"class": type(teacher).__name__, "dim": teacher.embedding_dim}
    extra = {"backbone": student.config(), "fit": dataclasses.asdict(fit),
             "distribution": describe_strategy(strategy, fit.batch_size), "method": "bd",
             "method_config": config, "teacher": teacher_record, **(extra or {})}
    record = data_spec.record(split)
    history = _fit(distiller, model, split, fit, checkpoint_dir, verbose, best_on_interrupt,
                   (record, extra))
    result = _finish(model, split, history, output, record, extra)
    teacher_test = evaluate_split(teacher, split, "test")
    result["teacher"] = {**teacher_record, "test": teacher_test}
    if output is not None:
        model_dir.write(teacher, pathlib.Path(output) / TEACHER_DIRECTORY, record,
                        {**extra, "role": "the teacher trained with the student"},
                        ids=(split.user_ids, split.item_ids), metrics={"test": teacher_test})
    return teacher, model, result


KNOWLEDGE_PARAMS = ("num_checkpoints", "list_length", "num_observed", "ensemble_temperature")


def split_hetcomp_params(params) -> tuple[dict, dict]:
    """(knowledge arguments, task arguments) of HetComp's hyperparameters.

    Knowledge: ``num_checkpoints`` (per teacher, the final model included; 4),
    ``list_length`` (K, 50), ``num_observed`` (5), ``ensemble_temperature`` (10). The task:
    the arguments of ``kdtfrs.tasks.HetComp``. Anything else is a ``ValueError``.
    """
    params = dict(params or {})
    knowledge = {key: params.pop(key) for key in KNOWLEDGE_PARAMS if key in params}
    accepted = set(inspect.signature(HetComp).parameters) - {"knowledge", "name"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(f"bad hyperparameters for method 'hetcomp': {unknown}; it takes "
                         f"{sorted(accepted | set(KNOWLEDGE_PARAMS))}. See "
                         "help(kdtfrs.tasks.HetComp).")
    return knowledge, params


def distill_hetcomp(teacher_dirs, split, data_spec, student: BackboneSpec, fit: FitConfig,
                    params=None, output=None, verbose=1, checkpoint_dir=None,
                    best_on_interrupt=None, extra=None, strategy=None):
    """Trains a student with HetComp from the teachers saved in ``teacher_dirs`` (each with its
    trajectory, ``kdtfrs train --keep-every N``). Returns (student, result); the arguments as
    ``distill_bidirectional`` (``params``: ``split_hetcomp_params``)."""
    knowledge_args, task_args = split_hetcomp_params(params)
    temperature = knowledge_args.pop("ensemble_temperature", 10.0)
    knowledge = TrajectoryKnowledge.from_directories(
        teacher_dirs, split.train, temperature=temperature, **knowledge_args)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        task = HetComp(knowledge, **task_args)
    first_teacher = model_dir.load(teacher_dirs[0], split.train)
    extra = {"teachers": [str(pathlib.Path(path).absolute()) for path in teacher_dirs],
             "hetcomp_knowledge": {**knowledge_args, "ensemble_temperature": temperature,
                                   "num_checkpoints": knowledge.num_checkpoints,
                                   "list_length": knowledge.list_length,
                                   "num_observed": knowledge.num_observed},
             **(extra or {})}
    return distill_student(first_teacher, split, data_spec, [task], student, fit, output,
                           verbose, checkpoint_dir=checkpoint_dir, method_id="hetcomp",
                           best_on_interrupt=best_on_interrupt, extra=extra, strategy=strategy)


def _copy(model):
    """A new model of ``model``'s class and configuration, with its weights."""
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


__all__ = ["TEACHER_DIRECTORY", "distill_bidirectional", "distill_hetcomp",
           "split_hetcomp_params"]
