"""Result rows with full provenance: every score says where it came from."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from importlib import metadata

PROVENANCE_PACKAGES = (
    "xltransfer",
    "torch",
    "transformers",
    "accelerate",
    "datasets",
    "tokenizers",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a score depends on, plus Python's."""
    versions = {"python": platform.python_version()}
    for name in PROVENANCE_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def score_rows(
    scores: dict[str, dict[str, float]],
    *,
    context: dict,
    summary: dict,
    primary_metric: str,
    n_examples: dict[str, int],
) -> list[dict]:
    """One row per (language, metric) with the job's identity and the checkpoint's provenance."""
    spec = summary["spec"]
    shared = {
        **context,
        "model_path": spec["init_model"],
        "model_revision": spec["revision"],
        "hyperparameters": json.dumps(spec["hyperparameters"], sort_keys=True),
        "num_processes": summary["num_processes"],
        "global_batch_size": summary["global_batch_size"],
        "mixed_precision": summary["mixed_precision"],
        "head_carried_over": summary["head_carried_over"],
        "best_epoch": summary["state"]["best_epoch"],
        "train_versions": json.dumps(summary["versions"], sort_keys=True),
        "eval_versions": json.dumps(package_versions(), sort_keys=True),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return [
        {
            **shared,
            "language": language,
            "metric": metric,
            "value": float(value),
            "primary": metric == primary_metric,
            "n_examples": n_examples[language],
        }
        for language, metrics in scores.items()
        for metric, value in metrics.items()
    ]
