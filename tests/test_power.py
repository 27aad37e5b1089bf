"""Variance shares estimated from a grid against the shares it was simulated with, and the
minimum detectable effect they give."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from xltransfer.analysis.power import grid_power, source_share
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
    shape = GridShape(7, 5, 5, 1)
    frame = pair_means(shape, Effects(similarity_source_share=0.0), 3)
    found = grid_power(frame.assign(method="sim"), shape)
    assert found.shares_by_method == {"sim": found.similarity_share}
    # The same as the analytic MDE at those shares; a larger source share of both, less power.
    effects = Effects(
        source=math.sqrt(found.gain_share),
        pair=math.sqrt(1 - found.gain_share),
        seed=0.0,
        evaluation=0.0,
        similarity_source_share=found.similarity_share,
    )
    expected = minimum_detectable_effect(GridShape(7, 5, 1, 1), effects=effects)["spearman"]
    assert found.spearman == pytest.approx(expected)
    shared = pair_means(shape, Effects(source=3.0, similarity_source_share=0.9), 3)
    assert grid_power(shared.assign(method="sim"), shape).spearman > found.spearman


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
