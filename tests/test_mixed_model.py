"""The pooled mixed model recovers a planted slope and refuses to invent one."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from xltransfer.analysis.mixed_model import (
    MIXED_COLUMNS,
    fit_pair_fixed,
    fit_pair_random_source,
    fit_slope,
    mixed_effects,
)


def planted(slope: float, seed: int = 0) -> pd.DataFrame:
    """Gains = slope x similarity + a level per target + a level per language + noise."""
    rng = np.random.default_rng(seed)
    target_level = {t: rng.normal(scale=2.0) for t in ("t1", "t2", "t3", "t4")}
    language_level = {lang: rng.normal(scale=1.0) for lang in ("de", "sw", "ru", "hi", "ar")}
    rows = []
    for target, t_level in target_level.items():
        for source in range(8):
            value = rng.uniform()
            for language, l_level in language_level.items():
                gain = slope * value + t_level + l_level + rng.normal(scale=0.1)
                rows.append([target, f"s{source}", language, value, gain])
    frame = pd.DataFrame(rows, columns=["target", "source", "language", "value", "gain"])
    return frame.assign(model="m", method="taxonomy")


def test_recovers_a_planted_slope_per_standard_deviation():
    data = planted(slope=3.0)
    fit = fit_slope(data)
    per_sd = 3.0 * data["value"].std()  # the slope is per standard deviation of similarity
    assert fit["converged"]
    assert fit["ci_low"] < per_sd < fit["ci_high"]
    assert fit["slope"] == pytest.approx(per_sd, rel=0.05)
    assert fit["p_value"] < 1e-6


def test_no_slope_without_signal_and_equal_to_ols_without_groups():
    null = fit_slope(planted(slope=0.0, seed=1))
    assert null["ci_low"] < 0 < null["ci_high"]
    # With one target and one language the random effects vanish: the slope is OLS's.
    single = planted(slope=2.0, seed=2).query("target == 't1' and language == 'de'")
    ols = smf.ols(
        "gain ~ z",
        single.assign(z=(single["value"] - single["value"].mean()) / single["value"].std()),
    ).fit()
    assert fit_slope(single)["slope"] == pytest.approx(ols.params["z"], rel=1e-3)


def test_one_row_per_model_and_method_and_degenerate_input():
    data = pd.concat([planted(1.0), planted(1.0).assign(method="textemb")], ignore_index=True)
    table = mixed_effects(data)
    assert list(table.columns) == MIXED_COLUMNS
    assert table[["model", "method"]].values.tolist() == [["m", "taxonomy"], ["m", "textemb"]]
    # The default fits one row per (source, target) pair: 8 sources x 4 targets.
    assert (table["n"] == 32).all() and (table["n_targets"] == 4).all()
    assert (table["n_sources"] == 8).all() and (table["variant"] == "pair_fixed").all()
    assert (mixed_effects(data, variant="per_language")["n"] == 160).all()
    with pytest.raises(ValueError, match="unknown mixed-model variant"):
        mixed_effects(data, variant="everything")
    constant = planted(1.0).assign(value=0.5)
    assert math.isnan(fit_slope(constant)["slope"])


def test_keeps_the_most_likely_converged_fit_when_a_variance_component_is_zero():
    from xltransfer.analysis.mixed_model import OPTIMIZERS, _best_fit

    # No target levels at all: the target variance sits on the boundary (0), where gradient
    # optimisers tend to stall; the fit kept must be converged and the most likely of all.
    data = planted(slope=1.0, seed=3)
    data["gain"] -= data.groupby("target")["gain"].transform("mean")
    data["similarity"] = (data["value"] - data["value"].mean()) / data["value"].std()
    data["everything"] = 1
    model = smf.mixedlm(
        "gain ~ similarity",
        data,
        groups="everything",
        vc_formula={"target": "0 + C(target)", "language": "0 + C(language)"},
    )
    optimizer, result, _ = _best_fit(model)
    assert result.converged and optimizer in OPTIMIZERS
    for other in OPTIMIZERS:
        try:
            alternative = model.fit(reml=True, method=other, maxiter=2000)
        except (np.linalg.LinAlgError, ValueError):
            continue
        if alternative.converged:
            assert result.llf >= alternative.llf - 1e-9
    assert fit_slope(data)["optimizer"] == optimizer


def _pair_frame(slope: float, seed: int) -> pd.DataFrame:
    """planted() with a source level too, averaged per pair and standardised as the fits do."""
    data = planted(slope, seed)
    level = {f"s{i}": v for i, v in enumerate(np.random.default_rng(seed + 50).normal(size=8))}
    data["gain"] += data["source"].map(level)
    pairs = data.groupby(["source", "target"], as_index=False)[["gain", "value"]].mean()
    pairs["z"] = (pairs["value"] - pairs["value"].mean()) / pairs["value"].std()
    return data, pairs


def test_pair_fixed_is_ols_with_source_and_target_effects_on_pair_means():
    data, pairs = _pair_frame(slope=1.5, seed=4)
    ols = smf.ols("gain ~ z + C(source) + C(target)", pairs).fit()
    fit = fit_pair_fixed(data)
    assert fit["slope"] == pytest.approx(ols.params["z"], rel=1e-9)
    assert fit["std_error"] == pytest.approx(ols.bse["z"], rel=1e-9)
    assert fit["p_value"] == pytest.approx(ols.pvalues["z"], rel=1e-9)
    low, high = ols.conf_int(alpha=0.05).loc["z"]
    assert (fit["ci_low"], fit["ci_high"]) == pytest.approx((low, high), rel=1e-9)
    assert fit["df"] == ols.df_resid == 32 - 1 - 1 - 7 - 3


def test_pair_fixed_needs_similarity_within_sources_and_targets():
    data, _ = _pair_frame(slope=1.0, seed=5)
    by_source = data.assign(value=data["source"].str[1:].astype(float))  # a source main effect
    fit = fit_pair_fixed(by_source)
    assert math.isnan(fit["slope"]) and "not identified" in fit["notes"]


def test_pair_random_source_is_mixedlm_on_pair_means():
    data, pairs = _pair_frame(slope=1.0, seed=6)
    fit = fit_pair_random_source(data)
    scale = pairs["gain"].std()
    reference = smf.mixedlm(
        "g ~ z + C(target)",
        pairs.assign(g=(pairs["gain"] - pairs["gain"].mean()) / scale),
        groups="source",
    ).fit(reml=True, method=fit["optimizer"], maxiter=2000)
    assert fit["slope"] == pytest.approx(reference.params["z"] * scale, rel=1e-4)
    assert fit["p_value"] == pytest.approx(reference.pvalues["z"], rel=1e-3)


def test_the_slope_says_its_scale_and_converts_to_units_of_similarity():
    # gain = 0.5 x similarity (+ a target shift and a small fixed wobble); the slope per SD of
    # this grid's similarity is 0.5 x that SD, and slope / similarity_sd the slope per unit.
    values = {"t": (-2.0, 0.0, 2.0, 1.0), "u": (1.0, 2.0, -1.0, 0.0)}
    wobble = (0.01, -0.02, 0.0, 0.015)
    rows = [
        ("m", "sim", source, target, "de", 0.5 * value + (target == "u") + jitter, value)
        for target, row in values.items()
        for source, value, jitter in zip("abcd", row, wobble, strict=True)
    ]
    frame = pd.DataFrame(
        rows, columns=["model", "method", "source", "target", "language", "gain", "value"]
    )
    fit = mixed_effects(frame).iloc[0]
    assert fit["similarity_sd"] == pytest.approx(np.std([*values["t"], *values["u"]], ddof=1))
    assert fit["slope_scale"] == "per standard deviation of this grid's similarity"
    assert fit["slope"] / fit["similarity_sd"] == pytest.approx(0.5, abs=0.02)
