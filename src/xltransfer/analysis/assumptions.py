"""Which of the tests' assumptions a grid breaks, checked from the grid's own gains.

The calibration benchmark (BENCHMARKS.md, `benchmarks/calibration_misspecified.py`) measured the
tests' false-positive rates on simulated grids that break one assumption each: heavy-tailed
gains, targets with unequal noise, sources whose task families move together, and failed
fine-tunes. The pooled source permutation held its level under all but the families (8-10.5 %
at 5 %); the mixed model did not hold it there (23-43 %), and per-target intervals undercovered
when fine-tunes failed. These checks tell the reader which of those cases their grid is in.

Residuals are the zero-shot primary gains, seeds averaged, double-centred within each target
over sources and languages (each target's language and source effects out), standardised per
target for the tails. Every check is a stated test with a threshold, never a judgement:

* `heavy_tails`: the residuals' excess kurtosis (Fisher) above 1 with D'Agostino's kurtosis
  test at p < 0.01 (`scipy.stats.kurtosistest`; needs 20 residuals);
* `unequal_noise`: the residual standard deviation of the noisiest target over the quietest's
  above 2 with the Brown-Forsythe test at p < 0.01 (`scipy.stats.levene`, median-centred);
* `family_structure`: sources' mean effects differ between taxonomy families, one-way ANOVA
  at p < 0.05 (`scipy.stats.f_oneway`), run only where two families have two sources or more;
* `missing_cells`: more than 10 % of the (source, target, language, seed) cells that the
  grid's own sources, languages and seeds imply have no gain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from xltransfer.analysis.gains import primary_rows, zero_shot_rows

KURTOSIS_ABOVE = 1.0
KURTOSIS_P = 0.01
KURTOSIS_MIN_RESIDUALS = 20
NOISE_RATIO_ABOVE = 2.0
NOISE_P = 0.01
FAMILY_P = 0.05
MISSING_ABOVE = 0.10


@dataclass(frozen=True)
class AssumptionCheck:
    """One check of one model's grid: whether it breaks the assumption, and its numbers."""

    name: str
    breaks: bool
    statistic: float
    p_value: float
    detail: str


def zero_shot_cells(gains: pd.DataFrame, source_language: str | None) -> pd.DataFrame:
    """The primary zero-shot gains, one row per (model, source, target, language, seed); every
    primary row where `source_language` is None (a published grid without a language axis)."""
    rows = zero_shot_rows(primary_rows(gains), source_language)
    return rows[["model", "source", "target", "language", "seed", "gain"]]


def residuals(cells: pd.DataFrame) -> pd.DataFrame:
    """Per (source, target, language), the seed-mean gain with the target's source and language
    means taken out (double centring within the target); NaN cells stay out."""
    means = cells.groupby(["source", "target", "language"], as_index=False)["gain"].mean()
    means = means[np.isfinite(means["gain"])]
    parts = []
    for _, frame in means.groupby("target", sort=True):
        by_source = frame.groupby("source")["gain"].transform("mean")
        by_language = frame.groupby("language")["gain"].transform("mean")
        parts.append(
            frame.assign(residual=frame["gain"] - by_source - by_language + frame["gain"].mean())
        )
    return pd.concat(parts, ignore_index=True) if parts else means.assign(residual=[])


def heavy_tails(table: pd.DataFrame) -> AssumptionCheck:
    scaled = table.groupby("target")["residual"].transform(lambda r: r / r.std(ddof=1))
    values = scaled[np.isfinite(scaled)].to_numpy()
    if len(values) < KURTOSIS_MIN_RESIDUALS:
        return AssumptionCheck("heavy_tails", False, math.nan, math.nan, "too few residuals")
    excess = float(stats.kurtosis(values, fisher=True))
    p = float(stats.kurtosistest(values, alternative="greater").pvalue)
    breaks = excess > KURTOSIS_ABOVE and p < KURTOSIS_P
    return AssumptionCheck("heavy_tails", breaks, excess, p, f"excess kurtosis {excess:.1f}")


def unequal_noise(table: pd.DataFrame) -> AssumptionCheck:
    groups = [g.to_numpy() for _, g in table.groupby("target")["residual"] if len(g) >= 3]
    if len(groups) < 2:
        return AssumptionCheck("unequal_noise", False, math.nan, math.nan, "too few targets")
    spreads = [float(np.std(g, ddof=1)) for g in groups]
    ratio = max(spreads) / min(spreads) if min(spreads) > 0 else math.inf
    p = float(stats.levene(*groups, center="median").pvalue)
    breaks = ratio > NOISE_RATIO_ABOVE and p < NOISE_P
    detail = f"residual SD {min(spreads):.3g} to {max(spreads):.3g} between targets"
    return AssumptionCheck("unequal_noise", breaks, ratio, p, detail)


def family_structure(cells: pd.DataFrame, families: dict[str, str]) -> AssumptionCheck:
    """Sources' effects (their mean gain over the targets, each target centred) by family."""
    means = cells.groupby(["source", "target"], as_index=False)["gain"].mean()
    means["effect"] = means["gain"] - means.groupby("target")["gain"].transform("mean")
    effect = means.groupby("source")["effect"].mean()
    by_family: dict[str, list[float]] = {}
    for source, value in effect.items():
        if source in families and math.isfinite(value):
            by_family.setdefault(families[source], []).append(float(value))
    shared = [v for v in by_family.values() if len(v) >= 2]
    if len(shared) < 2:
        return AssumptionCheck(
            "family_structure", False, math.nan, math.nan, "fewer than two families of 2+ sources"
        )
    result = stats.f_oneway(*by_family.values())  # a one-source family adds no within-df
    p = float(result.pvalue)
    detail = f"{len(by_family)} families of {len(effect)} sources"
    return AssumptionCheck("family_structure", p < FAMILY_P, float(result.statistic), p, detail)


def missing_cells(cells: pd.DataFrame) -> AssumptionCheck:
    """Cells absent or NaN among the grid's sources x each target's languages x seeds."""
    sources, seeds = cells["source"].nunique(), cells["seed"].nunique()
    expected = int(cells.groupby("target")["language"].nunique().sum()) * sources * seeds
    found = int(np.isfinite(cells["gain"]).sum())
    share = 1 - found / expected if expected else 0.0
    detail = f"{100 * share:.0f} % of {expected} cells without a gain"
    return AssumptionCheck("missing_cells", share > MISSING_ABOVE, share, math.nan, detail)


def grid_assumptions(
    gains: pd.DataFrame, source_language: str | None, families: dict[str, str] | None = None
) -> dict[str, list[AssumptionCheck]]:
    """Every check, per model, on the zero-shot primary gains of `gains` (gains.parquet)."""
    checks = {}
    for model, cells in zero_shot_cells(gains, source_language).groupby("model", sort=True):
        table = residuals(cells)
        checks[str(model)] = [
            heavy_tails(table),
            unequal_noise(table),
            family_structure(cells, families or {}),
            missing_cells(cells),
        ]
    return checks
