"""The report's summary page: tables in the right order with the right numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from xltransfer.analysis.gains import SUMMARY_COLUMNS
from xltransfer.analysis.mixed_model import MIXED_COLUMNS
from xltransfer.report.page import correlation_table, ranking_table, summary_page


def correlations() -> pd.DataFrame:
    columns = ["model", "method", "scope", "target", "language", "statistic", "estimate"]
    rows = [
        ["m", "taxonomy", "pooled", "*", "non-en", "kendall", 0.2],
        ["m", "taxonomy", "pooled", "*", "non-en", "spearman", 0.3],
        ["m", "textemb", "pooled", "*", "non-en", "spearman", 0.6],
        ["m", "textemb", "target", "xnli", "non-en", "spearman", 0.9],
        ["m", "textemb", "target_language", "xnli", "de", "spearman", 0.8],
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.assign(
        ci_low=frame["estimate"] - 0.1,
        ci_high=frame["estimate"] + 0.1,
        p_permutation=0.0123,
        p_adjusted=[0.05, 0.04, 0.03, 0.02, float("nan")],
        n=[18, 18, 18, 6, 6],
    )


def selection() -> pd.DataFrame:
    columns = ["model", "target", "candidates", "predictor", "k", "k_label", "ndcg", "regret"]
    columns += ["regret_points", "best_source_rank", "n_sources"]
    rows = [
        ["m", "a", "all", "textemb", 1, "1", 1.0, 0.0, 0.0, 1.0, 6],
        ["m", "b", "all", "textemb", 1, "1", 0.5, 0.2, 2.0, 3.0, 6],
        ["m", "a", "all", "random", 1, "1", 0.3, 0.1, 1.0, 3.5, 6],
        ["m", "b", "all", "random", 1, "1", 0.4, 0.3, 3.0, 3.5, 6],
        ["m", "a", "in_class", "textemb", 1, "1", 0.0, 0.9, 9.0, 2.0, 2],
    ]
    return pd.DataFrame(rows, columns=columns)


def test_correlation_table_puts_the_strongest_method_and_spearman_first():
    table = correlation_table(correlations())
    assert table["method"].tolist() == ["TextEmb", "TextEmb", "Taxonomy", "Taxonomy"]
    assert table["scope"].tolist() == ["pooled", "target", "pooled", "pooled"]
    assert table["statistic"].tolist()[2:] == ["spearman", "kendall"]
    assert table["CI"].iloc[0] == "[0.50, 0.70]"
    assert table["p (permutation)"].iloc[0] == "0.012"
    per_language = correlation_table(correlations(), scopes=("target_language",))
    assert per_language["languages"].tolist() == ["de"]
    assert per_language["p (adjusted)"].tolist() == ["—"]


def test_ranking_table_means_over_targets():
    table = ranking_table(selection())
    every = table[table["candidates"] == "all"].set_index("predictor")
    assert every.loc["TextEmb", "NDCG@k"] == "0.75" and every.loc["TextEmb", "Regret@k"] == "0.100"
    assert every.loc["TextEmb", "Regret@k (points)"] == "1.000"
    assert every.loc["TextEmb", "rank of best source"] == "2.0"
    assert every.loc["random", "NDCG@k"] == "0.35" and every.loc["random", "Regret@k"] == "0.200"
    assert every.index.tolist() == ["TextEmb", "random"]  # best NDCG first
    # The in-class rows are their own mean, not mixed into all sources'.
    in_class = table[table["candidates"] == "in_class"].set_index("predictor")
    assert in_class.loc["TextEmb", "NDCG@k"] == "0.00" and in_class.loc["TextEmb", "targets"] == 1


def test_summary_page_holds_question_answer_tables_and_escaped_config():
    mixed = pd.DataFrame(
        [
            ["m", "textemb", 0.03, 0.01, 0.01, 0.05, 0.002, 18, 3, 5, True, "ols", ""]
            + ["pair_fixed", 6, 10]
        ],
        columns=MIXED_COLUMNS,
    )
    config = {"run": "demo", "experiment": {"sources": ["<mnli>"]}, "resources": {"x": 1}}
    gains = pd.DataFrame(
        [
            ["m", "a", "t", "acc", 0.02, 0.05, 3, 4, True],
            ["m", "b", "t", "acc", 0.1, 0.01, 3, 4, False],
        ],
        columns=SUMMARY_COLUMNS,
    )
    page = summary_page(
        config, "TextEmb predicts the gain.", correlations(), mixed, selection(), gains
    )
    assert page.startswith("<!doctype html>")
    assert "Does task similarity" in page and "TextEmb predicts the gain." in page
    assert "[0.50, 0.70]" in page and "+0.030" in page and "NDCG@k" in page
    assert "+0.100 ± 0.010" in page and page.index("+0.100") < page.index("+0.020 ± 0.050")
    assert "&lt;mnli&gt;" in page and "<mnli>" not in page  # config text is escaped
    assert "resources" not in page  # only the sections that define the science


@pytest.mark.parametrize("missing", ["ci_low", "p_adjusted"])
def test_tables_name_a_missing_column(missing):
    with pytest.raises(KeyError, match=missing):
        correlation_table(correlations().drop(columns=missing))
