"""Source-task selection: does ranking sources by a predictor pick the ones that help most?

For each (model, target) and candidate set, every predictor (each similarity method, the
training-set size of the source, and a uniformly random order) ranks the candidate sources, and
the ranking is scored, per k, against the non-English means of the primary metric
(`xltransfer.analysis.ranking` defines each metric and cites its source):

- ``ndcg``: NDCG@k against the gains, with the gain definition `ranking.ndcg`
  (``exponential_rank`` after Vu et al., 2020, or ``linear_gain``);
- ``regret``: relative Regret@k against the target scores, definition `ranking.regret`
  (``mean_top_k``, or ``best`` of Poth et al., 2021); NaN where the table has no scores
  (published gains only);
- ``regret_points``: the same regret in the metric's points, gold minus chosen, computed from
  the gains: a target has one baseline score, so score differences are gain differences, and no
  baseline rows or scores are needed;
- ``best_source_rank``: the rank the predictor gives the truly best source (1 = first; Vu et
  al. report its mean over targets); it does not depend on k and repeats on every k's row.

Regret's gold top k is taken by the values themselves, or, where a published table gives one
(`published.gold_label`), by its gold label; ``regret_gold`` says which (``values`` or
``gold_label``).

Candidates (Vu et al.'s in-class / all-class split): ``all`` ranks every source; ``in_class``
only the sources whose taxonomy ``format`` facet equals the target's, where facets are given and
at least two sources qualify. `k` is the number of positions scored (``k_label`` "all" = every
candidate; integer k above the number of candidates is skipped). The ``random`` rows are exact
expectations under a uniformly random order, not draws.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from xltransfer.analysis.gains import GOLD_LABEL, primary_rows
from xltransfer.analysis.ranking import (
    ALL,
    NDCG_DEFINITIONS,
    REGRET_DEFINITIONS,
    best_source_rank,
    ndcg_at_k,
    random_best_source_rank,
    random_ndcg,
    random_regret,
    random_regret_points,
    regret_at_k,
    regret_points_at_k,
    resolve_k,
)

log = logging.getLogger(__name__)

SELECTION_COLUMNS = [
    "model",
    "target",
    "candidates",
    "predictor",
    "k",
    "k_label",
    "ndcg",
    "regret",
    "regret_points",
    "best_source_rank",
    "n_sources",
    "ndcg_definition",
    "regret_definition",
    "regret_gold",
]
DATASET_SIZE = "dataset_size"
RANDOM = "random"
ALL_CANDIDATES = "all"
IN_CLASS = "in_class"
CLASS_FACET = "format"


def pair_means(gains: pd.DataFrame, source_language: str | None = "en") -> pd.DataFrame:
    """Primary-metric gain and score per (model, source, target): non-English, then seeds.

    `source_language=None`: the table has no language axis, and every row is kept."""
    prim = primary_rows(gains)
    if source_language is not None:
        prim = prim.loc[prim["language"] != source_language]
    values = ["gain", "score", *([GOLD_LABEL] if GOLD_LABEL in prim else [])]
    per_seed = prim.groupby(["model", "source", "target", "seed"], as_index=False)[values].mean()
    return per_seed.groupby(["model", "source", "target"], as_index=False)[values].mean()


def _predictors(
    group: pd.DataFrame, similarity: pd.DataFrame, sizes: dict[str, int] | None
) -> dict:
    """Predicted usefulness of each source of one (model, target), aligned with `group`."""
    model, target = group["model"].iloc[0], group["target"].iloc[0]
    sim = similarity[(similarity["model"] == model) & (similarity["target"] == target)]
    predictors = {}
    for method, rows in sim.groupby("method"):
        values = rows.set_index("source")["value"]
        predictors[method] = group["source"].map(values).to_numpy(float)
    if sizes is not None:
        predictors[DATASET_SIZE] = group["source"].map(sizes).to_numpy(float)
    return predictors


def _candidate_sets(
    target: str, sources: np.ndarray, facets: dict[str, dict[str, str]] | None
) -> dict[str, np.ndarray]:
    """Boolean masks over `sources`: every source, and (with facets) those of the target's class."""
    sets = {ALL_CANDIDATES: np.ones(len(sources), bool)}
    klass = (facets or {}).get(target, {}).get(CLASS_FACET)
    if klass is not None:
        mask = np.array([facets.get(s, {}).get(CLASS_FACET) == klass for s in sources])
        if mask.sum() >= 2:
            sets[IN_CLASS] = mask
    return sets


def evaluate_selection(
    means: pd.DataFrame,
    similarity: pd.DataFrame,
    sizes: dict[str, int] | None,
    ks: list[int | str],
    facets: dict[str, dict[str, str]] | None = None,
    ndcg: str = "exponential_rank",
    regret: str = "mean_top_k",
) -> pd.DataFrame:
    """Every metric of each predictor per (model, target, candidates, k); see the module doc.

    Without `sizes` the dataset-size predictor is left out; without `facets` only the ``all``
    candidates are scored. `ks` holds integers and "all"."""
    if ndcg not in NDCG_DEFINITIONS or regret not in REGRET_DEFINITIONS:
        raise ValueError(
            f"ranking definitions ndcg={ndcg!r}, regret={regret!r}: expected ndcg in "
            f"{NDCG_DEFINITIONS} and regret in {REGRET_DEFINITIONS}"
        )
    missing = sorted(set(means["source"]) - set(sizes)) if sizes is not None else []
    if missing:
        raise ValueError(f"no training-set size for source tasks {missing}")
    rows = []
    for (model, target), group in means.groupby(["model", "target"], sort=True):
        group = group.sort_values("source").reset_index(drop=True)
        predictors = _predictors(group, similarity, sizes)
        for name, predicted in predictors.items():
            if np.isnan(predicted).any():
                raise ValueError(f"{name}: no value for some sources of {model}/{target}")
        sets = _candidate_sets(target, group["source"].to_numpy(), facets)
        for candidates, mask in sets.items():
            gains, scores = group["gain"].to_numpy()[mask], group["score"].to_numpy()[mask]
            has_scores = not np.isnan(scores).any()
            gold = group[GOLD_LABEL].to_numpy(float)[mask] if GOLD_LABEL in group else None
            n = int(mask.sum())
            for label in ks:
                if label != ALL and label > n:
                    continue
                k = resolve_k(label, n)
                key = [model, target, candidates]
                tail = [n, ndcg, regret, "values" if gold is None else GOLD_LABEL]
                for name, full in predictors.items():
                    predicted = full[mask]
                    rows.append(
                        [*key, name, k, str(label)]
                        + [
                            ndcg_at_k(predicted, gains, k, ndcg),
                            regret_at_k(predicted, scores, k, regret, gold)
                            if has_scores
                            else np.nan,
                            regret_points_at_k(predicted, gains, k, regret, gold),
                            best_source_rank(predicted, gains),
                        ]
                        + tail
                    )
                rows.append(
                    [*key, RANDOM, k, str(label)]
                    + [
                        random_ndcg(gains, k, ndcg),
                        random_regret(scores, k, regret, gold) if has_scores else np.nan,
                        random_regret_points(gains, k, regret, gold),
                        random_best_source_rank(n),
                    ]
                    + tail
                )
    return pd.DataFrame(rows, columns=SELECTION_COLUMNS)


def rank_sources(
    gains_file: Path,
    similarity_file: Path,
    train_files: dict[str, Path],
    max_train_examples: int | None,
    given_sizes: dict[str, int],
    facets: dict[str, dict[str, str]] | None,
    settings: dict,
    output: Path,
) -> pd.DataFrame:
    """The rank_sources job: source selection by each similarity, dataset size and chance.

    Source sizes come from the training splits (capped by any subsampling) or, for published
    results, from `given_sizes`; with neither, the dataset-size baseline is left out.
    `settings`: source_language, ks (`analysis.ranking_k`) and ranking (`analysis.ranking`)."""
    from xltransfer.io import parquet_rows_checked, read_parquets_checked, write_parquet_atomic

    sizes = dict(given_sizes)
    rows = parquet_rows_checked(list(train_files.values()))
    for source, count in zip(train_files, rows, strict=True):
        sizes[source] = min(count, max_train_examples or float("inf"))
    gains, similarity_table = read_parquets_checked([gains_file, similarity_file])
    table = evaluate_selection(
        pair_means(gains, settings["source_language"]),
        similarity_table,
        sizes or None,
        ks=settings["ks"],
        facets=facets or None,
        ndcg=settings["ranking"]["ndcg"],
        regret=settings["ranking"]["regret"],
    )
    write_parquet_atomic(table, output)
    log.info("source selection:\n%s", table.to_string(index=False))
    return table
