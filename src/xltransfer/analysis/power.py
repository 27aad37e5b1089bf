"""Power from the grid itself: the variance shares that decide what the pooled test can detect.

The pooled test's power depends on the grid's shape and on how much of the within-target
variation of the gain, and of each similarity, a source carries to all its targets (the design
effect of `simulation.pooled_power`: 1 + (T - 1) x gain share x similarity share). Those shares
are estimated here from the run's own pair means, by the method of moments of a two-way layout
(source and target effects, no replication): within each target the values are centred, and

    source share = max(0, MS_source - MS_residual) / T / (that + MS_residual)

with MS_source = T x the variance of the sources' means over targets and MS_residual the
mean square left after both effects (Searle et al. 1992, ch. 4, balanced two-way random model).
Missing cells are left out of the means (an approximation for unbalanced grids).

Below `SIMULATED_BELOW_SOURCES` sources the analytic formula is optimistic (a Spearman over few
sources is biased towards 0, and the Fisher-z normal approximation is poor), so the minimum
detectable effect is found by simulating the pooled test itself at the grid's shares: pair means
with those source shares, ranked within targets, the source-permutation p-value of
`inference.source_permutation_pvalue`, bisection on the true Spearman with common random numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xltransfer.analysis.inference import correlation_rows, within_strata
from xltransfer.analysis.simulation import Effects, GridShape, minimum_detectable_effect

SIMULATED_BELOW_SOURCES = 10
SIMULATION_GRIDS = 400
SIMULATION_RESAMPLES = 199


def source_share(values: pd.DataFrame, column: str) -> float:
    """The share of `column`'s within-target variance that is a per-source effect.

    `values` has one row per (source, target); NaN when there are fewer than 2 sources or
    targets, or no within-target variation."""
    table = values.pivot_table(index="source", columns="target", values=column, aggfunc="mean")
    sources, targets = table.shape
    if sources < 2 or targets < 2:
        return math.nan
    centred = table - table.mean(axis=0)  # target effects out
    source_means = centred.mean(axis=1)
    residual = centred.sub(source_means, axis=0)
    cells = int(residual.notna().sum().sum())
    df_residual = cells - sources - targets + 1
    if df_residual < 1:
        return math.nan
    ms_source = targets * float(source_means.var(ddof=1))
    ms_residual = float((residual**2).sum().sum()) / df_residual
    between = max(0.0, (ms_source - ms_residual) / targets)
    total = between + ms_residual
    return between / total if total > 0 else math.nan


@dataclass(frozen=True)
class GridPower:
    """The grid's estimated variance shares and the smallest effect its pooled test detects."""

    gain_share: float
    similarity_share: float  # the largest over the similarity methods (the least power)
    shares_by_method: dict[str, float]
    spearman: float  # minimum detectable within-target Spearman at the asked power
    how: str = "analytic"  # or "simulated" (few sources)


def grid_power(
    pairs: pd.DataFrame,
    shape: GridShape,
    power: float = 0.8,
    alpha: float = 0.05,
) -> GridPower:
    """Variance shares of one model's grid and its minimum detectable Spearman.

    `pairs`: rows (source, target, method, value, gain), e.g. `zero_shot_pairs` of one model;
    they are averaged to one gain and one similarity per (source, target, method)."""
    means = pairs.groupby(["method", "source", "target"], as_index=False)[["gain", "value"]].mean()
    first = means[means["method"] == means["method"].iloc[0]]
    gain = source_share(first, "gain")
    by_method = {
        method: source_share(rows, "value") for method, rows in means.groupby("method", sort=True)
    }
    known = [share for share in by_method.values() if math.isfinite(share)]
    similarity = max(known) if known else math.nan
    if not (math.isfinite(gain) and math.isfinite(similarity)):
        return GridPower(gain, similarity, by_method, math.nan)
    mde, how = detectable_spearman(shape, gain, similarity, power, alpha)
    return GridPower(gain, similarity, by_method, mde, how)


def detectable_spearman(
    shape: GridShape,
    gain_share: float,
    similarity_share: float,
    power: float = 0.8,
    alpha: float = 0.05,
) -> tuple[float, str]:
    """The minimum detectable within-target Spearman of a grid with these source shares, and
    how it was found: simulated below `SIMULATED_BELOW_SOURCES` sources, else analytic."""
    if shape.sources < SIMULATED_BELOW_SOURCES:
        return simulated_mde(shape, gain_share, similarity_share, power, alpha), "simulated"
    # Effects whose within-target gain variance is 1 with the given source share.
    effects = Effects(
        source=math.sqrt(gain_share),
        pair=math.sqrt(1 - gain_share),
        seed=0.0,
        evaluation=0.0,
        similarity_source_share=similarity_share,
    )
    single = GridShape(shape.sources, shape.targets, 1, 1)
    found = minimum_detectable_effect(single, power=power, alpha=alpha, effects=effects)
    return found["spearman"], "analytic"


def pooled_pvalues(x: np.ndarray, y: np.ndarray, permutations: np.ndarray) -> np.ndarray:
    """Source-permutation p-values of the pooled Spearman (within-target ranks) of many grids
    at once: x and y are (grids, sources, targets), `permutations` (resamples, sources) is
    applied to every grid. Per grid the same number as `inference.source_permutation_pvalue`
    with those permutations; vectorised over grids for the power simulation."""
    grids, n_sources, n_targets = x.shape
    targets = np.tile(np.arange(n_targets), n_sources)  # the column order of a flat grid
    flat_x = within_strata(x.reshape(grids, -1), targets, "within_target_rank")
    flat_y = within_strata(y.reshape(grids, -1), targets, "within_target_rank")
    observed = correlation_rows("spearman", flat_x, flat_y)
    resamples = len(permutations)
    ranked_x = flat_x.reshape(grids, n_sources, n_targets)
    shuffled = ranked_x[:, permutations, :].reshape(grids * resamples, -1)
    values = correlation_rows("spearman", shuffled, np.repeat(flat_y, resamples, axis=0))
    hits = np.abs(values.reshape(grids, resamples)) >= np.abs(observed)[:, None] - 1e-12
    return (1 + hits.sum(axis=1)) / (1 + resamples)


def simulated_power(
    shape: GridShape,
    spearman: float,
    gain_share: float,
    similarity_share: float,
    alpha: float = 0.05,
    grids: int = SIMULATION_GRIDS,
    seed: int = 0,
) -> float:
    """Share of simulated grids in which the pooled Spearman (within-target ranks, source
    permutation) rejects at `alpha`, at a true within-target Spearman `spearman`.

    Pair means per (source, target): similarity x = sqrt(s) g_source + sqrt(1 - s) z, gain
    slope x + sqrt(g) a_source + sqrt(1 - g) e, all standard normal; the slope gives the
    within-target Pearson rho = slope / sqrt(slope^2 + 1) and Spearman 6/pi asin(rho / 2)."""
    n_s, n_t = shape.sources, shape.targets
    rho = 2 * math.sin(math.pi * spearman / 6)
    slope = rho / math.sqrt(1 - rho**2)
    rng = np.random.default_rng(seed)
    g, a = rng.normal(size=(2, grids, n_s, 1))
    z, e = rng.normal(size=(2, grids, n_s, n_t))
    x = math.sqrt(similarity_share) * g + math.sqrt(1 - similarity_share) * z
    y = slope * x + math.sqrt(gain_share) * a + math.sqrt(1 - gain_share) * e
    permutations = rng.permuted(np.tile(np.arange(n_s), (SIMULATION_RESAMPLES, 1)), axis=1)
    return float(np.mean(pooled_pvalues(x, y, permutations) < alpha))


def simulated_mde(
    shape: GridShape,
    gain_share: float,
    similarity_share: float,
    power: float = 0.8,
    alpha: float = 0.05,
    grids: int = SIMULATION_GRIDS,
) -> float:
    """The smallest true within-target Spearman the pooled test detects with `power`, by
    bisection on `simulated_power` (the same draws at every effect); NaN if even 0.95 is not."""

    def reaches(spearman: float) -> bool:
        found = simulated_power(shape, spearman, gain_share, similarity_share, alpha, grids)
        return found >= power

    low, high = 0.0, 0.95
    if not reaches(high):
        return math.nan
    for _ in range(8):  # to within 0.004
        middle = (low + high) / 2
        low, high = (low, middle) if reaches(middle) else (middle, high)
    return high


def grid_powers(
    gains: pd.DataFrame,
    similarity: pd.DataFrame,
    source_language: str | None,
    shapes: dict[str, GridShape],
) -> dict[str, GridPower]:
    """`grid_power` of each model of a run, from its gains and similarity tables."""
    from xltransfer.analysis.gains import zero_shot_pairs

    pairs = zero_shot_pairs(gains, similarity, source_language)
    return {
        model: grid_power(rows, shapes[model])
        for model, rows in pairs.groupby("model", sort=True)
        if model in shapes
    }
