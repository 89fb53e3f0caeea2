"""Custom TFX components of the kdtfrs pipeline (``pipelines.pipeline.create_pipeline``).

- ``DataValidationGate``: stops the run when ExampleValidator found anomalies, a split is
  empty or the item distribution drifted between splits, with a message naming the split,
  the feature and what to do.
- ``FullRankingEvaluator``: the stock Evaluator's artifact contract (model, baseline_model,
  examples -> evaluation, blessing) with full-ranking Recall@K / NDCG@K, which TFMA lacks.

Both import TFX; ``kdtfrs`` itself never does.
"""

from components.data_validation_gate import DataValidationGate, DataValidationError
from components.full_ranking_evaluator import FullRankingEvaluator

__all__ = ["DataValidationError", "DataValidationGate", "FullRankingEvaluator"]
