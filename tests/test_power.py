"""Variance shares estimated from a grid against the shares it was simulated with, and the
minimum detectable effect they give."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from xltransfer.analysis.power import grid_power, simulated_power, source_share
from xltransfer.analysis.simulation import (
    Effects,
    GridShape,
    minimum_detectable_effect,
    simulate_grid,
)


def pair_means(shape, effects, seed):
    gains, similarity = simulate_grid(shape, 0.0, effects, np.random.default_rng(seed))
    means = gains.groupby(["source", "target"], as_index=False)["gain"].mean()
    return means.merge(similarity, on=["source", "target"])


def test_a_source_effect_by_hand():
    # Two sources, three targets: a source effect of +-1 and residuals (0.5, -0.5, 0) for a,
    # their negatives for b (rows and columns sum to 0). MS_source = 3 x var(1, -1) = 6,
    # MS_residual = 4 x 0.25 / ((2 - 1) x (3 - 1)) = 0.5, between = (6 - 0.5) / 3 = 11/6,
    # share = (11/6) / (11/6 + 0.5) = 11/14.
    rows = [
        ("a", "t", 1.5), ("a", "u", 0.5), ("a", "v", 1.0),
        ("b", "t", -1.5), ("b", "u", -0.5), ("b", "v", -1.0),
    ]  # fmt: skip
    values = pd.DataFrame(rows, columns=["source", "target", "gain"])
    values.loc[values["target"] == "u", "gain"] += 10  # a target effect changes nothing
    assert source_share(values, "gain") == pytest.approx(11 / 14)
    assert math.isnan(source_share(values[values["source"] == "a"], "gain"))


def test_estimated_shares_recover_the_simulated_ones():
    shape = GridShape(20, 10, 1, 1)
    effects = Effects(
        source=1.0, pair=1.0, seed=0.0, evaluation=0.0, similarity_source_share=0.3
    )  # gain source share 1 / (1 + 1) = 0.5
    shares = [pair_means(shape, effects, seed) for seed in range(100)]
    gain = np.mean([source_share(frame, "gain") for frame in shares])
    similarity = np.mean([source_share(frame, "value") for frame in shares])
    assert gain == pytest.approx(0.5, abs=0.05)
    assert similarity == pytest.approx(0.3, abs=0.05)


def test_the_minimum_detectable_effect_comes_from_the_grids_shares():
    # Ten sources or more: the analytic approximation at the estimated shares.
    shape = GridShape(10, 5, 5, 1)
    frame = pair_means(shape, Effects(similarity_source_share=0.0), 3)
    found = grid_power(frame.assign(method="sim"), shape)
    assert found.how == "analytic"
    assert found.shares_by_method == {"sim": found.similarity_share}
    effects = Effects(
        source=math.sqrt(found.gain_share),
        pair=math.sqrt(1 - found.gain_share),
        seed=0.0,
        evaluation=0.0,
        similarity_source_share=found.similarity_share,
    )
    expected = minimum_detectable_effect(GridShape(10, 5, 1, 1), effects=effects)["spearman"]
    assert found.spearman == pytest.approx(expected)
    # A larger source share of both: less power.
    shared = pair_means(shape, Effects(source=3.0, similarity_source_share=0.9), 3)
    assert grid_power(shared.assign(method="sim"), shape).spearman > found.spearman


def test_few_sources_simulate_the_pooled_test_itself():
    frame = pair_means(GridShape(7, 5, 5, 1), Effects(similarity_source_share=0.5), 3)
    found = grid_power(frame.assign(method="sim"), GridShape(7, 5, 5, 1))
    assert found.how == "simulated"
    # The simulated test holds its level, and its power at the reported MDE is 80 %.
    shape, shares = GridShape(7, 5, 1, 1), (found.gain_share, found.similarity_share)
    assert simulated_power(shape, 0.0, *shares) <= 0.08
    assert simulated_power(shape, found.spearman, *shares) >= 0.8
    assert simulated_power(shape, found.spearman - 0.05, *shares) < 0.8


def test_the_answer_states_the_effect_from_the_grids_shares():
    from xltransfer.analysis.power import GridPower
    from xltransfer.report.answer import answer

    correlations = pd.DataFrame(
        [
            {"model": "m", "scope": "pooled", "target": "*", "language": "non-en"}
            | {"statistic": "spearman", "method": "sim", "estimate": 0.3, "n": 35}
            | {"ci_low": -0.1, "ci_high": 0.6, "p_value": 0.1, "p_permutation": 0.2}
            | {"p_adjusted": 0.2}
        ]
    )
    shape = GridShape(7, 5, 5, 1)
    assumed = answer(correlations, shape=shape)
    assert "assuming half the similarity variance shared by a source's pairs" in assumed
    power = GridPower(0.95, 0.52, {"sim": 0.52}, 0.71)
    own = answer(correlations, shape=shape, powers={"m": power})
    assert "Spearman ρ of about 0.71 or more" in own
    assert "a source carries 95 % of the gain's within-target variance and up to 52 %" in own


def test_the_vectorised_pvalues_equal_the_workflows_permutation_test():
    from xltransfer.analysis.inference import source_permutation_pvalue
    from xltransfer.analysis.power import pooled_pvalues

    n_sources, n_targets, resamples = 7, 5, 199
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, n_sources, n_targets))
    y = rng.normal(size=(3, n_sources, n_targets)) + 0.5 * x
    sources = np.repeat(np.arange(n_sources), n_targets)
    targets = np.tile(np.arange(n_targets), n_sources)
    for seed in range(3):
        # source_permutation_pvalue draws its permutations this way from its seed.
        permutations = np.random.default_rng(seed).permuted(
            np.tile(np.arange(n_sources), (resamples, 1)), axis=1
        )
        expected = source_permutation_pvalue(
            x[seed].ravel(), y[seed].ravel(), sources, targets, "spearman", resamples, seed,
            "within_target_rank",
        )  # fmt: skip
        assert pooled_pvalues(x[seed : seed + 1], y[seed : seed + 1], permutations)[0] == expected
