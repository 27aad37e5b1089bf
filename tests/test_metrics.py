"""Tests for xltransfer.kinds.metrics."""

import math

import numpy as np
import pytest
from scipy import stats

from xltransfer.kinds.metrics import METRICS_BY_TASK_TYPE, compute_metrics


def test_classification_hand_computed() -> None:
    # refs  = [0, 0, 1, 1, 2, 2]; preds = [0, 1, 1, 1, 2, 0]
    # correct at positions 0, 2, 3, 4 -> accuracy = 4/6.
    # class 0: tp=1, fp=1 (pos 5), fn=1 (pos 1) -> P=1/2, R=1/2, F1=1/2
    # class 1: tp=2, fp=1 (pos 1), fn=0          -> P=2/3, R=1,   F1=0.8
    # class 2: tp=1, fp=0, fn=1 (pos 5)          -> P=1,   R=1/2, F1=2/3
    # macro F1 = (1/2 + 4/5 + 2/3) / 3 = 59/90
    refs = np.array([0, 0, 1, 1, 2, 2])
    preds = np.array([0, 1, 1, 1, 2, 0])
    out = compute_metrics("classification", preds, refs)
    assert set(out) == set(METRICS_BY_TASK_TYPE["classification"])
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["f1_macro"] == pytest.approx(59 / 90)


def test_classification_label_only_in_predictions_counts() -> None:
    # Label 2 is predicted but never a reference: it gets F1 = 0 and still enters the mean.
    # class 0: P=1, R=1/2, F1=2/3; class 1: P=1, R=1, F1=1; class 2: F1=0 -> macro = 5/9
    refs = np.array([0, 0, 1])
    preds = np.array([0, 2, 1])
    out = compute_metrics("classification", preds, refs)
    assert out["accuracy"] == pytest.approx(2 / 3)
    assert out["f1_macro"] == pytest.approx(5 / 9)


def test_regression_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    refs = rng.normal(size=50)
    preds = refs + rng.normal(scale=0.5, size=50)
    out = compute_metrics("regression", preds, refs)
    assert set(out) == set(METRICS_BY_TASK_TYPE["regression"])
    assert out["pearson"] == pytest.approx(stats.pearsonr(preds, refs).statistic)
    assert out["spearman"] == pytest.approx(stats.spearmanr(preds, refs).statistic)


def test_regression_constant_side_is_nan_with_warning() -> None:
    with pytest.warns(RuntimeWarning, match="constant"):
        out = compute_metrics("regression", np.full(4, 2.0), np.array([1.0, 2.0, 3.0, 4.0]))
    assert math.isnan(out["pearson"]) and math.isnan(out["spearman"])


@pytest.mark.parametrize(
    ("task_type", "preds", "refs", "match"),
    [
        ("ranking", [1], [1], "unknown task type"),
        ("classification", [1, 0], [1], "length mismatch"),
        ("regression", [], [], "empty"),
    ],
)
def test_errors(task_type: str, preds: list, refs: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compute_metrics(task_type, np.array(preds), np.array(refs))
