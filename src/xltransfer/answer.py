"""The research question answered in plain words, from the numbers of one run.

A method "predicts gain" when its pooled Spearman interval (bootstrap over source tasks) excludes
0 and its adjusted permutation p-value is below `alpha`; "weak evidence" when only one of the two
holds; otherwise there is "no reliable evidence". Nothing here is hand-written per run.
"""

from __future__ import annotations

import math

import pandas as pd

METHOD_NAMES = {
    "taxonomy": "Taxonomy",
    "wu_palmer": "Wu–Palmer taxonomy",
    "textemb": "TextEmb",
    "taskemb": "TaskEmb",
    "vocab_overlap": "Vocabulary-overlap",
}


def _number(value: float, spec: str = ".2f") -> str:
    return format(value, spec) if value is not None and math.isfinite(value) else "undefined"


def verdict(row: pd.Series, alpha: float = 0.05) -> str:
    """'predicts', 'weak' or 'none' for one pooled correlation row."""
    excludes_zero = (row["ci_low"] > 0) or (row["ci_high"] < 0)
    significant = row["p_adjusted"] < alpha
    if excludes_zero and significant:
        return "predicts"
    return "weak" if excludes_zero or significant else "none"


def _method_sentence(row: pd.Series, alpha: float) -> str:
    name = METHOD_NAMES.get(row["method"], row["method"])
    numbers = (
        f"Spearman ρ = {_number(row['estimate'])} [{_number(row['ci_low'])}, "
        f"{_number(row['ci_high'])}] over {int(row['n'])} source-target pairs, "
        f"permutation p = {_number(row['p_permutation'], '.2g')} "
        f"(adjusted {_number(row['p_adjusted'], '.2g')})"
    )
    lead = {
        "predicts": f"{name} similarity predicts the gain",
        "weak": f"{name} similarity gives weak evidence",
        "none": f"{name} similarity gives no reliable evidence",
    }[verdict(row, alpha)]
    return f"{lead}: {numbers}."


def _selection_sentence(means: pd.DataFrame) -> str:
    """How the best similarity's top-1 pick compares with a random one: Regret@1 when target
    scores exist, else (published gains only) NDCG@1 alone."""
    methods = means.drop(index=["random", "dataset_size"], errors="ignore")
    random = means.loc["random"]
    if methods["regret"].notna().any():
        best = methods["regret"].idxmin()
        return (
            f"Choosing the most similar source by {METHOD_NAMES.get(best, best)} leaves a "
            f"mean Regret@1 of {_number(methods.loc[best, 'regret'])} against "
            f"{_number(random['regret'])} for a random source "
            f"(NDCG@1 {_number(methods.loc[best, 'ndcg'])} against {_number(random['ndcg'])})."
        )
    best = methods["ndcg"].idxmax()
    return (
        f"Choosing the most similar source by {METHOD_NAMES.get(best, best)} reaches a mean "
        f"NDCG@1 of {_number(methods.loc[best, 'ndcg'])} against {_number(random['ndcg'])} for a "
        "random source (no target scores, so no Regret@1)."
    )


def answer(
    correlations: pd.DataFrame,
    selection: pd.DataFrame | None = None,
    alpha: float = 0.05,
) -> str:
    """One paragraph per model: each method's pooled verdict, then source selection at k = 1."""
    pooled = correlations[
        (correlations["scope"] == "pooled") & (correlations["statistic"] == "spearman")
    ]
    if pooled.empty:
        return "No pooled correlations were computed, so the question has no answer yet."
    paragraphs = []
    for model, rows in pooled.groupby("model", sort=True):
        rows = rows.sort_values("estimate", ascending=False, na_position="last")
        text = [f"Does task similarity predict the zero-shot transfer gain of {model}?"]
        text += [_method_sentence(row, alpha) for _, row in rows.iterrows()]
        if selection is not None and not selection.empty:
            top = selection[(selection["model"] == model) & (selection["k"] == 1)]
            means = top.groupby("predictor")[["ndcg", "regret"]].mean()
            if "random" in means.index:
                text.append(_selection_sentence(means))
        paragraphs.append(" ".join(text))
    return "\n\n".join(paragraphs)
