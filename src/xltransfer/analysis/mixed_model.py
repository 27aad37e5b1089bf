"""The pooled slope of gain on similarity, per (model, method), in one of three variants.

Similarity is standardised within each method, so the slope is the change in gain per standard
deviation of similarity and comparable across methods. That scale is this grid's own: every row
says so (`slope_scale`) and gives the standard deviation it divided by (`similarity_sd`), so
`slope / similarity_sd` is the change per unit of similarity.

The languages of a (source, target) pair share its similarity and its fine-tuned models, and all
pairs of a source share that source's quality, so the unit of evidence is the pair, clustered
by source. Variants
(`analysis.mixed_model`):

- `pair_fixed` (default): one row per pair (gain averaged over non-English languages and seeds),
  OLS with fixed effects for source and target, t-test on n - rank(X) degrees of freedom. The
  slope is identified from similarity differences within sources and within targets, so neither a
  source's overall quality nor a similarity shared by all its pairs can fake a slope. Exact
  (p-value uniform under no effect, interval at its nominal level) when the pair-level noise is
  independent and normal; the calibration benchmark keeps it within 5 % ± 1.5 % on the demo and
  XTREME shapes.
- `pair_random_source`: one row per pair, target fixed effects and a source random intercept
  (MixedLM, Wald z). Uses between-source variation too, but with 5 to 10 sources the variance of
  the source effect is poorly estimated and the Wald test over-rejects (see BENCHMARKS.md).
- `per_language`: the old fit, one row per (source, target, language) with crossed random
  intercepts for target and language only. It treats the languages of a pair as independent
  evidence and over-rejects badly (a third to a half of null grids); kept for comparison.

Crossed effects follow statsmodels' recipe: one group holding everything, with a variance
component per factor.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

MIXED_COLUMNS = [
    "model",
    "method",
    "slope",
    "std_error",
    "ci_low",
    "ci_high",
    "p_value",
    "n",
    "n_targets",
    "n_languages",
    "converged",
    "optimizer",
    "notes",
    "variant",
    "n_sources",
    "df",
    "slope_scale",
    "similarity_sd",
]
SLOPE_SCALE = "per standard deviation of this grid's similarity"
VARIANTS = ("pair_fixed", "pair_random_source", "per_language")
NAN_FIT = {
    "slope": math.nan,
    "std_error": math.nan,
    "ci_low": math.nan,
    "ci_high": math.nan,
    "p_value": math.nan,
    "converged": False,
    "optimizer": "",
    "notes": "",
    "df": math.nan,
}


def pair_means(rows: pd.DataFrame) -> pd.DataFrame:
    """Gain and similarity per (source, target): the mean over the rows of each pair."""
    return rows.groupby(["source", "target"], as_index=False, sort=True)[["gain", "value"]].mean()


def fit_pair_fixed(data: pd.DataFrame, confidence: float = 0.95) -> dict[str, float]:
    """OLS of pair-mean gain on standardised similarity with source and target fixed effects.

    t-based interval and p-value on n - rank(X) degrees of freedom: exact under independent normal
    pair-level noise; nan when no degree of freedom is left (e.g. one target)."""
    frame = pair_means(data)
    spread = frame["value"].std()
    if len(frame) < 4 or not spread > 0:
        return dict(NAN_FIT)
    z = ((frame["value"] - frame["value"].mean()) / spread).to_numpy()
    dummies = [
        pd.get_dummies(frame[c], drop_first=True, dtype=float).to_numpy()
        for c in ("source", "target")
    ]
    design = np.column_stack([z, np.ones(len(frame)), *dummies])
    rank = np.linalg.matrix_rank(design)
    nuisance_rank = np.linalg.matrix_rank(design[:, 1:])
    df = len(frame) - rank
    if df < 1 or rank == nuisance_rank:  # similarity is a function of source and target
        return {**NAN_FIT, "notes": "similarity not identified within sources and targets"}
    coef, *_ = np.linalg.lstsq(design, frame["gain"].to_numpy(), rcond=None)
    residual = frame["gain"].to_numpy() - design @ coef
    sigma2 = residual @ residual / df
    std_error = math.sqrt(sigma2 * np.linalg.pinv(design.T @ design)[0, 0])
    slope = float(coef[0])
    quantile = stats.t.ppf(0.5 + confidence / 2, df)
    t_value = slope / std_error if std_error > 0 else math.inf
    return {
        "slope": slope,
        "std_error": std_error,
        "ci_low": slope - quantile * std_error,
        "ci_high": slope + quantile * std_error,
        "p_value": float(2 * stats.t.sf(abs(t_value), df)),
        "converged": True,
        "optimizer": "ols",
        "notes": "",
        "df": float(df),
    }


def fit_pair_random_source(data: pd.DataFrame, confidence: float = 0.95) -> dict[str, float]:
    """MixedLM of pair-mean gain on standardised similarity, target fixed effects and a source
    random intercept (REML, Wald z interval and p-value)."""
    frame = pair_means(data)
    spread = frame["value"].std()
    if len(frame) < 4 or not spread > 0 or frame["source"].nunique() < 2:
        return dict(NAN_FIT)
    frame["similarity"] = (frame["value"] - frame["value"].mean()) / spread
    scale = frame["gain"].std() or 1.0
    frame["gain"] = (frame["gain"] - frame["gain"].mean()) / scale
    formula = "gain ~ similarity" + (" + C(target)" if frame["target"].nunique() > 1 else "")
    model = smf.mixedlm(formula, frame, groups="source")
    optimizer, result, caught = _best_fit(model)
    return _summary(result, optimizer, caught, scale, confidence)


def _summary(result, optimizer: str, caught: list, scale: float, confidence: float) -> dict:
    low, high = result.conf_int(alpha=1 - confidence).loc["similarity"]
    # What is worth reading is kept, e.g. a variance component estimated at zero ("on the
    # boundary"): gains are already differences from each target's own baseline, so the
    # target intercepts often vanish.
    notes = sorted({str(w.message) for w in caught if "Retrying" not in str(w.message)})
    return {
        "slope": float(result.params["similarity"] * scale),
        "std_error": float(result.bse["similarity"] * scale),
        "ci_low": float(low * scale),
        "ci_high": float(high * scale),
        "p_value": float(result.pvalues["similarity"]),
        "converged": bool(result.converged),
        "optimizer": optimizer,
        "notes": "; ".join(notes),
        "df": math.inf,  # Wald z
    }


def fit_slope(data: pd.DataFrame, confidence: float = 0.95) -> dict[str, float]:
    """The `per_language` variant: slope of gain on standardised similarity, one row per
    (source, target, language), with target and language random intercepts (Wald z).

    Not calibrated: rows of one pair or one source are treated as independent."""
    frame = data[["gain", "value", "target", "language"]].copy()
    spread = frame["value"].std()
    if len(frame) < 4 or not spread > 0:
        return dict(NAN_FIT)
    frame["similarity"] = (frame["value"] - frame["value"].mean()) / spread
    # Gains of a few hundredths give variance components near 1e-4, where the optimiser
    # stalls: fit on standardised gains and scale the slope back.
    scale = frame["gain"].std() or 1.0
    frame["gain"] = (frame["gain"] - frame["gain"].mean()) / scale
    frame["everything"] = 1
    components = {}
    if frame["target"].nunique() > 1:
        components["target"] = "0 + C(target)"
    if frame["language"].nunique() > 1:
        components["language"] = "0 + C(language)"
    model = smf.mixedlm(
        "gain ~ similarity", frame, groups="everything", vc_formula=components or None
    )
    optimizer, result, caught = _best_fit(model)
    return _summary(result, optimizer, caught, scale, confidence)


FITS = {
    "pair_fixed": fit_pair_fixed,
    "pair_random_source": fit_pair_random_source,
    "per_language": fit_slope,
}


# Gradient-based L-BFGS first (statsmodels' default); the simplex methods reach boundary optima
# (a variance component at 0) where gradient methods stall and report no convergence.
OPTIMIZERS = ("lbfgs", "nm", "powell")


def _best_fit(model) -> tuple[str, object, list]:
    """The converged REML fit with the highest likelihood over OPTIMIZERS (else the best one)."""
    fits = []
    for optimizer in OPTIMIZERS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = model.fit(reml=True, method=optimizer, maxiter=2000)
            except (np.linalg.LinAlgError, ValueError):
                continue  # e.g. a singular Hessian on the boundary: another optimiser decides
        fits.append((bool(result.converged), float(result.llf), optimizer, result, caught))
    if not fits:
        raise RuntimeError("every MixedLM optimiser failed")
    converged, _, optimizer, result, caught = max(fits, key=lambda fit: (fit[0], fit[1]))
    return optimizer, result, caught


def mixed_effects(
    per_language: pd.DataFrame, confidence: float = 0.95, variant: str = "pair_fixed"
) -> pd.DataFrame:
    """One fitted slope per (model, method) from rows of (model, method, source, target,
    language, gain, value), e.g. `analysis.zero_shot_pairs`. `n` counts the rows fitted: pairs,
    or (pair, language) rows for `per_language`."""
    if variant not in FITS:
        raise ValueError(f"unknown mixed-model variant {variant!r}; choose from {list(VARIANTS)}")
    rows = []
    for (model, method), group in per_language.groupby(["model", "method"], sort=True):
        fitted = len(group) if variant == "per_language" else len(pair_means(group))
        standardised = group if variant == "per_language" else pair_means(group)
        rows.append(
            {
                "model": model,
                "method": method,
                **FITS[variant](group, confidence),
                "n": fitted,
                "n_targets": group["target"].nunique(),
                "n_languages": group["language"].nunique(),
                "variant": variant,
                "n_sources": group["source"].nunique(),
                "slope_scale": SLOPE_SCALE,
                "similarity_sd": float(standardised["value"].std()),
            }
        )
    out = pd.DataFrame(rows, columns=MIXED_COLUMNS)
    return out.astype({"df": "float64"}) if len(out) else out
