"""The research question answered in plain words, from the numbers of one run.

One test per method decides, named before any data are seen (`analysis.primary_test`): the
pooled Spearman's source-permutation test (default) or the mixed model's t-test, each adjusted
over the methods of a model (Holm, or as `analysis.p_adjust` says). A method "predicts the gain"
when its primary test rejects at `alpha`; otherwise it "gives no reliable evidence". The verdict
has the test's own power and false-positive rate: the quoted interval no longer has to agree (the
pooled Spearman's jackknife interval errs wide, 96-98 % coverage in the calibration benchmark).
Where the interval, or the other (secondary) test, disagrees with the verdict, the sentence says
so. Nothing here is hand-written per run.
"""

from __future__ import annotations

import math

import pandas as pd

from xltransfer.analysis.inference import adjust_pvalues
from xltransfer.analysis.power import GridPower
from xltransfer.analysis.simulation import GridShape, minimum_detectable_effect
from xltransfer.analysis.verdict import PRIMARY_TESTS, verdict

METHOD_NAMES = {
    "taxonomy": "Taxonomy",
    "wu_palmer": "Wu–Palmer taxonomy",
    "textemb": "TextEmb",
    "taskemb": "TaskEmb",
    "task2vec": "Task2Vec",
    "vocab_overlap": "Vocabulary-overlap",
}


def _number(value: float, spec: str = ".2f") -> str:
    return format(value, spec) if value is not None and math.isfinite(value) else "undefined"


TEST_NAMES = {
    "pooled_permutation": "the pooled Spearman's source permutation",
    "mixed_model": "the mixed model's t-test",
}


def _pooled_numbers(row: pd.Series) -> str:
    return (
        f"Spearman ρ = {_number(row['estimate'])} [{_number(row['ci_low'])}, "
        f"{_number(row['ci_high'])}] over {int(row['n'])} source-target pairs, "
        f"permutation p = {_number(row['p_permutation'], '.2g')} "
        f"(adjusted {_number(row['p_adjusted'], '.2g')})"
    )


def _mixed_numbers(row: pd.Series) -> str:
    low, high = _number(row["ci_low"], "+.3f"), _number(row["ci_high"], "+.3f")
    return (
        f"mixed-model slope {_number(row['slope'], '+.3f')} gain per standard deviation of this "
        f"grid's similarity [{low}, {high}], t-test p = {_number(row['p_value'], '.2g')} "
        f"(adjusted {_number(row['p_adjusted'], '.2g')})"
    )


def _method_sentence(
    row: pd.Series,
    alpha: float,
    mixed: pd.Series | None = None,
    primary: str = "pooled_permutation",
) -> str:
    """The verdict of one method by its primary test, its numbers, and any disagreement."""
    name = METHOD_NAMES.get(row["method"], row["method"])
    # (rejects, numbers, name) of each test
    pooled = (bool(row["p_adjusted"] < alpha), _pooled_numbers(row), "pooled Spearman")
    fitted = None
    if mixed is not None:
        fitted = (bool(mixed["p_adjusted"] < alpha), _mixed_numbers(mixed), "mixed model")
    main, second = (fitted, pooled) if primary == "mixed_model" and fitted else (pooled, fitted)
    said = verdict(main[0], second is not None and second[0])
    lead = {
        "predicts": f"{name} similarity predicts the gain",
        "weak": f"{name} similarity gives no reliable evidence by the primary test",
        "none": f"{name} similarity gives no reliable evidence",
    }[said]
    text = f"{lead}: {main[1]}"
    if main is pooled:
        excludes_zero = row["ci_low"] > 0 or row["ci_high"] < 0
        if main[0] and not excludes_zero:
            text += "; its jackknife interval, which errs wide, still includes 0"
        elif excludes_zero and not main[0]:
            text += "; its interval excludes 0, but the test, which decides, does not reject"
    if second is not None and second[0] != main[0]:
        agrees = "rejects" if second[0] else "does not reject"
        text += f". The secondary test, the {second[2]}, {agrees}: {second[1]}"
    return text + "."


NDCG_NAMES = {
    "exponential_rank": "exponential gain on gold ranks",
    "linear_gain": "linear gain above the worst source",
}
REGRET_NAMES = {
    "mean_top_k": "mean score of the top k against the gold top k",
    "best": "best score of the top k against the best source, Poth et al. 2021",
}


def _selection_sentence(
    means: pd.DataFrame, ndcg_definition: str | None = None, regret_definition: str | None = None
) -> str:
    """How the best similarity's top-1 pick compares with a random one: Regret@1 when target
    scores exist, else (published gains only) NDCG@1 and, where given, Regret@1 in points.

    `means` is indexed by predictor; the random row is the exact expectation under a uniformly
    random order. The definitions, where given, are named in the sentence."""
    methods = means.drop(index=["random", "dataset_size"], errors="ignore")
    random = means.loc["random"]
    ndcg_name = f" ({NDCG_NAMES.get(ndcg_definition, ndcg_definition)})" if ndcg_definition else ""
    regret_name = (
        f"; Regret@k as {REGRET_NAMES.get(regret_definition, regret_definition)}"
        if regret_definition
        else ""
    )
    if methods["regret"].notna().any():
        best = methods["regret"].idxmin()
        return (
            f"Choosing the most similar source by {METHOD_NAMES.get(best, best)} leaves a "
            f"mean Regret@1 of {_number(methods.loc[best, 'regret'])} against "
            f"{_number(random['regret'])} for a random source (its exact expectation"
            f"{regret_name}), NDCG@1{ndcg_name} {_number(methods.loc[best, 'ndcg'])} against "
            f"{_number(random['ndcg'])}."
        )
    best = methods["ndcg"].idxmax()
    points = ""
    if "regret_points" in means.columns and methods["regret_points"].notna().any():
        points = (
            f"; its pick falls {_number(methods.loc[best, 'regret_points'])} points short of the "
            f"best source against {_number(random['regret_points'])} at random"
        )
    return (
        f"Choosing the most similar source by {METHOD_NAMES.get(best, best)} reaches a mean "
        f"NDCG@1{ndcg_name} of {_number(methods.loc[best, 'ndcg'])} against "
        f"{_number(random['ndcg'])} for a random source (its exact expectation){points} "
        "(no target scores, so no Regret@1)."
    )


POOLING_REASONS = {
    "within_target_rank": (
        "Similarity and gain are ranked within each target before pooling, so a target that "
        "gains from every source, or a similarity scale that differs between targets, adds no "
        "agreement of its own"
    ),
    "z_score": (
        "Similarity and gain are standardised within each target before pooling, so level and "
        "scale differences between targets add no agreement of their own"
    ),
    "raw": (
        "Similarity and gain are pooled as measured, so differences in level between targets "
        "enter the correlation"
    ),
}


def _adjusted_mixed(mixed: pd.DataFrame | None, model: str, how: str) -> dict[str, pd.Series]:
    """The mixed-model row of each method of `model`, its p-value adjusted over the methods."""
    if mixed is None or mixed.empty:
        return {}
    rows = mixed[mixed["model"] == model].copy()
    rows["p_adjusted"] = adjust_pvalues(rows["p_value"].to_numpy(float), how)
    return {row["method"]: row for _, row in rows.iterrows()}


def grid_shape(correlations: pd.DataFrame, model: str) -> GridShape:
    """Sources, targets and languages of one model's grid as its correlation table shows them
    (seeds are not recorded there: 1)."""
    rows = correlations[correlations["model"] == model]
    per_target = rows[rows["scope"] == "target"]
    per_language = rows[rows["scope"] == "target_language"]
    pooled = rows[rows["scope"] == "pooled"]
    targets = per_target["target"].nunique() or 1
    sources = int(per_target["n"].max()) if len(per_target) else int(pooled["n"].max() // targets)
    languages = max(per_language["language"].nunique() - 1, 1) if len(per_language) else 1
    return GridShape(sources, targets, languages, 1)


def _power_sentence(
    correlations: pd.DataFrame,
    model: str,
    shape: GridShape | None,
    pooling: str,
    alpha: float,
    power: GridPower | None = None,
) -> str:
    """Which pooling the verdicts use and why, and the smallest effect the grid detects: from
    the grid's own variance shares where `power` gives them, else from assumed ones."""
    shape = shape or grid_shape(correlations, model)
    reason = POOLING_REASONS.get(pooling, f"Pooling: {pooling}")
    if power is not None and math.isfinite(power.spearman):
        mde = power.spearman
        how = (
            "simulated with the pooled test itself"
            if power.how == "simulated"
            else "analytic approximation"
        )
        basis = (
            f"{how} at this grid's own variance shares: a source carries "
            f"{100 * power.gain_share:.0f} % of the gain's within-target variance and up to "
            f"{100 * power.similarity_share:.0f} % of a similarity's"
        )
    else:
        mde = minimum_detectable_effect(shape, power=0.8, alpha=alpha)["spearman"]
        basis = (
            "analytic approximation checked by simulation, assuming half the similarity "
            "variance shared by a source's pairs"
        )
    detect = (
        f"with {shape.sources} sources and {shape.targets} targets the pooled test has 80 % "
        f"power only for a true within-target Spearman ρ of about {_number(mde)} or more "
        f"({basis}), so a weaker relation can go unseen"
        if math.isfinite(mde)
        else f"{shape.sources} sources and {shape.targets} targets are too few for 80 % power"
    )
    return (
        f"{reason}; the permutation p-value permutes source labels jointly across targets. "
        f"{detect[0].upper()}{detect[1:]}."
    )


# What the calibration benchmark (BENCHMARKS.md) measured where a grid breaks each assumption.
ASSUMPTION_CONSEQUENCES = {
    "heavy_tails": (
        "heavy-tailed gains ({detail}): the rank-based pooled permutation held its level under "
        "such tails in the calibration benchmark, the mixed model's normal errors do not hold"
    ),
    "unequal_noise": (
        "unequal noise between targets ({detail}): ranks within each target weigh the targets "
        "alike whatever their noise"
    ),
    "family_structure": (
        "sources whose effects move with their task family ({detail}, ANOVA p = {p}): sources "
        "are then not exchangeable, and under such structure the benchmark measured the pooled "
        "permutation at 8-10.5 % and the mixed model at 23-43 % false positives at 5 %"
    ),
    "missing_cells": (
        "missing cells ({detail}): per-target intervals covered 78-80 % in the benchmark when "
        "30 % of fine-tunes failed; the pooled permutation held its level"
    ),
}


def _assumption_sentence(checks: list) -> str:
    """The assumptions this grid breaks, by the checks of `analysis.assumptions`, and what the
    calibration benchmark measured there; or that the checks found none."""
    broken = [c for c in checks if c.breaks]
    if not broken:
        names = "heavy tails, unequal noise between targets, family structure or missing cells"
        return f"The checks of this grid against the tests' assumptions found no {names}."
    parts = [
        ASSUMPTION_CONSEQUENCES[c.name].format(detail=c.detail, p=_number(c.p_value, ".2g"))
        for c in broken
    ]
    return f"This grid breaks the tests' assumptions with {'; and '.join(parts)}."


def answer(
    correlations: pd.DataFrame,
    selection: pd.DataFrame | None = None,
    alpha: float = 0.05,
    zero_shot: bool = True,
    shape: GridShape | None = None,
    pooling: str = "within_target_rank",
    powers: dict[str, GridPower] | None = None,
    mixed: pd.DataFrame | None = None,
    primary: str = "pooled_permutation",
    p_adjust: str = "holm",
    assumptions: dict[str, list] | None = None,
) -> str:
    """One paragraph per model: each method's pooled verdict, then source selection at k = 1.

    `zero_shot` False (a published table without a language axis) asks of the transfer gain.
    Each paragraph also names the pooling (`analysis.pooled`) and the grid's minimum detectable
    effect at 80 % power; `shape` (sources, targets, languages, seeds) defaults to what the
    correlation table shows (the detectable correlation depends on sources and targets only),
    and `powers` gives per model the grid's own variance shares (`analysis.power.grid_power`).
    `mixed` (mixed_effects.parquet) is the primary or secondary test, as `primary` says;
    `assumptions` (`analysis.assumptions.grid_assumptions`) the checks of each model's grid."""
    if primary not in PRIMARY_TESTS:
        raise ValueError(f"unknown primary test {primary!r}; choose from {list(PRIMARY_TESTS)}")
    pooled = correlations[
        (correlations["scope"] == "pooled") & (correlations["statistic"] == "spearman")
    ]
    if pooled.empty:
        return "No pooled correlations were computed, so the question has no answer yet."
    paragraphs = []
    for model, rows in pooled.groupby("model", sort=True):
        rows = rows.sort_values("estimate", ascending=False, na_position="last")
        gain = "zero-shot transfer gain" if zero_shot else "transfer gain"
        text = [f"Does task similarity predict the {gain} of {model}?"]
        fits = _adjusted_mixed(mixed, model, p_adjust)
        text.append(
            f"The primary test, fixed before the data (`analysis.primary_test`), is "
            f"{TEST_NAMES[primary]}, adjusted over the methods."
        )
        text += [
            _method_sentence(row, alpha, fits.get(row["method"]), primary)
            for _, row in rows.iterrows()
        ]
        power = (powers or {}).get(model)
        text.append(_power_sentence(correlations, model, shape, pooling, alpha, power))
        if assumptions and model in assumptions:
            text.append(_assumption_sentence(assumptions[model]))
        if selection is not None and not selection.empty:
            top = selection[(selection["model"] == model) & (selection["k"] == 1)]
            if "candidates" in top.columns:  # every source, not the in-class split
                top = top[top["candidates"] == "all"]
            if "k_label" in top.columns:  # k = 1 asked for, not "all" of one source
                top = top[top["k_label"] == "1"]
            columns = [c for c in ("ndcg", "regret", "regret_points") if c in top.columns]
            means = top.groupby("predictor")[columns].mean()
            definitions = [
                top[c].iloc[0] if c in top.columns and len(top) else None
                for c in ("ndcg_definition", "regret_definition")
            ]
            if "random" in means.index:
                text.append(_selection_sentence(means, *definitions))
        paragraphs.append(" ".join(text))
    return "\n\n".join(paragraphs)
