"""Tests of the evaluator's blessing rule and metric check."""

import pytest

from components.full_ranking_evaluator import check_metric, judge

TEACHER = {"ndcg@20": 0.20}


@pytest.mark.parametrize("student, min_value, fraction, expected", [
    (0.15, 0.10, 0.5, []),
    (0.08, 0.10, 0.0, ["student ndcg@20 0.0800 is below the absolute threshold 0.1000"]),
    (0.09, 0.0, 0.5, ["student ndcg@20 0.0900 is below 50% of the teacher's 0.2000"]),
    (0.05, 0.10, 0.5, ["student ndcg@20 0.0500 is below the absolute threshold 0.1000",
                       "student ndcg@20 0.0500 is below 50% of the teacher's 0.2000"]),
])
def test_the_student_is_blessed_only_above_both_thresholds(student, min_value, fraction,
                                                            expected):
    assert judge({"ndcg@20": student}, TEACHER, "ndcg@20", min_value, fraction) == expected


def test_an_unknown_metric_is_refused():
    assert check_metric("recall@50") == "recall@50"
    with pytest.raises(ValueError, match="metric must be one of"):
        check_metric("ndcg@30")
