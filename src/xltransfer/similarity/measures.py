"""Task similarity measures between source (intermediate) and target tasks.

* `taxonomy`: the weighted share of facets (family, format, input, granularity, domain) on which
  two tasks agree.
* `wu_palmer`: the facets read as a tree, root → first level → … → last level → task, and the
  Wu–Palmer similarity 2·depth(LCA) / (depth(a) + depth(b)) with the root at depth 1: tasks that
  part at the root score 2 / (2L + 4) for L levels, siblings under the last level (L + 1) / (L + 2),
  a task with itself 1. Unlike the flat score, agreeing on a lower level counts only under agreement
  on every level above it (two sentence-level tasks of different formats share nothing more).
* `vocab_overlap`: a data-only baseline, the Jaccard overlap of the tasks' most frequent word types
  in their training text (after Gururangan et al. 2020, who compare top-10k vocabularies).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

SIMILARITY_COLUMNS = ["model", "source", "target", "method", "value"]


def missing_facets(
    facets: dict[str, dict[str, str]], tasks: list[str], levels: list[str] = ()
) -> dict[str, list[str] | None]:
    """Per task lacking something, the tree `levels` its facets lack (None: no facets at all)."""
    missing: dict[str, list[str] | None] = {}
    for task in dict.fromkeys(tasks):
        if task not in facets:
            missing[task] = None
        elif absent := [level for level in levels if level not in facets[task]]:
            missing[task] = absent
    return missing


def describe_missing(missing: dict[str, list[str] | None], levels: list[str] = ()) -> str:
    """One line per task of `missing_facets`: what it lacks."""
    tree = f" of the tree {list(levels)}" if levels else ""
    return "\n".join(
        f"  {task}: " + ("no taxonomy facets" if absent is None else f"no facet {absent}{tree}")
        for task, absent in missing.items()
    )


def _check_facets(
    facets: dict[str, dict[str, str]], tasks: list[str], levels: list[str] = ()
) -> None:
    """Raise ValueError naming every missing facet of every task at once."""
    missing = missing_facets(facets, tasks, levels)
    if missing:
        raise ValueError(
            f"{len(missing)} task(s) lack taxonomy facets:\n{describe_missing(missing, levels)}"
        )


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
    _check_facets(facets, [*sources, *targets])
    rows = []
    for source in sources:
        a = facets[source]
        for target in targets:
            b = facets[target]
            # A facet missing on either side counts as disagreement: we cannot claim the
            # tasks share a property that one of them never declared.
            agree = sum(w for f, w in weights.items() if f in a and f in b and a[f] == b[f])
            rows.append(
                {"source": source, "target": target, "method": "taxonomy", "value": agree / total}
            )
    return pd.DataFrame(rows, columns=["source", "target", "method", "value"]).astype(
        {"value": float}
    )


def wu_palmer_similarity(
    facets: dict[str, dict[str, str]],
    sources: list[str],
    targets: list[str],
    levels: list[str],
) -> pd.DataFrame:
    """Wu–Palmer similarity of each (source, target) in the facet tree `levels` (root first)."""
    if not levels:
        raise ValueError("taxonomy tree levels are empty")
    _check_facets(facets, [*sources, *targets], levels)

    def path(task: str) -> list[str]:
        return [facets[task][level] for level in levels] + [task]

    leaf_depth = len(levels) + 2  # root, one node per level, the task
    rows = []
    for source in sources:
        a = path(source)
        for target in targets:
            b = path(target)
            shared = 0
            while shared < len(a) and a[shared] == b[shared]:
                shared += 1
            lca_depth = 1 + shared
            value = 2 * lca_depth / (2 * leaf_depth)
            rows.append({"source": source, "target": target, "method": "wu_palmer", "value": value})
    return pd.DataFrame(rows, columns=["source", "target", "method", "value"]).astype(
        {"value": float}
    )


def top_vocabulary(texts: list[str], size: int) -> set[str]:
    """The `size` most frequent lower-cased word types of `texts`."""
    from sklearn.feature_extraction.text import CountVectorizer

    texts = [text for text in texts if isinstance(text, str) and text.strip()]
    if not texts:
        raise ValueError("no text to build a vocabulary from")
    return set(CountVectorizer(max_features=size).fit(texts).vocabulary_)


def pairwise_similarity(
    features: dict[str, Any],
    sources: list[str],
    targets: list[str],
    method: str,
    measure: Callable[[Any, Any], float],
    what: str = "features",
) -> pd.DataFrame:
    """`measure(features[source], features[target])` for every (source, target) pair."""
    missing = sorted({*sources, *targets} - set(features))
    if missing:
        raise ValueError(f"{method}: no {what} for tasks {missing}")
    rows = [
        [source, target, method, float(measure(features[source], features[target]))]
        for source in sources
        for target in targets
    ]
    return pd.DataFrame(rows, columns=["source", "target", "method", "value"])


def vocabulary_overlap(
    vocabularies: dict[str, set[str]], sources: list[str], targets: list[str]
) -> pd.DataFrame:
    """Jaccard overlap |A ∩ B| / |A ∪ B| of every (source, target) pair of vocabularies."""
    return pairwise_similarity(
        vocabularies,
        sources,
        targets,
        "vocab_overlap",
        lambda a, b: len(a & b) / len(a | b),
        what="vocabulary",
    )
