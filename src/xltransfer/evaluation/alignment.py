"""Cross-lingual projection alignment (Choi et al. 2021): map a language's sentence embeddings
onto the English ones with a matrix learnt from parallel sentences.

Given row-aligned embeddings `foreign` (n × d) and `english` (n × d) of the same n sentences,
`fit_alignment` returns W with `foreign @ W ≈ english`:

* `least_squares`: the unconstrained W minimising ‖foreign W − english‖_F (numpy's lstsq).
* `procrustes`: the orthogonal W minimising the same norm (scipy's orthogonal_procrustes), which
  keeps distances and angles, so cosine similarities within the language are unchanged and only
  its position relative to English moves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xltransfer.config import BASELINE_SOURCE

ALIGNMENT_METHODS = ("least_squares", "procrustes")


def fit_alignment(foreign: np.ndarray, english: np.ndarray, method: str) -> np.ndarray:
    """The d × d matrix W mapping `foreign` sentence embeddings onto their `english` rows."""
    foreign = np.asarray(foreign, dtype=float)
    english = np.asarray(english, dtype=float)
    if foreign.ndim != 2 or foreign.shape != english.shape:
        raise ValueError(
            f"parallel embeddings must be two n × d arrays of one shape, got {foreign.shape} "
            f"and {english.shape}"
        )
    if len(foreign) < 2:
        raise ValueError("alignment needs at least 2 parallel sentences")
    if method == "least_squares":
        weights, *_ = np.linalg.lstsq(foreign, english, rcond=None)
        return weights
    if method == "procrustes":
        from scipy.linalg import orthogonal_procrustes

        weights, _ = orthogonal_procrustes(foreign, english)
        return weights
    raise ValueError(
        f"unknown alignment method {method!r}; choose one of {list(ALIGNMENT_METHODS)}"
    )


def apply_alignment(embeddings: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Embeddings of the foreign language mapped into the English space."""
    embeddings = np.asarray(embeddings, dtype=float)
    if embeddings.shape[-1] != weights.shape[0]:
        raise ValueError(
            f"embeddings of width {embeddings.shape[-1]} do not fit a {weights.shape} alignment"
        )
    return embeddings @ weights


def fold_ids(n: int, folds: int, seed: int = 0, groups: np.ndarray | None = None) -> np.ndarray:
    """A fold number per row, balanced and seeded; rows of one group share a fold."""
    if folds < 2:
        raise ValueError(f"a cross-fit needs at least 2 folds, got {folds}")
    keys = np.arange(n) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    if keys.max(initial=-1) + 1 < folds:
        raise ValueError(f"{keys.max(initial=-1) + 1} rows (or groups) cannot fill {folds} folds")
    order = np.random.default_rng(seed).permutation(keys.max() + 1)
    fold_of_key = np.empty_like(order)
    fold_of_key[order] = np.arange(len(order)) % folds
    return fold_of_key[keys]


def cross_fit_alignment(
    foreign: np.ndarray,
    english: np.ndarray,
    method: str,
    *,
    folds: int = 2,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Foreign embeddings mapped into the English space, each row by a matrix fit on the other
    folds' parallel rows only, so no sentence is aligned with its own translation's help.

    `foreign[i]` and `english[i]` embed the two sides of parallel row i; `groups` keeps related
    rows (the two sentences of one STS pair) in one fold. The result has `foreign`'s shape.
    """
    foreign = np.asarray(foreign, dtype=float)
    english = np.asarray(english, dtype=float)
    if foreign.shape != english.shape:
        raise ValueError(
            f"parallel embeddings must be two n × d arrays of one shape, got {foreign.shape} "
            f"and {english.shape}"
        )
    fold = fold_ids(len(foreign), folds, seed, groups)
    aligned = np.empty_like(foreign)
    for k in range(folds):
        held_out = fold == k
        weights = fit_alignment(foreign[~held_out], english[~held_out], method)
        aligned[held_out] = apply_alignment(foreign[held_out], weights)
    return aligned


# Score rows of an aligned evaluation carry the plain metric's name with this suffix.
ALIGNED_SUFFIX = "_aligned"


def add_alignment_gains(gains: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """`gains` (as `compute_gains` makes it from `scores`) with two columns on every
    `<metric>_aligned` row, NaN on the others: `alignment_gain`, the row's aligned score minus the
    same run's plain `<metric>` score, and `baseline_alignment_gain`, the same for the baseline
    run (source `none`, the pretrained encoder), whose rows gains does not otherwise keep."""
    run = ["model", "source", "target", "language", "seed", "metric"]
    # Each plain score, keyed by the name of the aligned metric it is compared with.
    plain = scores[run[:-1]].assign(metric=scores["metric"] + ALIGNED_SUFFIX, plain=scores["value"])
    out = gains.merge(plain, on=run, how="left", validate="many_to_one")
    baseline = plain.loc[plain["source"] == BASELINE_SOURCE].drop(columns="source")
    out = out.merge(
        baseline.rename(columns={"plain": "baseline_plain"}),
        on=[c for c in run if c != "source"],
        how="left",
        validate="many_to_one",
    )
    aligned = out["metric"].str.endswith(ALIGNED_SUFFIX)
    out["alignment_gain"] = (out["score"] - out["plain"]).where(aligned)
    out["baseline_alignment_gain"] = (out["baseline_score"] - out["baseline_plain"]).where(aligned)
    return out.drop(columns=["plain", "baseline_plain"])


def aligned_sts_scores(
    embed, foreign: pd.DataFrame, english: pd.DataFrame, *, method: str, folds: int, seed: int
) -> dict[str, float]:
    """Pearson and Spearman (as `<metric>_aligned`) of a bi-encoder's cosine after projection
    alignment: each foreign sentence embedding is mapped onto the English space by a matrix
    cross-fit on the row-aligned English translations of the same test pairs (stsb_multi_mt's
    configs are translations row for row), with both sentences of a pair in one fold so no pair
    is mapped with its own translation's help. `embed(texts)` returns sentence embeddings.

    An orthogonal map (procrustes) keeps every angle, so it cannot change a within-language
    cosine: its aligned scores equal the plain ones, and only `least_squares` can differ.
    """
    from xltransfer.kinds.metrics import correlation_scores

    if len(foreign) != len(english):
        raise ValueError(
            f"aligning STS needs the English translation of every test pair: {len(foreign)} "
            f"pairs against {len(english)} English ones"
        )
    n = len(foreign)
    sentences = pd.concat([foreign["text_a"], foreign["text_b"]]).tolist()
    translations = pd.concat([english["text_a"], english["text_b"]]).tolist()
    mapped = cross_fit_alignment(
        embed(sentences),
        embed(translations),
        method,
        folds=folds,
        seed=seed,
        groups=np.concatenate([np.arange(n), np.arange(n)]),
    )
    first, second = mapped[:n], mapped[n:]
    cosine = (first * second).sum(1) / (
        np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1)
    ).clip(min=1e-12)
    scores = correlation_scores(cosine, foreign["label"].to_numpy(dtype=float))
    return {f"{name}{ALIGNED_SUFFIX}": value for name, value in scores.items()}
