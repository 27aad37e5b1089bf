"""Source-task selection: does ranking sources by a predictor pick the ones that help most?

For each (model, target), every predictor (each similarity method, the training-set size of the
source, and random order) ranks the source tasks; the ranking is scored with NDCG@k against the
non-English gains and with Regret@k against the non-English target scores (Poth et al., 2021).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xltransfer.analysis import primary_rows
from xltransfer.ranking import ndcg_at_k, regret_at_k

SELECTION_COLUMNS = ["model", "target", "predictor", "k", "ndcg", "regret", "n_sources"]
DATASET_SIZE = "dataset_size"
RANDOM = "random"


def pair_means(gains: pd.DataFrame, source_language: str = "en") -> pd.DataFrame:
    """Primary-metric gain and score per (model, source, target): non-English, then seeds."""
    prim = primary_rows(gains)
    prim = prim.loc[prim["language"] != source_language]
    per_seed = prim.groupby(["model", "source", "target", "seed"], as_index=False)[
        ["gain", "score"]
    ].mean()
    return per_seed.groupby(["model", "source", "target"], as_index=False)[["gain", "score"]].mean()


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


def evaluate_selection(
    means: pd.DataFrame,
    similarity: pd.DataFrame,
    sizes: dict[str, int] | None,
    ks: list[int],
    random_orders: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """NDCG@k and Regret@k of each predictor per (model, target); random averages over orders.

    Without `sizes` the dataset-size predictor is left out. Without target scores (published
    gains only) Regret@k, relative to the best score, is NaN; NDCG@k needs only the gains.
    """
    missing = sorted(set(means["source"]) - set(sizes)) if sizes is not None else []
    if missing:
        raise ValueError(f"no training-set size for source tasks {missing}")
    rng = np.random.default_rng(seed)
    rows = []
    for (model, target), group in means.groupby(["model", "target"], sort=True):
        group = group.sort_values("source").reset_index(drop=True)
        gains, scores = group["gain"].to_numpy(), group["score"].to_numpy()
        has_scores = not np.isnan(scores).any()
        n = len(group)
        orders = [rng.permutation(n).astype(float) for _ in range(random_orders)]
        predictors = _predictors(group, similarity, sizes)
        for name, predicted in predictors.items():
            if np.isnan(predicted).any():
                raise ValueError(f"{name}: no value for some sources of {model}/{target}")
        for k in (k for k in ks if k <= n):
            for name, predicted in predictors.items():
                ndcg = ndcg_at_k(predicted, gains, k)
                regret = regret_at_k(predicted, scores, k) if has_scores else np.nan
                rows.append([model, target, name, k, ndcg, regret, n])
            ndcg = np.mean([ndcg_at_k(order, gains, k) for order in orders])
            regret = (
                np.mean([regret_at_k(order, scores, k) for order in orders])
                if has_scores
                else np.nan
            )
            rows.append([model, target, RANDOM, k, ndcg, regret, n])
    return pd.DataFrame(rows, columns=SELECTION_COLUMNS)
