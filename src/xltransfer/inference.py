"""Uncertainty of a similarity-gain correlation.

Source tasks are the unit of analysis: the bootstrap resamples whole source tasks (all rows of a
drawn source come along), and the permutation test shuffles similarity across sources within each
stratum (target task), so pooled rows that share a source are never treated as independent.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests

ADJUSTMENTS = {"holm": "holm", "bh": "fdr_bh"}
CHUNK = 500  # resamples evaluated at once: bounds memory for Kendall's pair matrices


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x * y).sum(axis=1) / np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))


def _kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # Kendall's tau-b: sum of sign products over all pairs, normalised by the untied pairs.
    dx = np.sign(x[:, :, None] - x[:, None, :])
    dy = np.sign(y[:, :, None] - y[:, None, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (dx * dy).sum(axis=(1, 2)) / np.sqrt(
            (dx * dx).sum(axis=(1, 2)) * (dy * dy).sum(axis=(1, 2))
        )


def correlation_rows(statistic: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The correlation of each row pair of two (resamples x n) arrays; nan where undefined.

    Vectorised because every interval and p-value needs thousands of them; the tests check it
    against scipy's spearmanr, pearsonr and kendalltau.
    """
    x, y = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(y, float))
    if x.shape[1] < 3:
        return np.full(x.shape[0], math.nan)
    if statistic == "pearson":
        values = _pearson_rows(x, y)
    elif statistic == "spearman":
        values = _pearson_rows(stats.rankdata(x, axis=1), stats.rankdata(y, axis=1))
    elif statistic == "kendall":
        values = _kendall_rows(x, y)
    else:
        raise ValueError(f"unknown statistic {statistic!r}")
    values[(np.ptp(x, axis=1) == 0) | (np.ptp(y, axis=1) == 0)] = math.nan
    return np.clip(values, -1.0, 1.0)


def _in_chunks(statistic: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [
            correlation_rows(statistic, x[i : i + CHUNK], y[i : i + CHUNK])
            for i in range(0, len(x), CHUNK)
        ]
    )


def bootstrap_ci(
    x: np.ndarray,
    y: np.ndarray,
    clusters: np.ndarray,
    statistic: str = "spearman",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of the correlation under resampling of clusters (source tasks).

    Resamples in which the correlation is undefined (e.g. one source drawn every time) are
    dropped; nan when fewer than half of them remain or there are fewer than 3 clusters.
    """
    x, y, clusters = np.asarray(x, float), np.asarray(y, float), np.asarray(clusters)
    names, index = np.unique(clusters, return_inverse=True)
    if len(names) < 3:
        return math.nan, math.nan
    members = [np.flatnonzero(index == i) for i in range(len(names))]
    draws = np.random.default_rng(seed).integers(len(names), size=(n_resamples, len(names)))
    sizes = {len(rows) for rows in members}
    if len(sizes) == 1:  # every source has as many rows: one index matrix for all resamples
        rows = np.stack(members)[draws].reshape(n_resamples, -1)
        values = _in_chunks(statistic, x[rows], y[rows])
    else:
        values = np.array(
            [
                correlation_rows(statistic, x[rows], y[rows])[0]
                for rows in (np.concatenate([members[i] for i in draw]) for draw in draws)
            ]
        )
    values = values[np.isfinite(values)]
    if len(values) < n_resamples / 2:
        return math.nan, math.nan
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def permutation_pvalue(
    x: np.ndarray,
    y: np.ndarray,
    strata: np.ndarray | None = None,
    statistic: str = "spearman",
    n_resamples: int = 2000,
    seed: int = 0,
) -> float:
    """Two-sided p-value of the correlation against similarity shuffled across source tasks.

    Within each stratum (target task) the similarity values of its sources are permuted, so the
    null keeps each target's gains and each target's set of similarities. (1 + hits) / (1 + B).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    strata = np.zeros(len(x), dtype=int) if strata is None else np.asarray(strata)
    observed = correlation_rows(statistic, x, y)[0]
    if not np.isfinite(observed):
        return math.nan
    rng = np.random.default_rng(seed)
    shuffled = np.tile(x, (n_resamples, 1))
    for stratum in np.unique(strata):
        rows = np.flatnonzero(strata == stratum)
        shuffled[:, rows] = x[rng.permuted(np.tile(rows, (n_resamples, 1)), axis=1)]
    values = _in_chunks(statistic, shuffled, np.broadcast_to(y, shuffled.shape))
    hits = np.count_nonzero(np.isfinite(values) & (np.abs(values) >= abs(observed) - 1e-12))
    return float((1 + hits) / (1 + n_resamples))


def adjust_pvalues(p_values: np.ndarray, method: str = "holm") -> np.ndarray:
    """Holm or Benjamini-Hochberg adjusted p-values of one family of tests; nan stays nan."""
    if method not in ADJUSTMENTS:
        raise ValueError(
            f"unknown p-value adjustment {method!r}; choose from {sorted(ADJUSTMENTS)}"
        )
    p_values = np.asarray(p_values, float)
    adjusted = np.full_like(p_values, math.nan)
    finite = np.isfinite(p_values)
    if finite.any():
        adjusted[finite] = multipletests(p_values[finite], method=ADJUSTMENTS[method])[1]
    return adjusted
