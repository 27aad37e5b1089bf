"""How well a predictor ranks the source tasks of one target: NDCG@k, Regret@k, best-source rank.

Every function takes the predictor's values (higher = ranked earlier) and the true values of the
same sources, and `k` (an integer, or "all" for the whole list).

NDCG@k (Järvelin & Kekäläinen, 2002), DCG@k = sum over positions i = 0..k-1 of
gain(source at i) / log2(i + 2), divided by the DCG@k of the ideal (gold) order; 1.0 when every
gain is equal. Two gain definitions:

- ``exponential_rank`` (default): graded relevance from the gold ranking, the construction of
  Vu et al. (2020, EMNLP, "Exploring and Predicting Transferability across NLP Tasks") as
  TaskWeb's evaluation code computes it (Kim et al., 2023), with the exponential gain of Burges
  et al. (2005): rank 1 = the source with the largest true gain, rel = n - rank + 1 (the best
  source n, the worst 1), gain = 2^rel - 1. Sources tied in the gold values share their average
  rank, so they get equal (possibly fractional) relevance. (Before issue 24 rel was n - rank,
  which gives the worst source no gain at all and lowers NDCG most on short lists: 3 sources,
  an in-class set.)
- ``linear_gain``: gain = true gain minus the worst source's (graded relevance on the gains' own
  scale; the definition before issue 12, the same number as scikit-learn's ``ndcg_score``).

Regret@k, two definitions, each relative ((gold - predicted) / gold, needs a positive gold
value; computed on target scores) and in points (gold - predicted, on the gains):

- ``mean_top_k`` (default, our convention): the mean true value of the k sources ranked highest
  by the predictor against the mean of the k truly best; 0 = the predicted top k are the gold
  top k in value.
- ``best`` (Poth et al., 2021, "What to Pre-Train on? Efficient Intermediate Task Selection"):
  (O - M_k) / O, O the best value over all sources, M_k the best among the predicted top k.

At k = 1 the two coincide; at k = n both are 0. With one baseline score per target, target
score = baseline + gain, so differences of scores are differences of gains: regret in points
needs only the gains (published gain tables have no scores).

The gold top k is, by default, the k sources with the best values themselves. TaskWeb takes it
by a separate gold label (its own ranking of the sources) and values it by the scores: given
`gold_label`, the gold value is the mean (``mean_top_k``) or the best-labelled source's value
(``best``) of the k sources the label ranks highest, ties in the label averaged over their
orders as for a prediction; Regret@k can then be negative (a pick better than the label's).

Best-source rank (Vu et al., 2020, who report the average rank of the best source): the rank the
predictor gives the truly best source, 1 = first; where several sources tie for best, the mean
of their ranks.

Ties in the prediction: every metric is its expectation over a uniformly random order of the
tied sources (for NDCG this is scikit-learn's tie averaging). A constant predictor is therefore
a uniformly random order, and `random_*` give these expectations in closed form: E[DCG@k] =
mean(gain) * sum of the k discounts (each position holds a uniformly random source); E[best of
a random k-subset] = sum_j C(n - j, k - 1) / C(n, k) * v_(j), v_(1) >= ... >= v_(n) (the j-th
largest is the subset's best when it is in and the j - 1 larger ones are not); E[mean of a
random k-subset] = mean of all values; E[rank of a given source] = (n + 1) / 2.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata

NDCG_DEFINITIONS = ("exponential_rank", "linear_gain")
REGRET_DEFINITIONS = ("mean_top_k", "best")
ALL = "all"


def resolve_k(k: int | str, n: int) -> int:
    """The number of positions `k` means for a list of `n` sources ("all" = n)."""
    if k == ALL:
        return n
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k={k!r} must be 'all' or between 1 and the number of sources ({n})")
    return int(k)


def _checked(
    predicted: np.ndarray, truth: np.ndarray, k: int | str
) -> tuple[np.ndarray, np.ndarray, int]:
    predicted, truth = np.asarray(predicted, float), np.asarray(truth, float)
    if predicted.shape != truth.shape or predicted.ndim != 1:
        raise ValueError(f"need two equal-length vectors, got {predicted.shape} and {truth.shape}")
    k = resolve_k(k, len(truth))
    if not (np.all(np.isfinite(predicted)) and np.all(np.isfinite(truth))):
        raise ValueError("predicted and true values must be finite")
    return predicted, truth, k


def _check_definition(definition: str, allowed: tuple[str, ...]) -> None:
    if definition not in allowed:
        raise ValueError(f"unknown definition {definition!r}; expected one of {allowed}")


def gold_ranks(truth: np.ndarray) -> np.ndarray:
    """Rank of each source by its true value, 1 = best; ties share their average rank."""
    return rankdata(-np.asarray(truth, float), method="average")


def ndcg_gains(truth: np.ndarray, definition: str = "exponential_rank") -> np.ndarray:
    """The gain NDCG credits to each source (see the module docstring)."""
    _check_definition(definition, NDCG_DEFINITIONS)
    truth = np.asarray(truth, float)
    if definition == "linear_gain":
        return truth - truth.min()
    return 2.0 ** (len(truth) - gold_ranks(truth) + 1) - 1.0


def discounts(k: int) -> np.ndarray:
    """1 / log2(i + 2) for positions i = 0..k-1."""
    return 1.0 / np.log2(np.arange(k) + 2.0)


def _tie_groups(predicted: np.ndarray) -> list[np.ndarray]:
    """Source indices grouped by equal prediction, highest prediction first."""
    _, inverse = np.unique(-predicted, return_inverse=True)
    return [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)]


def _expected_weighted_sum(predicted: np.ndarray, values: np.ndarray, weights: np.ndarray) -> float:
    """E[sum over positions i of weights[i] * value at i] over random orders of tied sources.

    Each position a tied group spans holds a uniformly random member, worth the group's mean."""
    total, start = 0.0, 0
    for group in _tie_groups(predicted):
        if start >= len(weights):
            break
        total += values[group].mean() * weights[start : start + len(group)].sum()
        start += len(group)
    return float(total)


def expected_max_of_subset(values: np.ndarray, m: int, floor: float = -math.inf) -> float:
    """E[max(floor, best of a uniformly random m-subset of `values`)], by order statistics."""
    ordered = np.sort(np.asarray(values, float))[::-1]
    n = len(ordered)
    if not 1 <= m <= n:
        raise ValueError(f"subset size {m} must be between 1 and {n}")
    total = math.comb(n, m)
    return float(
        sum(
            math.comb(n - j, m - 1) / total * max(floor, ordered[j - 1])
            for j in range(1, n - m + 2)
        )
    )


def _expected_top_max(predicted: np.ndarray, values: np.ndarray, k: int) -> float:
    """E[best value among the predicted top k] over random orders of tied sources."""
    above, start = -math.inf, 0
    for group in _tie_groups(predicted):
        if start + len(group) <= k:
            above, start = max(above, values[group].max()), start + len(group)
            if start == k:
                return float(above)
            continue
        return expected_max_of_subset(values[group], k - start, floor=above)
    return float(above)


def _expected_top_mean(predicted: np.ndarray, values: np.ndarray, k: int) -> float:
    return _expected_weighted_sum(predicted, values, np.full(k, 1.0 / k))


def ndcg_at_k(
    predicted: np.ndarray, truth: np.ndarray, k: int | str, definition: str = "exponential_rank"
) -> float:
    """NDCG@k of the ranking by `predicted` against the true gains `truth` (1 = ideal order)."""
    predicted, truth, k = _checked(predicted, truth, k)
    gain = ndcg_gains(truth, definition)
    ideal = float(np.sort(gain)[::-1][:k] @ discounts(k))
    if ideal == 0:
        return 1.0  # every order is ideal when all sources are equally good
    return _expected_weighted_sum(predicted, gain, discounts(k)) / ideal


def _gold_and_predicted(
    predicted: np.ndarray,
    values: np.ndarray,
    k: int,
    definition: str,
    gold_label: np.ndarray | None = None,
) -> tuple[float, float]:
    _check_definition(definition, REGRET_DEFINITIONS)
    if definition == "best":
        chosen = _expected_top_max(predicted, values, k)
        return _gold_value(values, k, definition, gold_label), chosen
    return _gold_value(values, k, definition, gold_label), _expected_top_mean(predicted, values, k)


def _gold_value(
    values: np.ndarray, k: int, definition: str, gold_label: np.ndarray | None
) -> float:
    """The gold side of Regret@k: by the values themselves, or by a separate gold label."""
    if gold_label is None:
        return float(values.max() if definition == "best" else np.sort(values)[::-1][:k].mean())
    label = np.asarray(gold_label, float)
    if label.shape != values.shape or not np.all(np.isfinite(label)):
        raise ValueError(
            f"the gold label needs a finite value for each of the {len(values)} sources"
        )
    if definition == "best":  # the best-labelled source's value, ties averaged
        return _expected_weighted_sum(label, values, np.array([1.0]))
    return _expected_top_mean(label, values, k)


def _relative(gold: float, chosen: float) -> float:
    # Relative to a gold score of zero or below (a target no source learns) is undefined: NaN,
    # left out of means over targets, while Regret in points still says how far off a pick is.
    if gold <= 0:
        return math.nan
    return (gold - chosen) / gold


def regret_at_k(
    predicted: np.ndarray,
    scores: np.ndarray,
    k: int | str,
    definition: str = "mean_top_k",
    gold_label: np.ndarray | None = None,
) -> float:
    """Relative Regret@k of the top-k sources by `predicted` against target `scores` (0 = none;
    NaN where the gold score is not positive); the gold top k by `gold_label` where given."""
    predicted, scores, k = _checked(predicted, scores, k)
    return _relative(*_gold_and_predicted(predicted, scores, k, definition, gold_label))


def regret_points_at_k(
    predicted: np.ndarray,
    gains: np.ndarray,
    k: int | str,
    definition: str = "mean_top_k",
    gold_label: np.ndarray | None = None,
) -> float:
    """Regret@k in the metric's points, gold minus chosen, from the gains alone."""
    predicted, gains, k = _checked(predicted, gains, k)
    gold, chosen = _gold_and_predicted(predicted, gains, k, definition, gold_label)
    return gold - chosen


def best_source_rank(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Rank (1 = first) the predictor gives the truly best source; mean over tied best ones."""
    predicted, truth, _ = _checked(predicted, truth, 1)
    ranks = rankdata(-predicted, method="average")  # a tie's expected position
    return float(ranks[truth == truth.max()].mean())


def random_ndcg(truth: np.ndarray, k: int | str, definition: str = "exponential_rank") -> float:
    """E[NDCG@k] under a uniformly random order: mean(gain) * sum of discounts / ideal DCG@k."""
    truth = np.asarray(truth, float)
    k = resolve_k(k, len(truth))
    gain = ndcg_gains(truth, definition)
    ideal = float(np.sort(gain)[::-1][:k] @ discounts(k))
    return 1.0 if ideal == 0 else float(gain.mean() * discounts(k).sum() / ideal)


def _random_gold_and_chosen(
    values: np.ndarray, k: int | str, definition: str, gold_label: np.ndarray | None = None
):
    values = np.asarray(values, float)
    k = resolve_k(k, len(values))
    _check_definition(definition, REGRET_DEFINITIONS)
    gold = _gold_value(values, k, definition, gold_label)
    if definition == "best":
        return gold, expected_max_of_subset(values, k)
    return gold, float(values.mean())


def random_regret(
    scores: np.ndarray,
    k: int | str,
    definition: str = "mean_top_k",
    gold_label: np.ndarray | None = None,
) -> float:
    """E[chosen] of a uniformly random top k, as relative Regret@k against the target scores."""
    return _relative(*_random_gold_and_chosen(scores, k, definition, gold_label))


def random_regret_points(
    gains: np.ndarray,
    k: int | str,
    definition: str = "mean_top_k",
    gold_label: np.ndarray | None = None,
) -> float:
    """Regret@k in points of a uniformly random order, exactly, from the gains."""
    gold, chosen = _random_gold_and_chosen(gains, k, definition, gold_label)
    return gold - chosen


def random_best_source_rank(n: int) -> float:
    """E[rank of a given source] under a uniformly random order of n: (n + 1) / 2."""
    return (n + 1) / 2
