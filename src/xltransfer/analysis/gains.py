"""Aggregate evaluation shards, compute transfer gains and correlate them with task similarity."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from xltransfer.analysis.inference import (
    INTERVALS,
    POOLINGS,
    adjust_pvalues,
    bootstrap_ci,
    jackknife_ci,
    permutation_pvalue,
    source_permutation_pvalue,
    within_strata,
)
from xltransfer.analysis.stats import STATISTICS, correlations
from xltransfer.io import read_parquets_checked

SCORE_KEY = ["model", "source", "target", "language", "seed", "metric"]
GAIN_COLUMNS = [
    "model",
    "source",
    "target",
    "language",
    "seed",
    "metric",
    "primary",
    "score",
    "baseline_score",
    "gain",
]
# Optional column of a published gains table: its own gold ranking of the sources
# (`published.gold_label`), by which source selection takes the gold top k for Regret@k.
GOLD_LABEL = "gold_label"
SUMMARY_COLUMNS = [
    "model",
    "source",
    "target",
    "metric",
    "gain_mean",
    "gain_std",
    "n_seeds",
    "n_languages",
    "spread_exceeds_gain",
]
CORRELATION_COLUMNS = [
    "model",
    "method",
    "scope",
    "target",
    "language",
    "statistic",
    "estimate",
    "p_value",
    "n",
    "ci_low",
    "ci_high",
    "p_permutation",
    "p_adjusted",
]
# Label used in the language column for scopes that average over non-source languages.
NON_EN = "non-en"


class MissingShardsError(RuntimeError):
    """Raised when expected score shards do not exist."""

    def __init__(self, missing: list[Path]) -> None:
        self.missing = list(missing)
        lines = "\n".join(str(p) for p in self.missing)
        super().__init__(f"{len(self.missing)} expected score shard(s) missing:\n{lines}")


def _format_keys(keys: pd.DataFrame, limit: int = 20) -> str:
    """Render key rows one per line, truncated so error messages stay readable."""
    rows = [
        ", ".join(f"{c}={v}" for c, v in zip(keys.columns, row, strict=True))
        for row in keys.itertuples(index=False)
    ]
    more = f"\n... and {len(rows) - limit} more" if len(rows) > limit else ""
    return "\n".join(rows[:limit]) + more


def _require_columns(df: pd.DataFrame, columns: list[str], what: str) -> None:
    """Raise ValueError if `df` lacks any of `columns`."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s): {', '.join(missing)}")


def _check_unique(df: pd.DataFrame, key: list[str], what: str) -> None:
    """Raise ValueError listing the keys that occur more than once."""
    dup = df.duplicated(key, keep=False)
    if dup.any():
        keys = df.loc[dup, key].drop_duplicates()
        raise ValueError(f"duplicate {what} keys ({', '.join(key)}):\n{_format_keys(keys)}")


def aggregate_scores(expected: list[Path], allow_partial: bool) -> pd.DataFrame:
    """Concatenate score shards into one deterministically sorted table."""
    if not expected:
        raise ValueError("no score shards expected")
    paths = [Path(p) for p in expected]
    missing = [p for p in paths if not p.exists()]
    present = [p for p in paths if p.exists()]
    if missing:
        if not allow_partial or not present:
            raise MissingShardsError(missing)
        listing = "\n".join(str(p) for p in missing)
        warnings.warn(
            f"aggregating partial results; {len(missing)} shard(s) missing:\n{listing}",
            UserWarning,
            stacklevel=2,
        )
    # Unreadable shards are all moved aside first, so one rerun recomputes every one of them.
    frames = read_parquets_checked(present)
    scores = pd.concat(frames, ignore_index=True)
    _require_columns(scores, SCORE_KEY + ["value", "primary"], "scores")
    _check_unique(scores, SCORE_KEY, "score")
    scores = scores.astype({"seed": "int64", "value": "float64", "primary": "bool"})
    if "shard" in scores.columns:
        scores = scores.astype({"shard": "int64"})
    # The key is unique, so sorting by it alone gives a total, reproducible order.
    return scores.sort_values(SCORE_KEY, kind="mergesort").reset_index(drop=True)


def compute_gains(scores: pd.DataFrame, baseline_source: str = "none") -> pd.DataFrame:
    """Gain of each intermediate source over the no-intermediate baseline, row by row."""
    _require_columns(scores, SCORE_KEY + ["value", "primary"], "scores")
    join_key = ["model", "target", "language", "seed", "metric"]
    is_base = scores["source"] == baseline_source
    base = scores.loc[is_base, join_key + ["value"]].rename(columns={"value": "baseline_score"})
    _check_unique(base, join_key, "baseline score")
    treated = scores.loc[~is_base, SCORE_KEY + ["primary", "value"]].rename(
        columns={"value": "score"}
    )
    merged = treated.merge(base, on=join_key, how="left", validate="many_to_one", indicator=True)
    # Test row presence rather than NaN: a baseline that exists but scored NaN is not "missing".
    absent = (merged["_merge"] == "left_only").to_numpy()
    if absent.any():
        keys = merged.loc[absent, join_key].drop_duplicates()
        raise ValueError(
            f"missing baseline (source={baseline_source!r}) for {len(keys)} key(s):\n"
            f"{_format_keys(keys)}"
        )
    merged["gain"] = merged["score"] - merged["baseline_score"]
    merged = merged[GAIN_COLUMNS]
    return merged.sort_values(SCORE_KEY, kind="mergesort").reset_index(drop=True)


def primary_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Primary-metric rows, checking there is exactly one primary metric per (model, target)."""
    prim = df.loc[df["primary"].astype(bool)]
    n_metrics = prim.groupby(["model", "target"])["metric"].nunique()
    ambiguous = n_metrics[n_metrics > 1]
    if len(ambiguous):
        keys = ambiguous.reset_index()[["model", "target"]]
        raise ValueError(f"more than one primary metric for:\n{_format_keys(keys)}")
    return prim


def zero_shot_rows(rows: pd.DataFrame, source_language: str | None) -> pd.DataFrame:
    """Rows not in the source language; every row when `source_language` is None (a published
    grid without a language axis)."""
    if source_language is None:
        return rows
    return rows.loc[rows["language"] != source_language]


def summarize_gains(gains: pd.DataFrame, source_language: str | None = "en") -> pd.DataFrame:
    """Primary-metric gain per (model, source, target), averaged over seeds and non-English.

    `source_language=None`: no language axis (a published grid); every row is kept.
    """
    _require_columns(gains, GAIN_COLUMNS, "gains")
    prim = primary_rows(gains)
    # Zero-shot transfer is about the languages the model was NOT fine-tuned in, so the
    # source language is excluded before averaging.
    zs = zero_shot_rows(prim, source_language)
    triple = ["model", "source", "target", "metric"]
    # Average languages within a seed first, so the spread reported is across seeds (runs).
    per_seed = zs.groupby(triple + ["seed"], as_index=False)["gain"].mean()
    out = per_seed.groupby(triple, as_index=False).agg(
        gain_mean=("gain", "mean"),
        gain_std=("gain", "std"),
        n_seeds=("seed", "nunique"),
    )
    n_lang = zs.groupby(triple, as_index=False)["language"].nunique()
    out = out.merge(n_lang.rename(columns={"language": "n_languages"}), on=triple)
    out = out.astype({"n_seeds": "int64", "n_languages": "int64", "gain_std": "float64"})
    # A gain smaller than its own seed-to-seed spread is not a finding (one seed: unknown).
    out["spread_exceeds_gain"] = out["gain_std"] > out["gain_mean"].abs()
    return out[SUMMARY_COLUMNS].sort_values(triple, kind="mergesort").reset_index(drop=True)


def _checked_similarity(gains: pd.DataFrame, similarity: pd.DataFrame) -> pd.DataFrame:
    """Validate that every gain triple has a similarity value for every method present, but
    for whole (model, target) blocks a method does not cover (fine-tuned TaskEmb has no value
    where the target or the model has no task head): a pair missing inside a block it covers
    is an error."""
    _require_columns(similarity, ["model", "source", "target", "method", "value"], "similarity")
    if similarity.empty:
        raise ValueError("similarity table is empty")
    _check_unique(similarity, ["model", "source", "target", "method"], "similarity")
    triples = gains[["model", "source", "target"]].drop_duplicates()
    problems = []
    for method in sorted(similarity["method"].unique()):
        sim_m = similarity.loc[similarity["method"] == method, ["model", "source", "target"]]
        have = triples.merge(sim_m, how="left", indicator=True)
        lacking = have.loc[have["_merge"] == "left_only", ["model", "source", "target"]]
        blocks = sim_m[["model", "target"]].drop_duplicates()
        lacking = lacking.merge(blocks, on=["model", "target"])  # inside a covered block
        if len(lacking):
            problems.append(f"method {method!r}:\n{_format_keys(lacking)}")
    if problems:
        raise ValueError("missing similarity values for gain pairs:\n" + "\n".join(problems))
    return similarity


@dataclass(frozen=True)
class InferenceSettings:
    """Resampling and multiple-testing settings of `correlate` (config key `analysis`).

    `pooled`: how similarity and gain are transformed within each target before the pooled
    correlation (`within_target_rank`, `z_score` or `raw`); `interval`: `jackknife` (over
    sources, Fisher z) or the `bca` or `percentile` bootstrap over sources; `mixed_model`: the
    variant of `xltransfer.analysis.mixed_model.mixed_effects`.
    """

    bootstrap_resamples: int = 2000
    permutation_resamples: int = 2000
    confidence: float = 0.95
    p_adjust: str = "holm"
    seed: int = 0
    pooled: str = "within_target_rank"
    interval: str = "jackknife"
    mixed_model: str = "pair_fixed"

    def __post_init__(self) -> None:
        if self.pooled not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooled!r}; choose from {list(POOLINGS)}")
        if self.interval not in INTERVALS:
            raise ValueError(f"unknown interval {self.interval!r}; choose from {list(INTERVALS)}")


def _correlate_groups(
    data: pd.DataFrame,
    by: list[str],
    scope: str,
    fixed: dict[str, str],
    settings: InferenceSettings,
) -> list[dict[str, object]]:
    """Correlate similarity vs gain within each group of `data`, one row per statistic.

    Sources are the resampling unit. Within one target: an interval over sources (jackknife or
    bootstrap, `settings.interval`) and a permutation of similarity across sources. Pooled over
    targets: similarity and gain are first transformed within each target (`settings.pooled`),
    the interval re-transforms every resample or leave-one-out set, and the permutation test
    permutes source labels jointly across targets
    (`source_permutation_pvalue`). The scipy `p_value` treats rows as independent: exact for one
    target and normal data, not calibrated for pooled rows (kept for reference).
    """
    rows: list[dict[str, object]] = []
    for key, grp in data.groupby(by, sort=True):
        ident = dict(zip(by, key, strict=True))
        x, y = grp["value"].to_numpy(), grp["gain"].to_numpy()
        sources = grp["source"].to_numpy()
        pooled = "target" not in ident
        targets = grp["target"].to_numpy() if pooled else None
        pooling = settings.pooled if pooled else "raw"
        tx = within_strata(x, targets, pooling)[0]
        ty = within_strata(y, targets, pooling)[0]
        result = correlations(tx, ty)
        for stat in STATISTICS:
            est, p = result[stat]
            if settings.interval == "jackknife":
                low, high = jackknife_ci(x, y, sources, stat, settings.confidence, targets, pooling)
            else:
                low, high = bootstrap_ci(
                    x,
                    y,
                    sources,
                    stat,
                    settings.bootstrap_resamples,
                    settings.confidence,
                    settings.seed,
                    strata=targets,
                    pooling=pooling,
                    method=settings.interval,
                )
            if pooled:
                p_perm = source_permutation_pvalue(
                    x,
                    y,
                    sources,
                    targets,
                    stat,
                    settings.permutation_resamples,
                    settings.seed,
                    pooling,
                )
            else:
                p_perm = permutation_pvalue(
                    x, y, None, stat, settings.permutation_resamples, settings.seed
                )
            rows.append(
                {
                    "model": ident["model"],
                    "method": ident["method"],
                    "scope": scope,
                    "target": ident.get("target", fixed.get("target")),
                    "language": ident.get("language", fixed.get("language")),
                    "statistic": stat,
                    "estimate": est,
                    "p_value": p,
                    "n": len(grp),
                    "ci_low": low,
                    "ci_high": high,
                    "p_permutation": p_perm,
                }
            )
    return rows


SCOPES = ("target", "target_language", "pooled")


def correlate(
    gains: pd.DataFrame,
    similarity: pd.DataFrame,
    source_language: str | None = "en",
    settings: InferenceSettings | None = None,
    scopes: tuple[str, ...] = SCOPES,
) -> pd.DataFrame:
    """Correlate task similarity with primary-metric gain at target, language and pooled scope.

    Each row has a bootstrap interval over source tasks, a permutation p-value, and that p-value
    adjusted (Holm or Benjamini-Hochberg) within its family: one model, scope and statistic.
    The permutation p-values are exact under exchangeable sources (pooled: source labels permuted
    jointly across targets); the intervals are approximate (jackknife by default), see
    xltransfer.analysis.inference. `source_language=None`: no language axis, every row is zero-shot.
    `scopes` limits the scopes computed (the calibration benchmark computes only what it checks).
    """
    settings = settings or InferenceSettings()
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scope(s) {sorted(unknown)}; choose from {list(SCOPES)}")
    _require_columns(gains, GAIN_COLUMNS, "gains")
    prim = primary_rows(gains)
    sim = _checked_similarity(prim, similarity)[["model", "source", "target", "method", "value"]]

    summary = summarize_gains(prim, source_language=source_language)
    per_pair = summary.rename(columns={"gain_mean": "gain"})[["model", "source", "target", "gain"]]
    per_pair = per_pair.merge(sim, on=["model", "source", "target"])

    rows = []
    if "target" in scopes:
        rows += _correlate_groups(
            per_pair, ["model", "method", "target"], "target", {"language": NON_EN}, settings
        )
    if "target_language" in scopes:
        per_lang = _gains_per_language(prim, sim)
        rows += _correlate_groups(
            per_lang, ["model", "method", "target", "language"], "target_language", {}, settings
        )
    if "pooled" in scopes:
        rows += _correlate_groups(
            per_pair,
            ["model", "method"],
            "pooled",
            {"target": "*", "language": NON_EN},
            settings,
        )
    out = pd.DataFrame(rows, columns=CORRELATION_COLUMNS)
    out["p_adjusted"] = np.nan
    for _, family in out.groupby(["model", "scope", "statistic"], sort=False):
        out.loc[family.index, "p_adjusted"] = adjust_pvalues(
            family["p_permutation"].to_numpy(), settings.p_adjust
        )
    floats = ["estimate", "p_value", "ci_low", "ci_high", "p_permutation", "p_adjusted"]
    return out.astype({**dict.fromkeys(floats, "float64"), "n": "int64"})


def _gains_per_language(prim: pd.DataFrame, sim: pd.DataFrame) -> pd.DataFrame:
    """Gain per (model, source, target, language), mean over seeds, beside each similarity."""
    keys = ["model", "source", "target", "language"]
    per_language = prim.groupby(keys, as_index=False)["gain"].mean()
    return per_language.merge(sim, on=["model", "source", "target"])


def zero_shot_pairs(
    gains: pd.DataFrame, similarity: pd.DataFrame, source_language: str | None = "en"
) -> pd.DataFrame:
    """Primary-metric gain per (model, source, target, non-source language), mean over seeds,
    beside each method's similarity: the rows of the pooled mixed model (which averages them per
    pair by default). `source_language=None`: no language axis, every row is kept."""
    _require_columns(gains, GAIN_COLUMNS, "gains")
    prim = primary_rows(gains)
    sim = _checked_similarity(prim, similarity)[["model", "source", "target", "method", "value"]]
    return _gains_per_language(zero_shot_rows(prim, source_language), sim)


def transfer_gaps(scores: pd.DataFrame, source_language: str = "en") -> pd.DataFrame:
    """Per (model, target, language): the share of the English score lost in zero-shot transfer.

    From the target-only baseline runs (source `none`), mean over seeds: 100 x (score in the
    source language - score in the language) / score in the source language. A relative gap
    puts accuracy and STS correlation on one scale (Choi et al., 2021 compare tasks this way).
    """
    _require_columns(scores, SCORE_KEY + ["value", "primary"], "scores")
    prim = primary_rows(scores)
    base = prim.loc[prim["source"] == "none"]
    mean = base.groupby(["model", "target", "language"], as_index=False)["value"].mean()
    english = mean.loc[mean["language"] == source_language, ["model", "target", "value"]]
    merged = mean.loc[mean["language"] != source_language].merge(
        english.rename(columns={"value": "english"}), on=["model", "target"]
    )
    merged["gap_percent"] = 100 * (merged["english"] - merged["value"]) / merged["english"]
    return merged.rename(columns={"value": "score"})[
        ["model", "target", "language", "english", "score", "gap_percent"]
    ].reset_index(drop=True)


def language_summary(scores: pd.DataFrame, source_language: str = "en") -> pd.DataFrame:
    """Primary-metric score per language for each (model, source, target, seed), plus averages."""
    _require_columns(scores, SCORE_KEY + ["value", "primary"], "scores")
    prim = primary_rows(scores)
    index = ["model", "source", "target", "seed", "metric"]
    wide = prim.pivot_table(index=index, columns="language", values="value", aggfunc="first")
    langs = sorted(wide.columns, key=lambda lang: (lang != source_language, lang))
    wide = wide[langs]
    non_en = [lang for lang in langs if lang != source_language]
    # XTREME-style tables average all languages including English; zero-shot claims should
    # rely on the non-English average, so both are reported side by side.
    wide["avg_all"] = wide[langs].mean(axis=1)
    wide["avg_non_en"] = wide[non_en].mean(axis=1) if non_en else math.nan
    wide.columns.name = None
    return wide.reset_index()


def _fmt(x: float, spec: str) -> str:
    """Format a number, spelling out undefined values."""
    return "undefined" if x is None or not np.isfinite(x) else format(x, spec)


def _fmt_p(p: float) -> str:
    """Format a p-value with two decimals, switching to significant digits when tiny."""
    return _fmt(p, ".2f" if p is not None and p >= 0.01 else ".2g")


def headline(correlations: pd.DataFrame) -> str:
    """One sentence per (model, method): the pooled Spearman correlation, its interval and p."""
    pooled = correlations.loc[
        (correlations["scope"] == "pooled") & (correlations["statistic"] == "spearman")
    ].sort_values(["model", "method"], kind="mergesort")
    if pooled.empty:
        return "No pooled Spearman correlations available."
    lines = []
    for row in pooled.itertuples(index=False):
        lines.append(
            f"{row.model}, {row.method} similarity vs gain "
            f"(pooled over {int(row.n)} source-target pairs): "
            f"Spearman ρ = {_fmt(row.estimate, '.2f')}, 95% CI over sources "
            f"[{_fmt(row.ci_low, '.2f')}, {_fmt(row.ci_high, '.2f')}], "
            f"permutation p = {_fmt_p(row.p_permutation)}"
        )
    return "\n".join(lines)
