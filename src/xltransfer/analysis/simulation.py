"""Simulated transfer grids with a known answer, for calibrating the workflow's statistics.

A grid has `sources` x `targets` pairs, each fine-tuned with `seeds` seeds and evaluated in
`languages` zero-shot languages. The gain of (source s, target t, language l, seed k) is

    slope * x[s, t] + a[s] + b[t] + d[l] + c[t, l] + u[s, t] + v[s, t, k] + e[s, t, l, k]

with x the similarity (standard normal; a share `similarity_source_share` of its variance is a
component g[s] shared by all pairs of a source), a, b, d, c the source, target, language and
target x language effects, u the source x target interaction, v the seed noise of one fine-tuned
model (shared by all the languages it is evaluated in) and e the evaluation noise. Every effect
is normal with the standard deviation in `Effects`; `slope` is in the same units, per standard
deviation of similarity. Grids go through the same `analysis.correlate` and
`mixed_model.mixed_effects` code the workflow runs (with fewer resamples, see `run_grid`).

`Misspecification` breaks that model the way real grids do, each alone or together, while the
null (no effect of similarity) still holds: heavy-tailed noise and diverged fine-tunes, targets
whose noise differs up to a ratio, a task-family block structure in both the gains and the
similarity (independent draws, so no relation, but clustered dependence), failed fine-tunes
(missing cells) and unequal numbers of languages per target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import optimize, stats

from xltransfer.analysis.gains import InferenceSettings, correlate, zero_shot_pairs
from xltransfer.analysis.inference import bootstrap_ci, permutation_pvalue
from xltransfer.analysis.mixed_model import mixed_effects
from xltransfer.analysis.verdict import verdict


@dataclass(frozen=True)
class GridShape:
    """Numbers of sources, targets, zero-shot languages and seeds of a grid."""

    sources: int
    targets: int
    languages: int
    seeds: int = 1


DEMO = GridShape(7, 5, 5, 1)
XTREME = GridShape(10, 9, 10, 3)


@dataclass(frozen=True)
class Effects:
    """Standard deviations of the simulated effects (gain units) and the similarity's source
    share (0: similarity independent across a source's pairs)."""

    source: float = 1.0
    target: float = 1.0
    language: float = 0.5
    target_language: float = 0.5
    pair: float = 0.5
    seed: float = 0.5
    evaluation: float = 0.5
    similarity_source_share: float = 0.0

    def within_target_variance(self, shape: GridShape) -> float:
        """Variance of a pair-mean gain around slope * x within one target (no effect of x)."""
        return (
            self.source**2
            + self.pair**2
            + self.seed**2 / shape.seeds
            + self.evaluation**2 / (shape.languages * shape.seeds)
        )

    def gain_source_share(self, shape: GridShape) -> float:
        """Share of that variance that every pair of a source shares (its source effect)."""
        return self.source**2 / self.within_target_variance(shape)


@dataclass(frozen=True)
class Misspecification:
    """How a simulated grid departs from the additive normal model (the defaults: not at all).

    `tails_df`: seed and evaluation noise from Student's t with this many degrees of freedom,
    scaled to the same standard deviation. `diverged`: share of fine-tunes (source, target,
    seed) that diverged, their gain lowered by `diverged_drop` within-target standard
    deviations in every language. `target_noise_ratio`: pair, seed and evaluation noise scaled
    per target from 1 to this ratio (log-spaced). `families`: sources and targets dealt round
    the families in turn, and a family x family block effect of standard deviation
    `family_sd` added to the gains and, drawn independently, to the similarity. `missing`:
    share of fine-tunes that failed, their rows dropped (every target keeps three sources).
    `language_counts`: zero-shot languages per target, cycled over the targets (the grid's
    `languages` must be at least their maximum)."""

    tails_df: float | None = None
    diverged: float = 0.0
    diverged_drop: float = 5.0
    target_noise_ratio: float = 1.0
    families: int = 0
    family_sd: float = 1.0
    missing: float = 0.0
    language_counts: tuple[int, ...] | None = None


NO_MISSPECIFICATION = Misspecification()


def _noise(rng: np.random.Generator, size: tuple[int, ...], tails_df: float | None) -> np.ndarray:
    """Unit-variance noise: normal, or Student's t scaled to variance 1."""
    if tails_df is None:
        return rng.normal(size=size)
    return rng.standard_t(tails_df, size=size) * math.sqrt((tails_df - 2) / tails_df)


def _failed_fine_tunes(
    rng: np.random.Generator, sources: int, targets: int, seeds: int, share: float
) -> np.ndarray:
    """A (source, target, seed) mask of failed fine-tunes; every target keeps three sources."""
    failed = rng.random((sources, targets, seeds)) < share
    for target in range(targets):
        alive = np.flatnonzero(~failed[:, target, :].all(axis=1))
        if len(alive) < min(3, sources):
            revived = rng.choice(
                np.setdiff1d(np.arange(sources), alive), min(3, sources) - len(alive), False
            )
            failed[revived, target, :] = False
    return failed


def simulate_grid(
    shape: GridShape,
    slope: float,
    effects: Effects,
    rng: np.random.Generator,
    misspecified: Misspecification = NO_MISSPECIFICATION,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One grid: (gains in `analysis.GAIN_COLUMNS` layout, similarity table of method `sim`)."""
    s, t, n_lang, k = shape.sources, shape.targets, shape.languages, shape.seeds
    bad = misspecified
    share = effects.similarity_source_share
    x = math.sqrt(share) * rng.normal(size=(s, 1)) + math.sqrt(1 - share) * rng.normal(size=(s, t))
    scale = np.geomspace(1.0, bad.target_noise_ratio, t)[None, :]  # per target
    pair = (
        slope * x
        + effects.source * rng.normal(size=(s, 1))
        + effects.target * rng.normal(size=(1, t))
        + effects.pair * scale * rng.normal(size=(s, t))
    )
    if bad.families:
        family_of_source, family_of_target = (
            np.arange(s) % bad.families,
            np.arange(t) % bad.families,
        )
        blocks = bad.family_sd * rng.normal(size=(bad.families, bad.families))
        pair += blocks[np.ix_(family_of_source, family_of_target)]
        similar = bad.family_sd * rng.normal(size=(bad.families, bad.families))
        x = x + similar[np.ix_(family_of_source, family_of_target)]
        pair += slope * similar[np.ix_(family_of_source, family_of_target)]
    per_language = effects.language * rng.normal(size=(1, 1, n_lang)) + (
        effects.target_language * rng.normal(size=(1, t, n_lang))
    )
    fine_tune = effects.seed * scale[:, :, None, None] * _noise(rng, (s, t, 1, k), bad.tails_df)
    if bad.diverged:
        diverged = rng.random((s, t, 1, k)) < bad.diverged
        drop = bad.diverged_drop * math.sqrt(effects.within_target_variance(shape))
        fine_tune = fine_tune - drop * diverged
    evaluation = effects.evaluation * scale[:, :, None, None]
    gain = (
        pair[:, :, None, None]
        + per_language[:, :, :, None]
        + fine_tune
        + evaluation * _noise(rng, (s, t, n_lang, k), bad.tails_df)
    )
    index = pd.MultiIndex.from_product(
        [
            [f"s{i:02d}" for i in range(s)],
            [f"t{j:02d}" for j in range(t)],
            [f"l{m:02d}" for m in range(n_lang)],
            range(k),
        ],
        names=["source", "target", "language", "seed"],
    )
    gains = pd.DataFrame({"gain": gain.ravel()}, index=index).reset_index()
    keep = np.ones(gain.shape, bool)
    if bad.missing:
        failed = _failed_fine_tunes(rng, s, t, k, bad.missing)
        keep &= ~failed[:, :, None, :]
    if bad.language_counts:
        counts = np.resize(np.asarray(bad.language_counts), t)
        if counts.max() > n_lang:
            raise ValueError(f"language_counts up to {counts.max()} need languages >= that")
        keep &= (np.arange(n_lang)[None, :] < counts[:, None])[None, :, :, None]
    gains = gains[keep.ravel()].reset_index(drop=True)
    gains = gains.assign(model="m", metric="score", primary=True, score=gains["gain"])
    gains["baseline_score"] = 0.0
    similarity = pd.DataFrame(
        {
            "model": "m",
            "source": np.repeat([f"s{i:02d}" for i in range(s)], t),
            "target": np.tile([f"t{j:02d}" for j in range(t)], s),
            "method": "sim",
            "value": x.ravel(),
        }
    )
    return gains, similarity


def true_spearman(shape: GridShape, slope: float, effects: Effects) -> float:
    """The population within-target Spearman correlation of similarity and pair-mean gain:
    what the pooled `within_target_rank` statistic estimates (normal model, Pearson's 6/pi
    arcsin(rho / 2))."""
    rho = slope / math.sqrt(slope**2 + effects.within_target_variance(shape))
    return 6 / math.pi * math.asin(rho / 2)


# Reduced resamples for simulation speed; the p-value resolution (1/500) is ample at alpha 0.05.
SIMULATION_SETTINGS = InferenceSettings(bootstrap_resamples=499, permutation_resamples=499)


def run_grid(
    shape: GridShape,
    slope: float,
    effects: Effects,
    seed: int,
    settings: InferenceSettings = SIMULATION_SETTINGS,
    variants: tuple[str, ...] = ("pair_fixed", "pair_random_source"),
    scopes: tuple[str, ...] = ("pooled",),
    legacy: bool = False,
    tag: str = "pooled",
    misspecified: Misspecification = NO_MISSPECIFICATION,
) -> dict[str, float]:
    """Simulate one grid and put it through `correlate` and `mixed_effects`.

    Returns, per test, whether it rejected at 0.05 (`reject:...`) and, per interval, whether it
    covered the truth (`cover:...`): the pooled correlation's interval against 0 when slope is 0
    and against `true_spearman` for Spearman; the slope's against slope x the sample standard
    deviation of similarity (the per-SD slope the fit standardises to). `legacy` adds the
    pooled Spearman as it was computed before calibration (raw values, similarity permuted
    within targets, percentile bootstrap) for comparison; `tag` names the pooled rows. The
    answer's verdict is `verdict:predicts` (its primary test, the pooled Spearman's permutation,
    rejects) and `verdict:any` (that or the secondary pair_fixed test rejects). `misspecified`
    breaks the model's assumptions (`Misspecification`): the coverage truths are then those of
    the null only.
    """
    rng = np.random.default_rng(seed)
    gains, similarity = simulate_grid(shape, slope, effects, rng, misspecified)
    out: dict[str, float] = {}
    pooled_rejects = False
    table = correlate(gains, similarity, None, replace(settings, seed=seed), scopes=scopes)
    for row in table.itertuples(index=False):
        name = f"{tag}:{row.statistic}"
        if row.scope == "pooled":
            out[f"reject:{name}:permutation"] = float(row.p_permutation < 0.05)
            if row.statistic == "spearman":  # the answer's primary test (one method)
                pooled_rejects = bool(row.p_adjusted < 0.05)
            out[f"reject:{name}:scipy"] = float(row.p_value < 0.05)
            truth = (
                0.0
                if slope == 0
                else (true_spearman(shape, slope, effects) if row.statistic == "spearman" else None)
            )
            if truth is not None:
                out[f"cover:{name}"] = float(row.ci_low <= truth <= row.ci_high)
        else:  # per target: report the share of targets rejecting / covering 0
            key = f"{row.scope}:{row.statistic}"
            out.setdefault(f"_n:{key}", 0.0)
            out[f"_n:{key}"] += 1
            out[f"reject:{key}:permutation"] = out.get(f"reject:{key}:permutation", 0.0) + float(
                row.p_permutation < 0.05
            )
            if slope == 0:
                out[f"cover:{key}"] = out.get(f"cover:{key}", 0.0) + float(
                    row.ci_low <= 0 <= row.ci_high
                )
    for key in [k for k in out if k.startswith("_n:")]:
        n = out.pop(key)
        base = key[3:]
        out[f"reject:{base}:permutation"] /= n
        if f"cover:{base}" in out:
            out[f"cover:{base}"] /= n
    pairs = zero_shot_pairs(gains, similarity, None)
    if legacy:
        out.update(_legacy_pooled(pairs, slope, settings, seed))
    for variant in variants:
        fit = mixed_effects(pairs, settings.confidence, variant).iloc[0]
        rows = pairs if variant == "per_language" else pairs.drop_duplicates(["source", "target"])
        truth = slope * rows["value"].std()
        out[f"reject:mixed:{variant}"] = float(fit["p_value"] < 0.05)
        out[f"cover:mixed:{variant}"] = float(fit["ci_low"] <= truth <= fit["ci_high"])
    if "pooled" in scopes:
        secondary = bool(out.get("reject:mixed:pair_fixed", 0.0))
        said = verdict(pooled_rejects, secondary)
        out[f"reject:{tag}:verdict:predicts"] = float(said == "predicts")
        out[f"reject:{tag}:verdict:any"] = float(said != "none")
    return out


def _legacy_pooled(
    pairs: pd.DataFrame, slope: float, settings: InferenceSettings, seed: int
) -> dict[str, float]:
    """The old pooled test and interval: raw pair means, within-target shuffle, percentile."""
    means = pairs.groupby(["source", "target"], as_index=False)[["gain", "value"]].mean()
    x, y = means["value"].to_numpy(), means["gain"].to_numpy()
    p = permutation_pvalue(
        x, y, means["target"].to_numpy(), "spearman", settings.permutation_resamples, seed
    )
    low, high = bootstrap_ci(
        x, y, means["source"].to_numpy(), "spearman", settings.bootstrap_resamples, 0.95, seed
    )
    out = {"reject:legacy_pooled:spearman:permutation": float(p < 0.05)}
    if slope == 0:  # raw pooling mixes target levels in: its truth is 0 only without an effect
        out["cover:legacy_pooled:spearman"] = float(low <= 0 <= high)
    return out


def run_setting(
    shape: GridShape, slope: float, effects: Effects, grids: int, first_seed: int = 0, **kwargs
) -> dict[str, float]:
    """Mean of `run_grid` over `grids` grids (rates of rejection and coverage)."""
    results = pd.DataFrame(
        [run_grid(shape, slope, effects, first_seed + i, **kwargs) for i in range(grids)]
    )
    return results.mean().to_dict()


def _design_effect(shape: GridShape, effects: Effects) -> float:
    """Variance inflation of a pooled correlation whose x and y both share a source component
    across the targets of a source: 1 + (T - 1) x source share of x x source share of y."""
    return 1 + (shape.targets - 1) * effects.similarity_source_share * effects.gain_source_share(
        shape
    )


def pooled_power(
    shape: GridShape, spearman: float, effects: Effects | None = None, alpha: float = 0.05
) -> float:
    """Approximate power of the pooled permutation test at a true within-target Spearman.

    Fisher z of the pooled rank correlation with the Spearman variance factor 1.06 (Fieller et
    al. 1957) and `_design_effect`; checked against simulation in benchmarks/calibration.py.
    """
    effects = effects or Effects()
    n = shape.sources * shape.targets
    if n <= 3:
        return math.nan
    se = math.sqrt(1.06 * _design_effect(shape, effects) / (n - 3))
    z = math.atanh(min(abs(spearman), 0.999999)) / se
    critical = stats.norm.ppf(1 - alpha / 2)
    return float(stats.norm.sf(critical - z) + stats.norm.cdf(-critical - z))


def minimum_detectable_effect(
    shape: GridShape,
    power: float = 0.8,
    alpha: float = 0.05,
    effects: Effects | None = None,
) -> dict[str, float]:
    """The smallest effect the pooled test detects with `power` on a grid of `shape`.

    `spearman`: the true within-target Spearman correlation (does not depend on languages and
    seeds); `slope`: the same as a gain slope per standard deviation of similarity in `effects`'
    units, where languages and seeds shrink the noise of the pair means. By default `effects`
    assumes half the similarity variance is source-level (the unfavourable case measured).
    """
    effects = effects or Effects(similarity_source_share=0.5)
    if not pooled_power(shape, 0.999, effects, alpha) >= power:
        return {"spearman": math.nan, "slope": math.nan}
    rho_s = optimize.brentq(lambda r: pooled_power(shape, r, effects, alpha) - power, 1e-6, 0.999)
    rho = 2 * math.sin(math.pi * rho_s / 6)
    slope = rho * math.sqrt(effects.within_target_variance(shape) / (1 - rho**2))
    return {"spearman": float(rho_s), "slope": float(slope)}
