"""Bootstrap intervals, permutation p-values and p-value adjustment, against known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from xltransfer.inference import (
    adjust_pvalues,
    bootstrap_ci,
    correlation_rows,
    permutation_pvalue,
)


def planted(n: int, slope: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return x, slope * x + rng.normal(size=n)


@pytest.mark.parametrize(
    ("name", "reference"),
    [("spearman", stats.spearmanr), ("pearson", stats.pearsonr), ("kendall", stats.kendalltau)],
)
def test_vectorised_correlations_equal_scipy(name, reference):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=(40, 9)).astype(float)  # many ties
    y = x + rng.integers(0, 3, size=(40, 9))
    x[0] = 1.0  # a constant row: undefined
    ours = correlation_rows(name, x, y)
    assert math.isnan(ours[0])
    for row in range(1, 40):
        assert ours[row] == pytest.approx(reference(x[row], y[row]).statistic, abs=1e-12)


def test_bootstrap_matches_scipy_when_each_source_is_one_row():
    x, y = planted(25, 0.6, seed=1)
    ours = bootstrap_ci(x, y, clusters=np.arange(25), statistic="pearson", n_resamples=4000)
    theirs = stats.bootstrap(
        (x, y),
        lambda a, b: stats.pearsonr(a, b).statistic,
        paired=True,
        vectorized=False,
        n_resamples=4000,
        method="percentile",
        rng=np.random.default_rng(7),
    ).confidence_interval
    assert ours == pytest.approx((theirs.low, theirs.high), abs=0.04)


def test_bootstrap_resamples_sources_not_rows():
    # Six sources, each seen by five targets with the same values: 30 rows but 6 units.
    x, y = planted(6, 0.8, seed=2)
    repeated = bootstrap_ci(np.repeat(x, 5), np.repeat(y, 5), np.repeat(np.arange(6), 5), seed=3)
    alone = bootstrap_ci(x, y, np.arange(6), seed=3)
    assert repeated == pytest.approx(alone)  # repetition adds no information
    naive = bootstrap_ci(np.repeat(x, 5), np.repeat(y, 5), np.arange(30), seed=3)
    assert naive[1] - naive[0] < repeated[1] - repeated[0]  # treating rows as units is too sure


def test_bootstrap_interval_covers_a_planted_correlation():
    x, y = planted(40, 2.0, seed=4)
    low, high = bootstrap_ci(x, y, np.arange(40), statistic="spearman")
    assert 0.7 < low < stats.spearmanr(x, y).statistic < high <= 1.0
    low, high = bootstrap_ci(*planted(40, 0.0, seed=5), np.arange(40))
    assert low < 0 < high


def test_bootstrap_needs_three_sources():
    assert all(math.isnan(v) for v in bootstrap_ci([1, 2, 3, 4], [1, 3, 2, 4], [0, 0, 1, 1]))


def test_permutation_pvalue_agrees_with_scipy():
    x, y = planted(15, 0.5, seed=6)
    ours = permutation_pvalue(x, y, statistic="kendall", n_resamples=4000)
    theirs = stats.permutation_test(
        (x,),
        lambda a: stats.kendalltau(a, y).statistic,
        permutation_type="pairings",
        n_resamples=4000,
        rng=np.random.default_rng(8),
    ).pvalue
    assert ours == pytest.approx(theirs, abs=0.03)


def test_permutation_keeps_strata():
    # Two targets whose gains differ in level only: within-target similarity is noise, so the
    # stratified test must not find the between-target difference.
    rng = np.random.default_rng(9)
    similarity = np.concatenate([rng.normal(size=8), rng.normal(size=8) + 5])
    gains = np.concatenate([rng.normal(size=8), rng.normal(size=8) + 5])
    targets = np.repeat([0, 1], 8)
    pooled = permutation_pvalue(similarity, gains, n_resamples=999)
    stratified = permutation_pvalue(similarity, gains, strata=targets, n_resamples=999)
    assert pooled < 0.01 < 0.2 < stratified


def test_holm_and_benjamini_hochberg_by_hand():
    p = np.array([0.01, 0.04, 0.03, math.nan])
    # Holm: sorted 0.01, 0.03, 0.04 times 3, 2, 1 = 0.03, 0.06, 0.04 -> running max.
    assert adjust_pvalues(p, "holm")[:3] == pytest.approx([0.03, 0.06, 0.06])
    # BH: times 3/1, 3/2, 3/3 = 0.03, 0.045, 0.04 -> running min from the largest.
    assert adjust_pvalues(p, "bh")[:3] == pytest.approx([0.03, 0.04, 0.04])
    assert math.isnan(adjust_pvalues(p, "holm")[3])
    with pytest.raises(ValueError, match="unknown p-value adjustment"):
        adjust_pvalues(p, "bonferroni-ish")
