"""Source-selection metrics of a published grid under both NDCG and both Regret definitions.

Reads a workflow config with a `published:` section (the results table and its similarity or
selection-score table, layout in src/xltransfer/analysis/published.py), checks them as the dry
run does, and prints, per predictor and k, the mean over targets of NDCG@k with the
`exponential_rank` and the `linear_gain` gain definitions and of Regret@k with the `mean_top_k`
and `best` definitions (relative where the table has target scores, and in points from the
gains). No workflow runs. For example, from the repository root:

    .venv/bin/python benchmarks/published_ranking.py config/published_example.yaml --ks 1 3

A table without a language axis keeps every row (source_language None); one with a language
axis averages its non-source-language rows, as the workflow does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import yaml

from xltransfer.analysis.published import load_results, load_similarity, read_design
from xltransfer.analysis.ranking import NDCG_DEFINITIONS, REGRET_DEFINITIONS
from xltransfer.analysis.selection import ALL_CANDIDATES, evaluate_selection, pair_means

METRICS = {"ndcg": "NDCG", "regret": "Regret", "regret_points": "Regret points"}


def ranking_table(config: dict, ks: list[int | str]) -> pd.DataFrame:
    """Mean over targets of every metric, one column per (metric, definition)."""
    settings = {
        "baseline_source": "none",
        "model": "published",
        "metric": "score",
        "source_language": "en",
        **config["published"],
    }
    grid = read_design(settings)
    means = pair_means(load_results(settings), grid.source_language)
    if "similarity" not in settings:
        raise SystemExit("the config names no published.similarity: nothing to rank with")
    similarity = load_similarity(settings["similarity"], grid, reserved=[])
    sizes = settings.get("source_sizes") or None
    columns = {}
    for ndcg in NDCG_DEFINITIONS:
        for regret in REGRET_DEFINITIONS:
            table = evaluate_selection(means, similarity, sizes, ks, ndcg=ndcg, regret=regret)
            table = table[table["candidates"] == ALL_CANDIDATES]
            mean = table.groupby(["model", "predictor", "k_label"])[list(METRICS)].mean()
            columns[f"NDCG@k {ndcg}"] = mean["ndcg"]
            columns[f"Regret@k {regret}"] = mean["regret"]
            columns[f"Regret@k points {regret}"] = mean["regret_points"]
    order = sorted(columns, key=lambda name: ("points" in name, not name.startswith("NDCG")))
    out = pd.DataFrame({name: columns[name] for name in order}).reset_index()
    out["targets"] = len(grid.targets)
    return out.sort_values(
        ["model", "k_label", f"NDCG@k {NDCG_DEFINITIONS[0]}"], ascending=[True, True, False]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", type=Path, help="workflow config with a `published:` section")
    parser.add_argument("--ks", nargs="+", default=["1", "3"], help="k values (integers or all)")
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    ks = [k if k == "all" else int(k) for k in args.ks]
    table = ranking_table(config, ks)
    print(table.to_markdown(index=False, floatfmt=".3f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
