"""NDCG@k, Regret@k and the best-source rank against hand-computed values; the exact random
expectations against brute-force enumeration of every order."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from xltransfer.analysis.ranking import (
    REGRET_DEFINITIONS,
    best_source_rank,
    expected_max_of_subset,
    ndcg_at_k,
    ndcg_gains,
    random_best_source_rank,
    random_ndcg,
    random_regret,
    random_regret_points,
    regret_at_k,
    regret_points_at_k,
)

L3 = math.log2(3)

# Four sources A, B, C, D with true gains 3, 2, 0, 1. The predictor ranks B, C, D, A.
GAINS = [3.0, 2.0, 0.0, 1.0]
PREDICTED = [0.1, 0.9, 0.5, 0.3]


def test_exponential_rank_ndcg_by_hand():
    # Gold ranks A 1, B 2, D 3, C 4; rel = 4 - rank + 1 (TaskWeb's): A 4, B 3, C 1, D 2;
    # gain 2^rel - 1.
    assert list(ndcg_gains(GAINS)) == [15.0, 7.0, 1.0, 3.0]
    # DCG@3 of B, C, D: 7/log2(2) + 1/log2(3) + 3/log2(4); ideal A, B, D: 15 + 7/log2(3) + 3/2.
    assert ndcg_at_k(PREDICTED, GAINS, 3) == pytest.approx((8.5 + 1 / L3) / (16.5 + 7 / L3))
    assert ndcg_at_k(PREDICTED, GAINS, 1) == pytest.approx(7 / 15)
    # "all": DCG@4 adds A's 15/log2(5); the ideal adds C's 1/log2(5).
    full = (8.5 + 1 / L3 + 15 / math.log2(5)) / (16.5 + 7 / L3 + 1 / math.log2(5))
    assert ndcg_at_k(PREDICTED, GAINS, "all") == pytest.approx(full)
    assert ndcg_at_k([4, 3, 1, 2], GAINS, "all") == pytest.approx(1.0)
    # Only the order of the gains counts, not their scale.
    assert ndcg_at_k(PREDICTED, [100, 5, -9, 0], 3) == pytest.approx(
        (8.5 + 1 / L3) / (16.5 + 7 / L3)
    )


def test_published_definitions_at_3_5_and_21_sources_by_hand():
    # 3 sources A, B, C with gains 0.3, 0.1, 0.2, ranked C, A, B. exponential_rank: rel A 3,
    # C 2, B 1, gain 7, 3, 1; linear_gain: the gain above the worst, A 0.2, C 0.1, B 0.
    three, order = [0.3, 0.1, 0.2], [0.5, 0.1, 0.9]
    assert ndcg_at_k(order, three, 3) == pytest.approx((3 + 7 / L3 + 1 / 2) / (7 + 3 / L3 + 1 / 2))
    assert ndcg_at_k(order, three, 3, "linear_gain") == pytest.approx(
        (0.1 + 0.2 / L3) / (0.2 + 0.1 / L3)
    )
    # 5 sources, gains 5 > 4 > 3 > 2 > 1, ranked worst first: rel 5..1, gain 31, 15, 7, 3, 1.
    five, reverse = [5.0, 4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0, 5.0]
    log5, log6 = math.log2(5), math.log2(6)
    assert ndcg_at_k(reverse, five, 5) == pytest.approx(
        (1 + 3 / L3 + 7 / 2 + 15 / log5 + 31 / log6) / (31 + 15 / L3 + 7 / 2 + 3 / log5 + 1 / log6)
    )
    assert ndcg_at_k(reverse, five, 1) == pytest.approx(1 / 31)
    assert ndcg_at_k(reverse, five, 2, "linear_gain") == pytest.approx((1 / L3) / (4 + 3 / L3))
    # 21 sources with gains 0..20, ranked in order but for the best, put last: the first pick
    # is the second best, rel 20 of 21.
    gains = np.arange(21.0)
    ranked = gains.copy()
    ranked[20] = -1
    assert ndcg_at_k(ranked, gains, 1) == pytest.approx((2**20 - 1) / (2**21 - 1))
    assert ndcg_at_k(ranked, gains, 1, "linear_gain") == pytest.approx(19 / 20)
    # Regret by the scores, and by a gold label that ranks the sources otherwise (TaskWeb's).
    scores, label = [70.0, 72.0, 75.0], [3.0, 2.0, 1.0]  # the label puts A first
    assert regret_at_k([0, 1, 2], scores, 1) == 0.0  # C, the best score, picked first
    assert regret_at_k([0, 1, 2], scores, 1, gold_label=label) == pytest.approx(-5 / 70)
    assert regret_at_k([0, 1, 2], scores, 2, "best", gold_label=label) == pytest.approx(-5 / 70)
    assert regret_points_at_k(reverse, five, 2, gold_label=[1, 2, 3, 4, 5]) == 0.0
    # 21 sources ranked worst first, k = 5: the gold top 5 by score average 18, the picks 2.
    assert regret_points_at_k(-gains, gains, 5) == pytest.approx(16.0)
    assert regret_points_at_k(-gains, gains, 5, gold_label=-gains) == 0.0
    assert random_regret_points(gains, 5, gold_label=-gains) == pytest.approx(2 - 10)


def test_linear_gain_ndcg_by_hand():
    # Relevance is the gain above the worst source (C, 0): 3, 2, 0, 1.
    dcg = 2 / 1 + 0 / L3 + 1 / 2
    ideal = 3 / 1 + 2 / L3 + 1 / 2
    assert ndcg_at_k(PREDICTED, GAINS, 3, "linear_gain") == pytest.approx(dcg / ideal)
    assert ndcg_at_k(PREDICTED, [g - 5 for g in GAINS], 3, "linear_gain") == pytest.approx(
        dcg / ideal
    )
    assert ndcg_at_k(PREDICTED, GAINS, 1, "linear_gain") == pytest.approx(2 / 3)
    # The same number as scikit-learn's NDCG on those relevances.
    sk = ndcg_score(np.array([GAINS]), np.array([PREDICTED]), k=3)
    assert ndcg_at_k(PREDICTED, GAINS, 3, "linear_gain") == pytest.approx(sk)


def test_gold_ties_share_their_average_rank():
    gains = [3.0, 1.0, 1.0, 0.0]  # B and C tie: ranks 1, 2.5, 2.5, 4; rel 4, 2.5, 2.5, 1
    tied = 2**2.5 - 1
    assert ndcg_gains(gains) == pytest.approx([15.0, tied, tied, 1.0])
    # Ranked B, C, A, D: DCG@2 = tied + tied/log2(3); ideal A then B or C.
    expected = (tied + tied / L3) / (15 + tied / L3)
    assert ndcg_at_k([0.5, 1.0, 0.9, 0.0], gains, 2) == pytest.approx(expected)
    assert ndcg_at_k([0.5, 0.9, 1.0, 0.0], gains, 2) == pytest.approx(expected)  # C before B
    assert ndcg_at_k([1, 2, 3, 4], [2, 2, 2, 2], 2) == 1.0  # all tied: every order is ideal
    # The best source tied between A and B: the mean of their predicted ranks (1 and 4).
    assert best_source_rank([0.9, 0.1, 0.5, 0.3], [75, 75, 60, 72]) == 2.5


def test_prediction_ties_are_averaged_over_their_orders():
    # A and B tied first, C and D tied last: positions 0, 1 hold gain 2.5 on average, 2, 3 0.5.
    predicted = [1.0, 1.0, 0.0, 0.0]
    dcg = 2.5 * (1 + 1 / L3) + 0.5 / 2
    ideal = 3 + 2 / L3 + 1 / 2
    assert ndcg_at_k(predicted, GAINS, 3, "linear_gain") == pytest.approx(dcg / ideal)
    sk = ndcg_score(np.array([GAINS]), np.array([predicted]), k=3)  # its tie averaging
    assert ndcg_at_k(predicted, GAINS, 3, "linear_gain") == pytest.approx(sk)
    assert best_source_rank(predicted, GAINS) == 1.5  # A at position 1 or 2


SCORES = [70.0, 75.0, 60.0, 72.0]  # A, B, C, D; the predictor below ranks A, C, D, B
RANKED = [0.9, 0.1, 0.5, 0.3]


def test_regret_best_by_hand():
    # Poth et al.: (75 - best of the top k) / 75; top 1 A 70, top 2 A C 70, top 3 + D 72.
    for k, expected in [(1, 5 / 75), (2, 5 / 75), (3, 3 / 75), (4, 0.0), ("all", 0.0)]:
        assert regret_at_k(RANKED, SCORES, k, "best") == pytest.approx(expected)


def test_regret_mean_top_k_by_hand():
    # Gold top-k means: 75; (75 + 72)/2 = 73.5; (75 + 72 + 70)/3 = 217/3.
    # Predicted top-k means: 70; (70 + 60)/2 = 65; (70 + 60 + 72)/3 = 202/3.
    assert regret_at_k(RANKED, SCORES, 1) == pytest.approx(5 / 75)
    assert regret_at_k(RANKED, SCORES, 2) == pytest.approx(8.5 / 73.5)
    assert regret_at_k(RANKED, SCORES, 3) == pytest.approx((15 / 3) / (217 / 3))
    assert regret_at_k(RANKED, SCORES, "all") == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("definition", "points"),
    [("best", [5.0, 5.0, 3.0, 0.0]), ("mean_top_k", [5.0, 8.5, 5.0, 0.0])],
)
def test_regret_points_need_only_the_gains(definition, points):
    # Gains against any one baseline per target: the score differences, in points.
    for baseline in (62.0, 0.0, 80.0):
        gains = [s - baseline for s in SCORES]
        got = [regret_points_at_k(RANKED, gains, k, definition) for k in (1, 2, 3, 4)]
        assert got == pytest.approx(points)


def test_regret_with_tied_predictions_is_its_expectation():
    # A first, then one of B, C, D at random: best max(70, 75 | 60 | 72) = 217/3 on average.
    assert regret_at_k([1, 0, 0, 0], SCORES, 2, "best") == pytest.approx((75 - 217 / 3) / 75)
    # mean: (70 + mean(75, 60, 72)) / 2 = 69.5 against the gold 73.5.
    assert regret_at_k([1, 0, 0, 0], SCORES, 2) == pytest.approx(4 / 73.5)
    # B first: the best is in whatever comes second.
    assert regret_at_k([0, 1, 0, 0], SCORES, 2, "best") == 0.0
    # Three tied first, k = 2: the best of a random pair from 70, 75, 60 is 75 with p 2/3.
    assert regret_at_k([1, 1, 1, 0], SCORES, 2, "best") == pytest.approx((75 - 220 / 3) / 75)


def test_best_source_rank_by_hand():
    assert best_source_rank(RANKED, SCORES) == 4.0  # B, the best, is ranked last
    assert best_source_rank([0, 9, 1, 2], SCORES) == 1.0
    assert random_best_source_rank(4) == 2.5


def test_random_expectations_by_hand():
    # Order statistics for k = 2 of 75, 72, 70, 60: the j-th largest is the best of the pair
    # with probability C(4 - j, 1) / C(4, 2) = 3/6, 2/6, 1/6, 0.
    assert expected_max_of_subset(SCORES, 2) == pytest.approx((3 * 75 + 2 * 72 + 70) / 6)
    assert random_regret(SCORES, 2, "best") == pytest.approx((75 - 439 / 6) / 75)
    assert random_regret(SCORES, 2) == pytest.approx((73.5 - 277 / 4) / 73.5)  # mean of all
    # E[DCG@1] = mean gain (15 + 7 + 1 + 3)/4 over the ideal 15.
    assert random_ndcg(GAINS, 1) == pytest.approx(26 / 60)
    assert random_ndcg(GAINS, 2, "linear_gain") == pytest.approx(1.5 * (1 + 1 / L3) / (3 + 2 / L3))
    assert random_regret_points(GAINS, 1, "best") == pytest.approx(3 - 1.5)


FIVE = [5.0, 3.0, 3.0, 1.0, 0.5]  # a gold tie between two of five sources


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_random_expectations_equal_the_mean_over_all_orders(k):
    orders = [-np.array(p, float) for p in itertools.permutations(range(5))]  # all 120
    assert len(orders) == 120
    for definition in ("exponential_rank", "linear_gain"):
        brute = np.mean([ndcg_at_k(o, FIVE, k, definition) for o in orders])
        assert random_ndcg(FIVE, k, definition) == pytest.approx(brute)
        # A constant predictor ties every source: the same expectation.
        assert ndcg_at_k(np.zeros(5), FIVE, k, definition) == pytest.approx(brute)
    for definition in REGRET_DEFINITIONS:
        brute = np.mean([regret_at_k(o, FIVE, k, definition) for o in orders])
        assert random_regret(FIVE, k, definition) == pytest.approx(brute, abs=1e-12)
        assert regret_at_k(np.zeros(5), FIVE, k, definition) == pytest.approx(brute, abs=1e-12)
        points = np.mean([regret_points_at_k(o, FIVE, k, definition) for o in orders])
        assert random_regret_points(FIVE, k, definition) == pytest.approx(points, abs=1e-12)
        label = [1.0, 2.0, 2.0, 0.0, 3.0]  # another gold order, with a tie
        brute = np.mean([regret_at_k(o, FIVE, k, definition, label) for o in orders])
        assert random_regret(FIVE, k, definition, label) == pytest.approx(brute, abs=1e-12)
    ranks = np.mean([best_source_rank(o, FIVE) for o in orders])
    assert random_best_source_rank(5) == pytest.approx(ranks) == 3.0


def test_relative_regret_without_a_positive_gold_score_is_undefined():
    # A target that every source scores 0 on (two evaluation examples, both wrong) must not
    # fail the selection job: relative Regret is NaN, Regret in points stays defined.
    assert math.isnan(regret_at_k([1, 2], [0.0, 0.0], k=1))
    assert math.isnan(regret_at_k([1, 2], [-1, -2], k=1))
    assert regret_points_at_k([2, 1], [-1, -2], k=1) == 0.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ndcg_at_k([1, 2], [1, 2], k=3), "between 1 and the number of sources"),
        (lambda: ndcg_at_k([1, 2], [1, 2], k="two"), "must be 'all' or between 1"),
        (lambda: ndcg_at_k([1, 2, 3], [1, 2], k=1), "equal-length"),
        (lambda: ndcg_at_k([1, 2], [1, 2], 1, "dcg"), "unknown definition"),
        (lambda: regret_at_k([1, 2], [1, 2], 1, "worst"), "unknown definition"),
        (lambda: regret_at_k([1, math.nan], [1, 2], k=1), "finite"),
    ],
)
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
