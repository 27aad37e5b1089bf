"""The run's summary page for `snakemake --report`: question, configuration, answer and tables.

Plots reach the report as their own items; this page holds what a plot cannot: the exact numbers
of the correlation table (intervals, permutation and adjusted p-values), the pooled mixed model,
the source-selection metrics, and the configuration that produced them.
"""

from __future__ import annotations

import html

import pandas as pd
import yaml

from xltransfer.answer import METHOD_NAMES

QUESTION = (
    "Does task similarity, measured by a task taxonomy or by task embeddings, predict the "
    "zero-shot cross-lingual transfer gain of intermediate-task fine-tuning?"
)
# The question of a published table without a language axis (a monolingual source × target grid).
TRANSFER_QUESTION = (
    "Does task similarity, measured by a task taxonomy or by task embeddings, predict the "
    "transfer gain of intermediate-task fine-tuning?"
)
# What a reader needs to reproduce or judge the run; the rest (resources, paths) is in the config.
CONFIG_SECTIONS = ("run", "experiment", "models", "training", "similarity", "analysis", "published")
STATISTIC_ORDER = {"spearman": 0, "pearson": 1, "kendall": 2}
STYLE = """
body { font-family: sans-serif; max-width: 70em; margin: 1em auto; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.answer { border-left: 4px solid #4a7; padding: 0.4em 1em; background: #f4faf6; }
"""


def _interval(low: float, high: float, digits: int = 2) -> str:
    return "—" if pd.isna(low) or pd.isna(high) else f"[{low:.{digits}f}, {high:.{digits}f}]"


def _p(value: float) -> str:
    return "—" if pd.isna(value) else f"{value:.2g}"


def correlation_table(correlations: pd.DataFrame, scopes=("pooled", "target")) -> pd.DataFrame:
    """Pooled and per-target correlations, one row per test, strongest pooled method first."""
    rows = correlations[correlations["scope"].isin(scopes)].copy()
    order = (
        rows[(rows["scope"] == "pooled") & (rows["statistic"] == "spearman")]
        .groupby("method")["estimate"]
        .max()
        .sort_values(ascending=False)
    )
    rank = {method: i for i, method in enumerate(order.index)}
    rows["_method_rank"] = rows["method"].map(rank).fillna(len(rank))
    rows["_scope_rank"] = rows["scope"].map({scope: i for i, scope in enumerate(scopes)})
    rows["_statistic_rank"] = rows["statistic"].map(STATISTIC_ORDER).fillna(len(STATISTIC_ORDER))
    rows = rows.sort_values(
        ["model", "_method_rank", "_scope_rank", "target", "language", "_statistic_rank"]
    )
    return pd.DataFrame(
        {
            "model": rows["model"],
            "method": rows["method"].map(lambda m: METHOD_NAMES.get(m, m)),
            "scope": rows["scope"],
            "target": rows["target"],
            "languages": rows["language"],
            "statistic": rows["statistic"],
            "estimate": rows["estimate"].map("{:.2f}".format),
            "CI": [_interval(a, b) for a, b in zip(rows["ci_low"], rows["ci_high"], strict=True)],
            "p (permutation)": rows["p_permutation"].map(_p),
            "p (adjusted)": rows["p_adjusted"].map(_p),
            "n pairs": rows["n"],
        }
    )


def mixed_model_table(mixed: pd.DataFrame) -> pd.DataFrame:
    """The pooled model per (model, method): slope per SD of similarity, CI, p, its variant."""
    return pd.DataFrame(
        {
            "model": mixed["model"],
            "method": mixed["method"].map(lambda m: METHOD_NAMES.get(m, m)),
            "slope (gain per SD)": mixed["slope"].map("{:+.3f}".format),
            "CI": [
                _interval(a, b, digits=3)
                for a, b in zip(mixed["ci_low"], mixed["ci_high"], strict=True)
            ],
            "p": mixed["p_value"].map(_p),
            "n": mixed["n"],
            "variant": mixed["variant"],
            "converged": mixed["converged"].map({True: "yes", False: "no"}),
        }
    )


def ranking_table(selection: pd.DataFrame) -> pd.DataFrame:
    """NDCG@k, Regret@k (relative and in points) and the best source's rank of each predictor,
    mean over target tasks per candidate set (all sources, or in-class), best NDCG first."""
    by = ["model", "candidates", "k_label", "predictor"]
    mean = selection.groupby(by, as_index=False, sort=False).agg(
        k=("k", "max"),
        ndcg=("ndcg", "mean"),
        regret=("regret", "mean"),
        regret_points=("regret_points", "mean"),
        best_rank=("best_source_rank", "mean"),
        targets=("target", "nunique"),
    )
    mean = mean.sort_values(
        ["model", "candidates", "k", "ndcg"], ascending=[True, True, True, False]
    )

    def number(spec: str):
        return lambda r: "—" if pd.isna(r) else format(r, spec)

    return pd.DataFrame(
        {
            "model": mean["model"],
            "candidates": mean["candidates"],
            "k": mean["k_label"],
            "predictor": mean["predictor"].map(lambda m: METHOD_NAMES.get(m, m)),
            "NDCG@k": mean["ndcg"].map("{:.2f}".format),
            "Regret@k": mean["regret"].map(number(".3f")),
            "Regret@k (points)": mean["regret_points"].map(number(".3f")),
            "rank of best source": mean["best_rank"].map(number(".1f")),
            "targets": mean["targets"],
        }
    )


def gain_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Gain per (model, source, target): mean over seeds ± their spread, flagged where the
    spread across seeds exceeds the gain itself."""
    rows = summary.sort_values(["model", "target", "gain_mean"], ascending=[True, True, False])
    spread = rows["gain_std"].map(lambda sd: "" if pd.isna(sd) else f" ± {sd:.3f}")
    return pd.DataFrame(
        {
            "model": rows["model"],
            "target": rows["target"],
            "source": rows["source"],
            "metric": rows["metric"],
            "gain (mean ± SD over seeds)": rows["gain_mean"].map("{:+.3f}".format) + spread,
            "seeds": rows["n_seeds"],
            "languages": rows["n_languages"],
            "spread exceeds gain": rows["spread_exceeds_gain"].map({True: "yes", False: ""}),
        }
    )


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, escape=True)


def summary_page(
    config: dict,
    answer: str,
    correlations: pd.DataFrame,
    mixed: pd.DataFrame,
    selection: pd.DataFrame,
    gains: pd.DataFrame,
    zero_shot: bool = True,
) -> str:
    """A self-contained HTML page: the question, the answer, the tables and the configuration.

    `gains` is the gain summary (one row per model, source and target). `zero_shot` False (a
    published table without a language axis) speaks of the transfer gain, with no languages."""
    shown = {key: config[key] for key in CONFIG_SECTIONS if key in config}
    gain = "zero-shot gain" if zero_shot else "transfer gain"
    averaged = (
        "mean over the non-English languages within a seed, then over seeds"
        if zero_shot
        else "mean over seeds"
    )
    pair_mean = "non-English mean over languages and seeds" if zero_shot else "mean over seeds"
    per_language = correlation_table(correlations, scopes=("target_language",))
    per_target_selection = selection.assign(
        predictor=selection["predictor"].map(lambda m: METHOD_NAMES.get(m, m))
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>xltransfer: {html.escape(str(config.get('run', '')))}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>xltransfer run <code>{html.escape(str(config.get('run', '')))}</code></h1>",
        f"<h2>Question</h2><p>{html.escape(QUESTION if zero_shot else TRANSFER_QUESTION)}</p>",
        f"<h2>Answer</h2><p class='answer'>{html.escape(answer.strip())}</p>",
        "<h2>Transfer gains</h2>",
        f"<p>{gain.capitalize()} of each source over the target-only baseline (primary metric, "
        f"{averaged}). A gain whose spread across seeds exceeds it is not a finding on its "
        "own.</p>",
        _table(gain_table(gains)),
        "<h2>Similarity against gain</h2>",
        f"<p>Correlation of each similarity method with the {gain} ({pair_mean}), pooled over "
        "all (source, target) pairs and per target task. "
        "Intervals resample source tasks; p-values come from permutations of similarity across "
        "sources within each target and are adjusted within each family of tests.</p>",
        _table(correlation_table(correlations)),
        "<h2>Pooled slope</h2>",
        "<p>gain ~ standardised similarity on the (source, target) pair means, with source and "
        "target fixed effects and a t-test (<code>pair_fixed</code>, the default; "
        "<code>analysis.mixed_model</code> names the variant), calibrated by simulation "
        "(BENCHMARKS.md).</p>",
        _table(mixed_model_table(mixed)),
        "<h2>Source selection</h2>",
        "<p>Ranking the sources of each target by a predictor: NDCG@k against the gold ranking "
        "of the gains, Regret@k against the target scores (relative) and the gains (points), "
        "and the rank given to the best source, mean over targets, among all sources or only "
        "those of the target's format (in-class); <code>random</code> is each metric's exact "
        "expectation under a uniformly random order.</p>",
        _table(ranking_table(selection)),
        "<details><summary>Per target task</summary>",
        _table(per_target_selection.round(3)),
        "</details>",
        "<details><summary>Correlations per target task and language</summary>",
        _table(per_language),
        "</details>",
        "<h2>Configuration</h2>",
        f"<pre>{html.escape(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True))}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)
