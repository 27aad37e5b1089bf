"""Rank and linear correlations with p-values, robust to degenerate inputs."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

STATISTICS = ("spearman", "pearson", "kendall")


def correlations(x: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, float]]:
    """Spearman, Pearson and Kendall (estimate, p-value) of x vs y; nan when undefined."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"length mismatch: x has {x.shape}, y has {y.shape}")
    nan = (math.nan, math.nan)
    # With fewer than 3 points a correlation is either undefined or trivially ±1 with no
    # meaningful p-value; a constant side has no variance to correlate. Report nan, not a crash.
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0 or not np.all(np.isfinite(x + y)):
        return {name: nan for name in STATISTICS}
    sp = stats.spearmanr(x, y)
    pe = stats.pearsonr(x, y)
    kt = stats.kendalltau(x, y)
    return {
        "spearman": (float(sp.statistic), float(sp.pvalue)),
        "pearson": (float(pe.statistic), float(pe.pvalue)),
        "kendall": (float(kt.statistic), float(kt.pvalue)),
    }
