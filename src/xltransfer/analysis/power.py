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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from xltransfer.analysis.simulation import Effects, GridShape, minimum_detectable_effect


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
    # Effects whose within-target gain variance is 1 with the estimated source share.
    effects = Effects(
        source=math.sqrt(gain),
        pair=math.sqrt(1 - gain),
        seed=0.0,
        evaluation=0.0,
        similarity_source_share=similarity,
    )
    single = GridShape(shape.sources, shape.targets, 1, 1)
    mde = minimum_detectable_effect(single, power=power, alpha=alpha, effects=effects)
    return GridPower(gain, similarity, by_method, mde["spearman"])


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
