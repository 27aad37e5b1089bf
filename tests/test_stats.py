"""Tests for xltransfer.analysis.stats."""

import math

import numpy as np
import pytest
from scipy import stats

from xltransfer.analysis.stats import correlations


def test_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=30)
    y = 0.5 * x + rng.normal(size=30)
    out = correlations(x, y)
    for name, fn in [
        ("spearman", stats.spearmanr),
        ("pearson", stats.pearsonr),
        ("kendall", stats.kendalltau),
    ]:
        ref = fn(x, y)
        assert out[name] == pytest.approx((ref.statistic, ref.pvalue))


def test_perfectly_monotone() -> None:
    x = np.array([0.1, 0.2, 0.5, 0.7, 0.9])
    y = np.exp(3 * x)  # monotone but not linear
    out = correlations(x, y)
    assert out["spearman"][0] == pytest.approx(1.0)
    assert out["kendall"][0] == pytest.approx(1.0)
    assert 0.9 < out["pearson"][0] < 1.0


@pytest.mark.parametrize(
    ("x", "y"),
    [([1.0, 2.0], [3.0, 4.0]), ([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]), ([1.0, 2.0, 3.0], [5.0] * 3)],
)
def test_degenerate_is_nan(x: list, y: list) -> None:
    out = correlations(np.array(x), np.array(y))
    assert set(out) == {"spearman", "pearson", "kendall"}
    for est, p in out.values():
        assert math.isnan(est) and math.isnan(p)
