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
