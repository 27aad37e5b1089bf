"""The plain-language answer follows the numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from xltransfer.report.answer import answer, verdict


def pooled(method, estimate, low, high, p_adjusted, model="xlmr"):
    return {
        "model": model,
        "method": method,
        "scope": "pooled",
        "target": "*",
        "language": "non-en",
        "statistic": "spearman",
        "estimate": estimate,
        "p_value": p_adjusted,
        "n": 18,
        "ci_low": low,
        "ci_high": high,
        "p_permutation": p_adjusted / 2,
        "p_adjusted": p_adjusted,
    }


@pytest.mark.parametrize(
    ("low", "high", "p", "expected"),
    [(0.36, 0.81, 0.004, "predicts"), (0.05, 0.7, 0.2, "weak"), (-0.1, 0.7, 0.2, "none")],
)
def test_verdict(low, high, p, expected):
    assert verdict(pd.Series(pooled("textemb", 0.6, low, high, p))) == expected


def test_answer_names_each_method_with_its_numbers():
    correlations = pd.DataFrame(
        [pooled("textemb", 0.666, 0.361, 0.812, 0.004), pooled("taskemb", 0.27, -0.18, 0.76, 0.3)]
    )
    selection = pd.DataFrame(
        [
            ["xlmr", "t", "textemb", 1, 1.0, 0.0, 6],
            ["xlmr", "t", "taskemb", 1, 0.4, 0.08, 6],
            ["xlmr", "t", "random", 1, 0.42, 0.11, 6],
        ],
        columns=["model", "target", "predictor", "k", "ndcg", "regret", "n_sources"],
    )
    text = answer(correlations, selection)
    assert text.startswith("Does task similarity predict the zero-shot transfer gain of xlmr?")
    assert (
        "TextEmb similarity predicts the gain: Spearman ρ = 0.67 [0.36, 0.81] over 18 "
        "source-target pairs, permutation p = 0.002 (adjusted 0.004)."
    ) in text
    assert "TaskEmb similarity gives no reliable evidence: Spearman ρ = 0.27" in text
    assert text.index("TextEmb") < text.index("TaskEmb")  # strongest first
    assert "by TextEmb leaves a mean Regret@1 of 0.00 against 0.11 for a random source" in text
    assert "no answer yet" in answer(correlations.iloc[:0])


def test_selection_without_target_scores_is_told_by_ndcg():
    from xltransfer.report.answer import _selection_sentence

    means = pd.DataFrame(
        {"ndcg": [0.9, 1.0, 0.4, 0.95], "regret": [float("nan")] * 4},
        index=["taxonomy", "paper", "random", "dataset_size"],
    )
    text = _selection_sentence(means)
    assert text.startswith("Choosing the most similar source by paper reaches a mean NDCG@1")
    assert "1.00 against 0.40 for a random source" in text and "no Regret@1" in text
