"""Similarity of tasks embedded as several named components (TaskEmb's per-layer Fisher vectors,
Task2Vec's), combined into one value per (source, target) pair.

* `rrf` (reciprocal rank fusion, Cormack, Clarke and Büttcher 2009): per component the cosine of
  the source's and the target's vectors; within each target the sources are ranked by it
  (1 = most similar, ties share their average rank); the value is Σ_components 1 / (k + rank),
  k = 60. Vu et al. (2020) combine their TaskEmb components this way.
* `concat`: the cosine of the concatenation of the L2-normalised components (every component
  weighs the same whatever its width or scale), i.e. the mean of the component cosines.

Only the components every task has are used: a token or span checkpoint's single linear head
has no `head` component, so mixing it with sentence tasks drops that component for all.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

COMBINES = ("rrf", "concat")
RRF_K = 60

log = logging.getLogger(__name__)


def shared_components(vectors: dict[str, dict[str, np.ndarray]], tasks: list[str]) -> list[str]:
    """The components every one of `tasks` has, in the first task's order."""
    missing = sorted(set(tasks) - set(vectors))
    if missing:
        raise ValueError(f"no embedding for tasks {missing}")
    first = list(vectors[tasks[0]])
    shared = [c for c in first if all(c in vectors[t] for t in tasks)]
    dropped = sorted({c for t in tasks for c in vectors[t]} - set(shared))
    if dropped:
        log.info("components not held by every task, left out: %s", ", ".join(dropped))
    if not shared:
        raise ValueError("the tasks share no embedding component")
    return shared


def _unit(vector: np.ndarray, method: str) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    norm = np.linalg.norm(vector)
    if norm == 0:
        raise ValueError(f"{method}: a zero embedding component has no direction")
    return vector / norm


def combine_component_similarities(
    vectors: dict[str, dict[str, np.ndarray]],
    sources: list[str],
    targets: list[str],
    method: str,
    combine: str = "rrf",
    k: int = RRF_K,
) -> pd.DataFrame:
    """(source, target, method, value) for every pair, from per-component task vectors
    `vectors[task][component]`, combined by `rrf` or `concat` (module docstring)."""
    if combine not in COMBINES:
        raise ValueError(f"combine must be one of {COMBINES}, not {combine!r}")
    tasks = list(dict.fromkeys((*sources, *targets)))
    components = shared_components(vectors, tasks)
    units = {t: {c: _unit(vectors[t][c], method) for c in components} for t in tasks}
    cosines = pd.DataFrame(
        [
            [source, target, component, float(units[source][component] @ units[target][component])]
            for source in sources
            for target in targets
            for component in components
        ],
        columns=["source", "target", "component", "cosine"],
    )
    if combine == "concat":
        # Unit components concatenated have norm √C, so their cosine is the mean cosine.
        value = cosines.groupby(["source", "target"], sort=False)["cosine"].mean()
    else:
        rank = cosines.groupby(["target", "component"])["cosine"].rank(
            ascending=False, method="average"
        )
        cosines["fused"] = 1.0 / (k + rank)
        value = cosines.groupby(["source", "target"], sort=False)["fused"].sum()
    rows = [[s, t, method, float(value[s, t])] for s in sources for t in targets]
    return pd.DataFrame(rows, columns=["source", "target", "method", "value"])
