"""The checks of a grid against the tests' assumptions, on grids built to break each one."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from xltransfer.analysis.assumptions import grid_assumptions, residuals

LANGUAGES = ["de", "fr", "sw", "zh", "ar", "hi"]


def grid(noise, sources=8, targets=5, seed=0, effects=None) -> pd.DataFrame:
    """Zero-shot primary gains (plus English rows the checks must ignore): source and
    target-language effects plus noise(rng, source index, target index)."""
    rng = np.random.default_rng(seed)
    source_effect = rng.normal(size=sources) if effects is None else effects
    rows = []
    for s, t, language in itertools.product(range(sources), range(targets), ["en", *LANGUAGES]):
        gain = source_effect[s] + rng.normal() + noise(rng, s, t)
        rows.append(("m", f"s{s}", f"t{t}", language, 1, "accuracy", True, gain))
    columns = ["model", "source", "target", "language", "seed", "metric", "primary", "gain"]
    return pd.DataFrame(rows, columns=columns)


def broken(gains: pd.DataFrame, families=None) -> set[str]:
    (checks,) = grid_assumptions(gains, "en", families).values()
    return {check.name for check in checks if check.breaks}


def test_residuals_are_double_centred_within_each_target_by_hand():
    cells = pd.DataFrame(
        {
            "source": ["a", "a", "b", "b"],
            "target": ["t"] * 4,
            "language": ["x", "y", "x", "y"],
            "gain": [1.0, 2.0, 3.0, 7.0],
        }
    )
    # Mean 3.25; sources a 1.5, b 5; languages x 2, y 4.5: 1 - 1.5 - 2 + 3.25 = 0.75.
    table = residuals(cells).set_index(["source", "language"])["residual"]
    assert table.to_dict() == pytest.approx(
        {("a", "x"): 0.75, ("a", "y"): -0.75, ("b", "x"): -0.75, ("b", "y"): 0.75}
    )


def test_a_grid_of_normal_noise_breaks_nothing():
    assert broken(grid(lambda rng, s, t: 0.0)) == set()


def test_diverged_fine_tunes_are_heavy_tails():
    def diverged(rng, s, t):
        return -8.0 if rng.random() < 0.03 else 0.0

    gains = grid(diverged, seed=1)
    assert broken(gains) == {"heavy_tails"}
    (checks,) = grid_assumptions(gains, "en").values()
    tails = checks[0]
    scaled = residuals(gains[gains["language"] != "en"]).groupby("target")["residual"]
    values = scaled.transform(lambda r: r / r.std(ddof=1)).to_numpy()
    assert tails.statistic == pytest.approx(stats.kurtosis(values))


def test_one_noisy_target_is_unequal_noise():
    assert broken(grid(lambda rng, s, t: 4 * rng.normal() if t == 0 else 0.0)) == {"unequal_noise"}


def test_sources_of_one_family_moving_together_are_family_structure():
    families = {f"s{s}": "abcd"[s % 4] for s in range(8)}
    effects = np.array([2.0, -2.0, 0.5, -0.5, 2.1, -1.9, 0.4, -0.6])  # by family
    assert broken(grid(lambda rng, s, t: 0.0, effects=effects), families) == {"family_structure"}
    # One source per family: nothing to check.
    (checks,) = grid_assumptions(grid(lambda rng, s, t: 0.0), "en", None).values()
    assert not checks[2].breaks and "fewer than two families" in checks[2].detail


def test_failed_fine_tunes_are_missing_cells():
    gains = grid(lambda rng, s, t: 0.0)
    failed = gains.sample(frac=0.2, random_state=0).index
    gains.loc[failed, "gain"] = np.nan
    assert "missing_cells" in broken(gains)
