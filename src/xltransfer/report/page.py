"""The run's summary page for `snakemake --report`: question, configuration, answer and tables.

The page holds what a plot cannot: the exact numbers of the correlation table (intervals,
permutation and adjusted p-values), the pooled mixed model, the source-selection metrics, and the
configuration that produced them. Each plot is embedded beside the table it summarises (the gain
heatmap beside the gain table, similarity against gain beside the correlations, the transfer gap
beside its table) as a base64 data URI, so the page is one self-contained file a reader can look
at instead of read. The plots also reach the report as their own items.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import yaml

from xltransfer.report.answer import METHOD_NAMES

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
body { font-family: sans-serif; max-width: 90em; margin: 1em auto; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.answer { border-left: 4px solid #4a7; padding: 0.4em 1em; background: #f4faf6; }
.beside { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
.beside > .table { overflow-x: auto; max-width: 100%; }
.beside > figure { flex: 1 1 28em; margin: 0.5em 0 1.5em; position: sticky; top: 0.5em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
"""
# The plots the page embeds, by the name the workflow gives them; `transfer_gap` only where
# targets are fine-tuned (Choi et al.'s gap needs the target-only baseline's English score).
PLOTS = ("heatmap", "scatter", "transfer_gap")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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


def transfer_gap_table(gaps: pd.DataFrame) -> pd.DataFrame:
    """The transfer gap (% of the English score lost) per (model, target) and language, with
    the English score and the mean over languages."""
    rows = gaps.sort_values(["model", "target", "language"])
    wide = rows.pivot_table(
        index=["model", "target"], columns="language", values="gap_percent", sort=False
    )
    english = rows.groupby(["model", "target"], sort=False)["english"].first()
    table = wide.map("{:.1f}".format)
    table.insert(0, "English score", english.reindex(wide.index).map("{:.3f}".format))
    table["mean gap (%)"] = wide.mean(axis=1).map("{:.1f}".format)
    table.columns.name = None
    return table.reset_index()


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, escape=True)


def _figure(path: Path | str, alt: str, caption: str) -> str:
    """A PNG file as an inline <figure> (a base64 data URI), so the page needs no other file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"summary page: the plot {path} is missing") from None
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError(f"summary page: the plot {path} is not a PNG file")
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (
        f"<figure><img src='{uri}' alt='{html.escape(alt, quote=True)}'>"
        f"<figcaption>{caption} (<code>{html.escape(path.name)}</code>)</figcaption></figure>"
    )


def _beside(table: str, figure: str | None) -> str:
    """A table with the plot that summarises it next to it (below it where the page is narrow)."""
    if figure is None:
        return table
    return f"<div class='beside'><div class='table'>{table}</div>{figure}</div>"


def summary_page(
    config: dict,
    answer: str,
    correlations: pd.DataFrame,
    mixed: pd.DataFrame,
    selection: pd.DataFrame,
    gains: pd.DataFrame,
    zero_shot: bool = True,
    plots: Mapping[str, Path | str] | None = None,
    transfer_gap: pd.DataFrame | None = None,
) -> str:
    """A self-contained HTML page: the question, the answer, the tables, their plots and the
    configuration.

    `gains` is the gain summary (one row per model, source and target). `zero_shot` False (a
    published table without a language axis) speaks of the transfer gain, with no languages.
    `plots` maps `heatmap`, `scatter` and (optionally) `transfer_gap` to PNG files, each embedded
    beside its table; a named file that is missing or not a PNG is an error naming it.
    `transfer_gap` is the transfer-gap table, shown with its plot where the run has one."""
    plots = dict(plots or {})
    unknown = sorted(set(plots) - set(PLOTS))
    if unknown:
        raise KeyError(f"summary page: unknown plots {unknown}; known: {list(PLOTS)}")
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
    heatmap = scatter = gap_figure = None
    if "heatmap" in plots:
        heatmap = _figure(
            plots["heatmap"],
            f"Heatmap of the {gain} per source and target",
            f"{gain.capitalize()} per source (rows) and target (columns).",
        )
    if "scatter" in plots:
        scatter = _figure(
            plots["scatter"],
            f"Similarity against {gain}, one panel per method",
            f"Similarity against {gain} per method, one point per (source, target) pair, "
            "with a least-squares line and the pooled Spearman correlation.",
        )
    if "transfer_gap" in plots:
        gap_figure = _figure(
            plots["transfer_gap"],
            "Transfer gap per target task and language",
            "Share of the English score the target-only baseline loses per language; "
            "the black bar is the mean over languages.",
        )
    gap_section = []
    if transfer_gap is not None or gap_figure is not None:
        gap_section = [
            "<h2>Transfer gap</h2>",
            "<p>The share of the English score (%) that the target-only baseline "
            "(<code>none</code>) loses in each language, mean over seeds (Choi et al. 2021).</p>",
            _beside(
                "" if transfer_gap is None else _table(transfer_gap_table(transfer_gap)),
                gap_figure,
            ),
        ]
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
        _beside(_table(gain_table(gains)), heatmap),
        "<h2>Similarity against gain</h2>",
        f"<p>Correlation of each similarity method with the {gain} ({pair_mean}), pooled over "
        "all (source, target) pairs and per target task. "
        "Intervals resample source tasks; p-values come from permutations of similarity across "
        "sources within each target and are adjusted within each family of tests.</p>",
        _beside(_table(correlation_table(correlations)), scatter),
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
        *gap_section,
        "<h2>Configuration</h2>",
        f"<pre>{html.escape(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True))}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)
