"""Uncertainty of a similarity-gain correlation.

Source tasks are the unit of analysis: the bootstrap resamples whole source tasks (all rows of a
drawn source come along), and the permutation tests shuffle similarity across sources, so pooled
rows that share a source are never treated as independent.

What each is calibrated for (measured in benchmarks/calibration.py, BENCHMARKS.md):

- `permutation_pvalue` with one stratum (one target): exact under "the sources' similarities are
  exchangeable given their gains", whatever the gain distribution.
- `source_permutation_pvalue` (pooled rows): applies one permutation of the source labels to every
  target's similarity column, so a similarity component shared by all pairs of a source moves as a
  block. Exact under "sources are exchangeable", including similarity with a source main effect
  and gains with a source effect. The older within-target shuffle (`permutation_pvalue` with
  target strata) breaks those blocks and over-rejects when both exist.
- `jackknife_ci` (the default interval, `analysis.interval: jackknife`): an approximate interval
  for the correlation of the population of source tasks the grid's sources stand for, from the
  leave-one-source-out jackknife on Fisher's z scale with t(G - 1) quantiles; covers 93-98 %
  on the demo and XTREME shapes. `bootstrap_ci` (`percentile`, or `bca`: bias-corrected and
  accelerated) resamples sources; with the few (5 to 10) sources of a grid both under-cover
  (89-93 %).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests

ADJUSTMENTS = {"holm": "holm", "bh": "fdr_bh"}
CHUNK = 500  # resamples evaluated at once: bounds memory for Kendall's pair matrices
# How similarity and gain are transformed within each target before pooling (`analysis.pooled`).
POOLINGS = ("within_target_rank", "z_score", "raw")
INTERVALS = ("jackknife", "bca", "percentile")


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


def within_strata(values: np.ndarray, strata: np.ndarray | None, how: str = "raw") -> np.ndarray:
    """Transform each row of a (resamples x n) array within the columns of each stratum.

    `within_target_rank`: ranks (ties averaged) scaled to (0, 1) as (rank - 0.5) / size, so targets
    with different numbers of sources share one scale; `z_score`: centred and divided by the
    standard deviation (a constant stratum becomes 0); `raw`: unchanged.
    """
    if how not in POOLINGS:
        raise ValueError(f"unknown pooling {how!r}; choose from {list(POOLINGS)}")
    values = np.atleast_2d(np.asarray(values, float))
    if how == "raw" or strata is None:
        return values
    out = np.empty_like(values)
    strata = np.asarray(strata)
    for stratum in np.unique(strata):
        cols = np.flatnonzero(strata == stratum)
        block = values[:, cols]
        if how == "within_target_rank":
            out[:, cols] = (stats.rankdata(block, axis=1) - 0.5) / len(cols)
        else:
            centred = block - block.mean(axis=1, keepdims=True)
            spread = block.std(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, cols] = np.where(spread > 0, centred / spread, 0.0)
    return out


def _in_chunks(statistic: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [
            correlation_rows(statistic, x[i : i + CHUNK], y[i : i + CHUNK])
            for i in range(0, len(x), CHUNK)
        ]
    )


def _pooled_rows(
    statistic: str,
    x: np.ndarray,
    y: np.ndarray,
    strata: np.ndarray | None,
    pooling: str,
) -> np.ndarray:
    """Correlation of each row pair after transforming both within strata (one strata vector)."""
    return correlation_rows(
        statistic, within_strata(x, strata, pooling), within_strata(y, strata, pooling)
    )


def bootstrap_ci(
    x: np.ndarray,
    y: np.ndarray,
    clusters: np.ndarray,
    statistic: str = "spearman",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    strata: np.ndarray | None = None,
    pooling: str = "raw",
    method: str = "percentile",
) -> tuple[float, float]:
    """Interval of the correlation under resampling of clusters (source tasks).

    With `strata` (targets) and a `pooling` other than raw, each resample is transformed within
    its targets again before the correlation, as the estimate was. `method`: `percentile`, or
    `bca` (bias-corrected and accelerated; acceleration from the leave-one-cluster-out
    jackknife). Resamples in which the correlation is undefined (e.g. one source drawn every
    time) are dropped; nan when fewer than half of them remain or there are fewer than 3
    clusters. Calibration: approximate, see the module docstring.
    """
    if method not in INTERVALS:
        raise ValueError(f"unknown interval method {method!r}; choose from {list(INTERVALS)}")
    x, y, clusters = np.asarray(x, float), np.asarray(y, float), np.asarray(clusters)
    strata = None if strata is None else np.asarray(strata)
    names, index = np.unique(clusters, return_inverse=True)
    if len(names) < 3:
        return math.nan, math.nan
    members = [np.flatnonzero(index == i) for i in range(len(names))]
    if strata is not None:  # each source's rows in target order, so columns line up
        members = [rows[np.argsort(strata[rows], kind="stable")] for rows in members]
    draws = np.random.default_rng(seed).integers(len(names), size=(n_resamples, len(names)))
    aligned = len({len(rows) for rows in members}) == 1 and (
        strata is None or len({tuple(strata[rows]) for rows in members}) == 1
    )
    if aligned:  # every source has the same rows: one index matrix for all resamples
        rows = np.stack(members)[draws].reshape(n_resamples, -1)
        col_strata = None if strata is None else strata[rows[0]]
        values = np.concatenate(
            [
                _pooled_rows(
                    statistic, x[rows[i : i + CHUNK]], y[rows[i : i + CHUNK]], col_strata, pooling
                )
                for i in range(0, n_resamples, CHUNK)
            ]
        )
    else:
        values = np.array(
            [
                _pooled_rows(
                    statistic,
                    x[rows],
                    y[rows],
                    None if strata is None else strata[rows],
                    pooling,
                )[0]
                for rows in (np.concatenate([members[i] for i in draw]) for draw in draws)
            ]
        )
    values = values[np.isfinite(values)]
    if len(values) < n_resamples / 2:
        return math.nan, math.nan
    tail = (1 - confidence) / 2
    levels = np.array([tail, 1 - tail])
    if method == "bca":
        levels = _bca_levels(x, y, members, strata, statistic, pooling, values, levels)
        if levels is None:
            return math.nan, math.nan
    low, high = np.percentile(values, 100 * levels)
    return float(low), float(high)


def _bca_levels(x, y, members, strata, statistic, pooling, values, levels):
    """BCa-adjusted percentile levels (Efron 1987), or None when the estimate is undefined."""
    estimate = _pooled_rows(statistic, x, y, strata, pooling)[0]
    if not np.isfinite(estimate):
        return None
    # Bias correction: the share of resamples below the estimate (ties count half).
    below = (np.count_nonzero(values < estimate) + 0.5 * np.count_nonzero(values == estimate)) / (
        len(values)
    )
    z0 = stats.norm.ppf(np.clip(below, 1 / (2 * len(values)), 1 - 1 / (2 * len(values))))
    jack = _jackknife(x, y, members, strata, statistic, pooling)
    jack = jack[np.isfinite(jack)]
    spread = jack.mean() - jack
    denominator = 6 * (spread**2).sum() ** 1.5
    accel = (spread**3).sum() / denominator if denominator > 0 else 0.0
    z = stats.norm.ppf(levels)
    return stats.norm.cdf(z0 + (z0 + z) / (1 - accel * (z0 + z)))


def _jackknife(x, y, members, strata, statistic, pooling) -> np.ndarray:
    """The statistic with each cluster left out in turn (nan where undefined)."""
    values = []
    for left_out in range(len(members)):
        rows = np.concatenate([m for i, m in enumerate(members) if i != left_out])
        values.append(
            _pooled_rows(
                statistic, x[rows], y[rows], None if strata is None else strata[rows], pooling
            )[0]
        )
    return np.asarray(values)


def jackknife_ci(
    x: np.ndarray,
    y: np.ndarray,
    clusters: np.ndarray,
    statistic: str = "spearman",
    confidence: float = 0.95,
    strata: np.ndarray | None = None,
    pooling: str = "raw",
) -> tuple[float, float]:
    """Leave-one-source-out jackknife interval on Fisher's z scale with t(G - 1) quantiles.

    z = atanh(r); the jackknife standard error of z over the G clusters (sources), each left out
    in turn with its rows re-transformed within targets; tanh(z +- t_{G-1} x SE). On simulated
    grids of 7 to 10 sources it covers the population within-target Spearman 93-98 % (errs
    towards wide with 7 sources), where the percentile and BCa bootstraps cover 89-93 % and
    normal quantiles drop to 90 % once the correlation is strong (the rank statistic is biased
    towards 0 by O(1/G)). nan with fewer than 3 clusters or when a leave-one-out estimate is
    undefined.
    """
    x, y, clusters = np.asarray(x, float), np.asarray(y, float), np.asarray(clusters)
    strata = None if strata is None else np.asarray(strata)
    names, index = np.unique(clusters, return_inverse=True)
    if len(names) < 3:
        return math.nan, math.nan
    members = [np.flatnonzero(index == i) for i in range(len(names))]
    estimate = _pooled_rows(statistic, x, y, strata, pooling)[0]
    jack = _jackknife(x, y, members, strata, statistic, pooling)
    if not (np.isfinite(estimate) and np.isfinite(jack).all()):
        return math.nan, math.nan
    limit = 1 - 1e-9  # |r| = 1 has no finite z
    z, z_jack = (
        np.arctanh(np.clip(estimate, -limit, limit)),
        np.arctanh(np.clip(jack, -limit, limit)),
    )
    g = len(names)
    se = math.sqrt((g - 1) / g * ((z_jack - z_jack.mean()) ** 2).sum())
    half = stats.t.ppf(0.5 + confidence / 2, g - 1) * se
    return float(np.tanh(z - half)), float(np.tanh(z + half))


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
    Exact for one target; across targets it breaks a source's block of similarities, so pooled
    rows use `source_permutation_pvalue` instead.
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


def source_permutation_pvalue(
    x: np.ndarray,
    y: np.ndarray,
    sources: np.ndarray,
    targets: np.ndarray,
    statistic: str = "spearman",
    n_resamples: int = 2000,
    seed: int = 0,
    pooling: str = "raw",
) -> float:
    """Two-sided p-value of a pooled correlation against source labels permuted jointly.

    One permutation of the sources is applied to every target's similarity column: the pair
    (s, t) gets the similarity of (pi(s), t). A similarity component shared by a source's pairs
    moves with it as a block, so the null keeps the source structure of both similarity and gain
    (exact when sources are exchangeable). Similarity and gain are transformed within targets
    (`pooling`) before the correlation; under the permutation each target keeps its set of
    similarities, so the transform commutes with it. Pairs whose permuted source lacks that target
    (unbalanced grids) are left out of that resample. (1 + hits) / (1 + B).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    source_names, s_idx = np.unique(np.asarray(sources), return_inverse=True)
    target_names, t_idx = np.unique(np.asarray(targets), return_inverse=True)
    tx = within_strata(x, t_idx, pooling)[0]
    ty = within_strata(y, t_idx, pooling)[0]
    observed = correlation_rows(statistic, tx, ty)[0]
    if not np.isfinite(observed):
        return math.nan
    wide = np.full((len(source_names), len(target_names)), math.nan)
    wide[s_idx, t_idx] = tx
    rng = np.random.default_rng(seed)
    perms = rng.permuted(np.tile(np.arange(len(source_names)), (n_resamples, 1)), axis=1)
    shuffled = wide[perms[:, s_idx], t_idx]  # resamples x rows
    complete = np.isfinite(shuffled).all(axis=1)
    values = np.full(n_resamples, math.nan)
    if complete.any():
        values[complete] = _in_chunks(
            statistic, shuffled[complete], np.broadcast_to(ty, shuffled[complete].shape)
        )
    for i in np.flatnonzero(~complete):
        keep = np.isfinite(shuffled[i])
        values[i] = correlation_rows(statistic, shuffled[i, keep], ty[keep])[0]
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
    if finite.sum() == 1:  # a family of one: both adjustments leave it as it is
        adjusted[finite] = p_values[finite]
    elif finite.any():
        adjusted[finite] = multipletests(p_values[finite], method=ADJUSTMENTS[method])[1]
    return adjusted
