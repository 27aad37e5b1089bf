"""Source selection: planted rankings with known NDCG and Regret."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xltransfer.selection import evaluate_selection, pair_means

SOURCES = ["a", "b", "c", "d"]
SCORES = {"a": 60.0, "b": 70.0, "c": 65.0, "d": 80.0}  # target score after S -> T
BASELINE = 62.0


def means() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"model": "m", "source": s, "target": "t", "gain": v - BASELINE, "score": v}
            for s, v in SCORES.items()
        ]
    )


def similarity(values: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"model": "m", "source": s, "target": "t", "method": "oracle", "value": v}
            for s, v in values.items()
        ]
    )


def test_a_perfect_predictor_and_the_baselines():
    sizes = {"a": 4000, "b": 100, "c": 300, "d": 200}  # size ranks a, c, d, b
    out = evaluate_selection(means(), similarity(SCORES), sizes, ks=[1, 2, 5], random_orders=4000)
    table = out.set_index(["predictor", "k"])
    assert set(out["k"]) == {1, 2}  # k above the number of sources is skipped
    assert table.loc[("oracle", 1), "ndcg"] == pytest.approx(1.0)
    assert table.loc[("oracle", 1), "regret"] == 0.0
    # Size picks a (score 60) first: regret (80 - 60) / 80; with c second, still 65 < 80.
    assert table.loc[("dataset_size", 1), "regret"] == pytest.approx(20 / 80)
    assert table.loc[("dataset_size", 2), "regret"] == pytest.approx(15 / 80)
    # Random top-1: the expected regret is the mean over sources.
    expected = np.mean([(80 - v) / 80 for v in SCORES.values()])
    assert table.loc[("random", 1), "regret"] == pytest.approx(expected, abs=0.01)
    assert table.loc[("oracle", 2), "ndcg"] > table.loc[("random", 2), "ndcg"]


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


def test_missing_sizes_are_named():
    with pytest.raises(ValueError, match=r"no training-set size for source tasks \['d'\]"):
        evaluate_selection(means(), similarity(SCORES), {"a": 1, "b": 1, "c": 1}, ks=[1])
