"""How well a similarity ranks source tasks for a target: NDCG@k and Regret@k.

NDCG@k (scikit-learn's) uses the true gains, shifted so that the worst source has relevance 0, as
graded relevance. Regret@k follows Poth et al. (2021): (O - M_k) / O, where O is the best target
score over all sources and M_k the best among the k sources ranked highest by the similarity.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import ndcg_score


def _checked(predicted: np.ndarray, truth: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    predicted, truth = np.asarray(predicted, float), np.asarray(truth, float)
    if predicted.shape != truth.shape or predicted.ndim != 1:
        raise ValueError(f"need two equal-length vectors, got {predicted.shape} and {truth.shape}")
    if not 1 <= k <= len(truth):
        raise ValueError(f"k={k} must be between 1 and the number of sources ({len(truth)})")
    if not (np.all(np.isfinite(predicted)) and np.all(np.isfinite(truth))):
        raise ValueError("predicted and true values must be finite")
    return predicted, truth


def ndcg_at_k(predicted: np.ndarray, gains: np.ndarray, k: int) -> float:
    """NDCG@k of the ranking by `predicted` against the true `gains` (1 = ideal order)."""
    predicted, gains = _checked(predicted, gains, k)
    relevance = gains - gains.min()
    if not relevance.any():
        return 1.0  # every order is ideal when all sources are equally good
    return float(ndcg_score(relevance[None, :], predicted[None, :], k=k))


def top_k(predicted: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest predictions; ties broken by position, as a stable sort does."""
    return np.argsort(-np.asarray(predicted, float), kind="stable")[:k]


def regret_at_k(predicted: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Relative regret of choosing among the top-k sources by `predicted` (0 = the best is in)."""
    predicted, scores = _checked(predicted, scores, k)
    best = scores.max()
    if best <= 0:
        raise ValueError("Regret@k divides by the best score, which must be positive")
    return float((best - scores[top_k(predicted, k)].max()) / best)
