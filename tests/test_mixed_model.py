"""The pooled mixed model recovers a planted slope and refuses to invent one."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from xltransfer.mixed_model import fit_slope, mixed_effects


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
    assert table[["model", "method"]].values.tolist() == [["m", "taxonomy"], ["m", "textemb"]]
    assert (table["n"] == 160).all() and (table["n_targets"] == 4).all()
    constant = planted(1.0).assign(value=0.5)
    assert math.isnan(fit_slope(constant)["slope"])


def test_keeps_the_most_likely_converged_fit_when_a_variance_component_is_zero():
    from xltransfer.mixed_model import OPTIMIZERS, _best_fit

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
