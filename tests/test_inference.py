"""Bootstrap intervals, permutation p-values and p-value adjustment, against known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from xltransfer.analysis.inference import (
    adjust_pvalues,
    bootstrap_ci,
    correlation_rows,
    jackknife_ci,
    permutation_pvalue,
    source_permutation_pvalue,
    within_strata,
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


def test_within_strata_by_hand():
    values = np.array([3.0, 1.0, 2.0, 10.0, 10.0, 30.0])
    strata = np.array([0, 0, 0, 1, 1, 1])
    # Ranks 3, 1, 2 of 3 -> (r - 0.5) / 3; ties share rank 1.5 of 3.
    ranks = within_strata(values, strata, "within_target_rank")[0]
    assert ranks == pytest.approx([2.5 / 3, 0.5 / 3, 1.5 / 3, 1 / 3, 1 / 3, 2.5 / 3])
    z = within_strata(values, strata, "z_score")[0]
    assert z[:3] == pytest.approx(stats.zscore([3.0, 1.0, 2.0]))
    assert z[3:] == pytest.approx(stats.zscore([10.0, 10.0, 30.0]))
    assert within_strata(values, strata, "raw")[0] == pytest.approx(values)
    with pytest.raises(ValueError, match="unknown pooling"):
        within_strata(values, strata, "quantile")


def test_source_permutation_moves_a_source_as_a_block():
    # Four sources, three targets, gain and similarity both monotone in the same source order.
    # Permuting sources jointly, |rho| = 1 only for the identity and the reversal: p = 2/24.
    # Shuffling within each target instead needs all three targets to line up: p << 2/24.
    sources = np.repeat(np.arange(4), 3)
    targets = np.tile(np.arange(3), 4)
    x = sources + 0.1 * targets
    y = 2.0 * sources - targets
    joint = source_permutation_pvalue(
        x, y, sources, targets, n_resamples=20000, seed=1, pooling="within_target_rank"
    )
    within = permutation_pvalue(x, y, targets, n_resamples=20000, seed=1)
    assert joint == pytest.approx(2 / 24, abs=0.01)
    assert within < 0.01
    # One target: the joint permutation is the ordinary one.
    one = source_permutation_pvalue(
        x[:4] * 0 + np.arange(4.0),
        np.array([1.0, 3, 2, 4]),
        np.arange(4),
        np.zeros(4),
        n_resamples=20000,
        seed=2,
    )
    assert one == pytest.approx(
        permutation_pvalue(np.arange(4.0), np.array([1.0, 3, 2, 4]), n_resamples=20000, seed=2),
        abs=0.01,
    )


def test_source_permutation_is_calibrated_with_a_source_main_effect():
    # Similarity and gain share nothing but each has a source level: p must be ~uniform.
    rng = np.random.default_rng(10)
    sources = np.repeat(np.arange(6), 4)
    targets = np.tile(np.arange(4), 6)
    rejections = 0
    for _ in range(200):
        x = np.repeat(rng.normal(size=6), 4) + 0.3 * rng.normal(size=24)
        y = np.repeat(rng.normal(size=6), 4) + 0.3 * rng.normal(size=24)
        p = source_permutation_pvalue(
            x, y, sources, targets, n_resamples=199, seed=int(rng.integers(1 << 30))
        )
        rejections += p < 0.05
    assert rejections / 200 < 0.1  # the within-target shuffle rejects about half of these


def test_bca_matches_scipy_when_each_source_is_one_row():
    x, y = planted(25, 0.6, seed=11)
    ours = bootstrap_ci(x, y, np.arange(25), "pearson", n_resamples=4000, method="bca")
    theirs = stats.bootstrap(
        (x, y),
        lambda a, b: stats.pearsonr(a, b).statistic,
        paired=True,
        vectorized=False,
        n_resamples=4000,
        method="BCa",
        rng=np.random.default_rng(7),
    ).confidence_interval
    assert ours == pytest.approx((theirs.low, theirs.high), abs=0.04)


def test_jackknife_interval_by_hand():
    x, y = planted(8, 0.8, seed=12)
    r = stats.pearsonr(x, y).statistic
    left_out = np.array(
        [stats.pearsonr(np.delete(x, i), np.delete(y, i)).statistic for i in range(8)]
    )
    z, zj = np.arctanh(r), np.arctanh(left_out)
    se = np.sqrt(7 / 8 * ((zj - zj.mean()) ** 2).sum())
    half = stats.t.ppf(0.975, 7) * se
    ours = jackknife_ci(x, y, np.arange(8), "pearson")
    assert ours == pytest.approx((np.tanh(z - half), np.tanh(z + half)))
    assert all(math.isnan(v) for v in jackknife_ci([1, 2, 3, 4], [1, 3, 2, 4], [0, 0, 1, 1]))


def test_a_family_of_one_is_not_adjusted():
    assert adjust_pvalues(np.array([0.03]), "holm") == pytest.approx([0.03])
    assert adjust_pvalues(np.array([0.03, math.nan]), "bh")[0] == pytest.approx(0.03)
