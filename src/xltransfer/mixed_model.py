"""The pooled answer: gain ~ similarity with crossed random intercepts for target and language.

Fitted per (model, method) with statsmodels' MixedLM on the per-(source, target, language) gains
(non-English languages, averaged over seeds). Similarity is standardised within each method, so
the slope is the change in gain per standard deviation of similarity and comparable across
methods. Crossed effects follow statsmodels' recipe: one group holding everything, with a
variance component per factor.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

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
]


def fit_slope(data: pd.DataFrame, confidence: float = 0.95) -> dict[str, float]:
    """Slope of gain on standardised similarity, with target and language random intercepts."""
    frame = data[["gain", "value", "target", "language"]].copy()
    spread = frame["value"].std()
    if len(frame) < 4 or not spread > 0:
        return {
            "slope": math.nan,
            "std_error": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
            "p_value": math.nan,
            "converged": False,
            "optimizer": "",
        }
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


def mixed_effects(per_language: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """One fitted slope per (model, method) from rows of (model, method, target, language,
    gain, value)."""
    rows = []
    for (model, method), group in per_language.groupby(["model", "method"], sort=True):
        rows.append(
            {
                "model": model,
                "method": method,
                **fit_slope(group, confidence),
                "n": len(group),
                "n_targets": group["target"].nunique(),
                "n_languages": group["language"].nunique(),
            }
        )
    return pd.DataFrame(rows, columns=MIXED_COLUMNS)
