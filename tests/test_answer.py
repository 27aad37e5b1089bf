"""The plain-language answer follows the numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from xltransfer.analysis.verdict import verdict
from xltransfer.report.answer import answer


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
    ("primary", "secondary", "expected"),
    [(True, False, "predicts"), (True, True, "predicts"), (False, True, "weak"),
     (False, False, "none")],
)  # fmt: skip
def test_the_primary_test_alone_decides(primary, secondary, expected):
    assert verdict(primary, secondary) == expected


def mixed_fit(method, slope, low, high, p, model="xlmr"):
    return {"model": model, "method": method, "slope": slope, "ci_low": low, "ci_high": high,
            "p_value": p, "variant": "pair_fixed"}  # fmt: skip


def test_the_verdict_has_the_tests_power_and_names_what_disagrees():
    # TextEmb: the permutation test rejects though the jackknife interval includes 0, and the
    # mixed model agrees. TaskEmb: the test does not reject; the mixed model (secondary) does.
    correlations = pd.DataFrame(
        [pooled("textemb", 0.4, -0.02, 0.7, 0.01), pooled("taskemb", 0.2, -0.3, 0.6, 0.3)]
    )
    mixed = pd.DataFrame(
        [
            mixed_fit("textemb", 0.05, 0.01, 0.09, 0.004),
            mixed_fit("taskemb", 0.03, 0.01, 0.05, 0.001),
        ]
    )
    text = answer(correlations, mixed=mixed)
    assert (
        "The primary test, fixed before the data (`analysis.primary_test`), is the pooled" in text
    )
    assert (
        "TextEmb similarity predicts the gain: Spearman ρ = 0.40 [-0.02, 0.70] over 18 "
        "source-target pairs, permutation p = 0.005 (adjusted 0.01); its jackknife interval, "
        "which errs wide, still includes 0."
    ) in text
    # Holm over the two methods: 0.001 x 2 and max(0.002, 0.004) for the mixed model.
    assert (
        "TaskEmb similarity gives no reliable evidence by the primary test: Spearman ρ = 0.20 "
        "[-0.30, 0.60] over 18 source-target pairs, permutation p = 0.15 (adjusted 0.3). The "
        "secondary test, the mixed model, rejects: mixed-model slope +0.030 gain per standard "
        "deviation of this grid's similarity [+0.010, +0.050], t-test p = 0.001 (adjusted 0.002)."
    ) in text
    # With the mixed model primary, TaskEmb predicts and the pooled test is the secondary.
    flipped = answer(correlations, mixed=mixed, primary="mixed_model")
    assert "is the mixed model's t-test, adjusted over the methods." in flipped
    assert "TaskEmb similarity predicts the gain: mixed-model slope +0.030" in flipped
    assert "The secondary test, the pooled Spearman, does not reject: Spearman ρ = 0.20" in flipped
    with pytest.raises(ValueError, match="unknown primary test 'both'"):
        answer(correlations, mixed=mixed, primary="both")


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


def test_answer_says_which_assumptions_the_grid_breaks():
    from xltransfer.analysis.assumptions import AssumptionCheck

    correlations = pd.DataFrame([pooled("textemb", 0.666, 0.361, 0.812, 0.004)])
    checks = [
        AssumptionCheck("heavy_tails", True, 6.1, 1e-5, "excess kurtosis 6.1"),
        AssumptionCheck("unequal_noise", False, 1.2, 0.5, "residual SD 1 to 1.2"),
        AssumptionCheck("family_structure", True, 9.0, 0.012, "3 families of 8 sources"),
        AssumptionCheck("missing_cells", False, 0.0, float("nan"), "0 % of 240 cells"),
    ]
    text = answer(correlations, assumptions={"xlmr": checks})
    assert (
        "This grid breaks the tests' assumptions with heavy-tailed gains (excess kurtosis 6.1)"
    ) in text
    assert "(3 families of 8 sources, ANOVA p = 0.012)" in text
    assert "unequal noise" not in text and "missing cells" not in text
    clean = [AssumptionCheck(c.name, False, c.statistic, c.p_value, c.detail) for c in checks]
    assert "found no heavy tails, unequal noise between targets" in answer(
        correlations, assumptions={"xlmr": clean}
    )
    assert "assumptions" not in answer(correlations)  # no checks given, none told
