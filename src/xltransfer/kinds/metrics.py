"""Task metrics computed locally with scikit-learn and scipy (no network-loaded metrics)."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score

METRICS_BY_TASK_TYPE: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "f1_macro"),
    "regression": ("pearson", "spearman"),
    # A Siamese bi-encoder's cosine is a regression prediction like any other.
    "bi_encoder": ("pearson", "spearman"),
}


def _check_inputs(task_type: str, predictions: np.ndarray, references: np.ndarray) -> None:
    """Raise ValueError for an unknown task type, mismatched lengths or empty input."""
    if task_type not in METRICS_BY_TASK_TYPE:
        known = ", ".join(sorted(METRICS_BY_TASK_TYPE))
        raise ValueError(f"unknown task type {task_type!r}; expected one of: {known}")
    if len(predictions) != len(references):
        raise ValueError(
            f"length mismatch: {len(predictions)} predictions vs {len(references)} references"
        )
    if len(predictions) == 0:
        raise ValueError("empty input: no predictions and references to score")


def accuracy(predictions: np.ndarray, references: np.ndarray) -> float:
    """The share of predictions equal to their reference."""
    return float(np.mean(np.asarray(predictions) == np.asarray(references)))


def _classification(predictions: np.ndarray, references: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 over the labels seen in references or predictions."""
    labels = np.union1d(np.unique(references), np.unique(predictions))
    return {
        "accuracy": float(accuracy_score(references, predictions)),
        "f1_macro": float(
            f1_score(references, predictions, labels=labels, average="macro", zero_division=0)
        ),
    }


def correlation_scores(predictions: np.ndarray, references: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman correlation; nan (with a warning) when a side is constant."""
    pred = np.asarray(predictions, dtype=float)
    ref = np.asarray(references, dtype=float)
    # A correlation is undefined for a constant side; scipy would warn and return nan anyway,
    # but we make it explicit so a degenerate model does not abort a whole evaluation run.
    if len(pred) < 2 or np.ptp(pred) == 0 or np.ptp(ref) == 0:
        warnings.warn(
            "correlation undefined (constant predictions or references, or a single example); "
            "returning nan",
            RuntimeWarning,
            stacklevel=3,
        )
        return {"pearson": math.nan, "spearman": math.nan}
    return {
        "pearson": float(stats.pearsonr(pred, ref).statistic),
        "spearman": float(stats.spearmanr(pred, ref).statistic),
    }


def compute_metrics(
    task_type: str, predictions: np.ndarray, references: np.ndarray
) -> dict[str, float]:
    """Score predictions against references for a "classification" or "regression" task."""
    predictions = np.asarray(predictions)
    references = np.asarray(references)
    _check_inputs(task_type, predictions, references)
    if task_type == "classification":
        return _classification(predictions, references)
    return correlation_scores(predictions, references)
