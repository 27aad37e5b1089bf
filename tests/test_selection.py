"""Source selection: planted rankings with known NDCG, Regret and best-source rank."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from xltransfer.analysis.selection import evaluate_selection, pair_means
from xltransfer.report.answer import answer

SOURCES = ["a", "b", "c", "d"]
SCORES = {"a": 60.0, "b": 70.0, "c": 65.0, "d": 80.0}  # target score after S -> T
BASELINE = 62.0
SIZES = {"a": 4000, "b": 100, "c": 300, "d": 200}  # size ranks a, c, d, b
L3 = math.log2(3)


def means(target: str = "t", scores: bool = True) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": "m",
                "source": s,
                "target": target,
                "gain": v - BASELINE,
                "score": v if scores else np.nan,
            }
            for s, v in SCORES.items()
        ]
    )


def similarity(values: dict[str, float], target: str = "t") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"model": "m", "source": s, "target": target, "method": "oracle", "value": v}
            for s, v in values.items()
        ]
    )


def test_a_perfect_predictor_and_the_baselines():
    out = evaluate_selection(means(), similarity(SCORES), SIZES, ks=[1, 2, 5, "all"])
    assert set(out["k_label"]) == {"1", "2", "all"}  # k above the number of sources is skipped
    assert set(out["candidates"]) == {"all"}  # no facets, no in-class rows
    assert set(out["ndcg_definition"]) == {"exponential_rank"}
    assert set(out["regret_definition"]) == {"mean_top_k"}
    table = out.set_index(["predictor", "k_label"])
    assert table.loc[("oracle", "all"), "k"] == 4
    for k in ("1", "2", "all"):
        assert table.loc[("oracle", k), "ndcg"] == pytest.approx(1.0)
        assert table.loc[("oracle", k), "regret"] == pytest.approx(0.0)
    assert table.loc[("oracle", "1"), "best_source_rank"] == 1.0
    # Size picks a (60) first: (80 - 60) / 80, 20 points; it ranks d, the best, third.
    assert table.loc[("dataset_size", "1"), "regret"] == pytest.approx(20 / 80)
    assert table.loc[("dataset_size", "1"), "regret_points"] == pytest.approx(20.0)
    assert table.loc[("dataset_size", "1"), "best_source_rank"] == 3.0
    # Top 2 a, c: mean 62.5 against the gold d, b 75.
    assert table.loc[("dataset_size", "2"), "regret"] == pytest.approx(12.5 / 75)
    assert table.loc[("dataset_size", "2"), "regret_points"] == pytest.approx(12.5)
    # Gold ranks d, b, c, a: rel 4, 3, 2, 1, gains 2^rel - 1 = 15, 7, 3, 1; size has a (1), c (3).
    assert table.loc[("dataset_size", "1"), "ndcg"] == pytest.approx(1 / 15)
    assert table.loc[("dataset_size", "2"), "ndcg"] == pytest.approx((1 + 3 / L3) / (15 + 7 / L3))
    # Random, exactly: the mean score 68.75 at k = 1, mean gain 26/4 over the ideal 15.
    assert table.loc[("random", "1"), "regret"] == pytest.approx((80 - 68.75) / 80)
    assert table.loc[("random", "1"), "regret_points"] == pytest.approx(80 - 68.75)
    assert table.loc[("random", "1"), "ndcg"] == pytest.approx(26 / 60)
    assert set(out["regret_gold"]) == {"values"}
    assert table.loc[("random", "1"), "best_source_rank"] == 2.5


def test_the_published_definitions_can_be_chosen():
    out = evaluate_selection(
        means(), similarity(SCORES), SIZES, ks=[2], ndcg="linear_gain", regret="best"
    )
    table = out.set_index("predictor")
    # Size's top 2 a, c: best 65 against 80 (Poth et al.).
    assert table.loc["dataset_size", "regret"] == pytest.approx(15 / 80)
    assert table.loc["dataset_size", "regret_points"] == pytest.approx(15.0)
    # Linear gain above the worst (a): d 20, b 10, c 5, a 0; size ranks a, c.
    expected = (0 + 5 / L3) / (20 + 10 / L3)
    assert table.loc["dataset_size", "ndcg"] == pytest.approx(expected)
    # Random best of 2 of 80, 70, 65, 60: (3 * 80 + 2 * 70 + 65) / 6.
    assert table.loc["random", "regret"] == pytest.approx((80 - 445 / 6) / 80)
    with pytest.raises(ValueError, match="ranking definitions"):
        evaluate_selection(means(), similarity(SCORES), SIZES, ks=[1], ndcg="dcg")


def test_regret_points_come_from_the_gains_without_scores():
    out = evaluate_selection(means(scores=False), similarity(SCORES), SIZES, ks=[1, 2])
    table = out.set_index(["predictor", "k"])
    assert out["regret"].isna().all()  # relative regret needs the target scores
    assert table.loc[("dataset_size", 1), "regret_points"] == pytest.approx(20.0)
    assert table.loc[("dataset_size", 2), "regret_points"] == pytest.approx(12.5)
    assert table.loc[("random", 1), "regret_points"] == pytest.approx(11.25)


FACETS = {
    "t": {"format": "classification"},
    "u": {"format": "tagging"},
    "a": {"format": "classification"},
    "b": {"format": "classification"},
    "c": {"format": "tagging"},
    "d": {"family": "no format"},
}


def test_in_class_ranks_only_the_sources_of_the_targets_format():
    both = pd.concat([means("t"), means("u"), means("v")])
    sims = pd.concat([similarity(SCORES, "t"), similarity(SCORES, "u"), similarity(SCORES, "v")])
    out = evaluate_selection(both, sims, SIZES, ks=[1, "all"], facets=FACETS)
    # t (classification) has a and b in class; u (tagging) only c, too few; v has no facets.
    assert set(out.loc[out["candidates"] == "in_class", "target"]) == {"t"}
    assert set(out.loc[out["candidates"] == "all", "target"]) == {"t", "u", "v"}
    in_class = out[out["candidates"] == "in_class"].set_index(["predictor", "k_label"])
    assert set(in_class["n_sources"]) == {2}
    assert in_class.loc[("oracle", "all"), "k"] == 2
    # Size prefers a (60) to b (70): (70 - 60) / 70; b, the best in class, second.
    assert in_class.loc[("dataset_size", "1"), "regret"] == pytest.approx(10 / 70)
    assert in_class.loc[("dataset_size", "1"), "best_source_rank"] == 2.0
    # Gold ranks b, a: rel 2, 1, gains 3, 1; a first gives 1 of 3 at k = 1, and over both
    # (1 + 3/log2(3)) of the ideal (3 + 1/log2(3)).
    assert in_class.loc[("dataset_size", "1"), "ndcg"] == pytest.approx(1 / 3)
    assert in_class.loc[("dataset_size", "all"), "ndcg"] == pytest.approx(
        (1 + 3 / L3) / (3 + 1 / L3)
    )
    assert in_class.loc[("random", "1"), "regret"] == pytest.approx((70 - 65) / 70)
    without = evaluate_selection(both, sims, SIZES, ks=[1])
    assert set(without["candidates"]) == {"all"}


def test_the_answer_reads_all_candidates_and_names_the_definitions():
    correlations = pd.DataFrame(
        [
            {"model": "m", "scope": "pooled", "target": "*", "language": "non-en"}
            | {"statistic": "spearman", "method": "oracle", "estimate": 0.9, "n": 4}
            | {"ci_low": 0.5, "ci_high": 1.0, "p_value": 0.01, "p_permutation": 0.01}
            | {"p_adjusted": 0.01}
        ]
    )
    both = pd.concat([means("t"), means("u")])
    sims = pd.concat([similarity(SCORES, "t"), similarity(SCORES, "u")])
    facets = FACETS | {"u": {"format": "classification"}}
    selection = evaluate_selection(both, sims, SIZES, ks=[1, "all"], facets=facets)
    text = answer(correlations, selection)
    # Random top 1 of all four: (80 - 68.75) / 80 = 0.14; in class it would be 5/70 = 0.07.
    assert "mean Regret@1 of 0.00 against 0.14 for a random source (its exact expectation" in text
    # Random NDCG@1 over all four: the mean gain 26/4 over the ideal 15 (0.43).
    assert "NDCG@1 (exponential gain on gold ranks) 1.00 against 0.43" in text
    gains_only = answer(
        correlations,
        evaluate_selection(means(scores=False), similarity(SCORES), SIZES, ks=[1]),
    )
    assert "reaches a mean NDCG@1 (exponential gain on gold ranks) of 1.00 against 0.43" in (
        gains_only
    )
    assert "falls 0.00 points short of the best source against 11.25 at random" in gains_only


def test_pair_means_average_languages_then_seeds_without_the_source_language():
    rows = []
    for seed, (de, sw) in {1: (1.0, 3.0), 2: (2.0, 2.0)}.items():
        for language, gain in {"en": 50.0, "de": de, "sw": sw}.items():
            rows.append(
                {"model": "m", "source": "a", "target": "t", "language": language, "seed": seed}
                | {"metric": "accuracy", "primary": True, "gain": gain, "score": 60.0 + gain}
            )
    out = pair_means(pd.DataFrame(rows)).iloc[0]
    assert out["gain"] == pytest.approx(2.0) and out["score"] == pytest.approx(62.0)
    # No language axis: every row counts, en too: seed 1 (50 + 1 + 3)/3, seed 2 (50 + 2 + 2)/3.
    kept = pair_means(pd.DataFrame(rows), source_language=None).iloc[0]
    assert kept["gain"] == pytest.approx(18.0)


def test_missing_sizes_are_named():
    with pytest.raises(ValueError, match=r"no training-set size for source tasks \['d'\]"):
        evaluate_selection(means(), similarity(SCORES), {"a": 1, "b": 1, "c": 1}, ks=[1])
