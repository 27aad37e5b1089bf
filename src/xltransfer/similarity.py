"""Task similarity measures between source (intermediate) and target tasks."""

from __future__ import annotations

import pandas as pd

SIMILARITY_COLUMNS = ["model", "source", "target", "method", "value"]


def _facets_of(facets: dict[str, dict[str, str]], task: str) -> dict[str, str]:
    """Return a task's facets or raise ValueError naming the task."""
    if task not in facets:
        raise ValueError(f"no taxonomy facets for task {task!r}")
    return facets[task]


def taxonomy_similarity(
    facets: dict[str, dict[str, str]],
    sources: list[str],
    targets: list[str],
    weights: dict[str, float],
) -> pd.DataFrame:
    """Weighted share of taxonomy facets on which each (source, target) pair agrees."""
    if not weights:
        raise ValueError("taxonomy weights are empty")
    total = float(sum(weights.values()))
    if total == 0:
        raise ValueError("taxonomy weights sum to 0")
    rows = []
    for source in sources:
        a = _facets_of(facets, source)
        for target in targets:
            b = _facets_of(facets, target)
            # A facet missing on either side counts as disagreement: we cannot claim the
            # tasks share a property that one of them never declared.
            agree = sum(w for f, w in weights.items() if f in a and f in b and a[f] == b[f])
            rows.append(
                {"source": source, "target": target, "method": "taxonomy", "value": agree / total}
            )
    return pd.DataFrame(rows, columns=["source", "target", "method", "value"]).astype(
        {"value": float}
    )
