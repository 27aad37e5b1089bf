"""Result rows with full provenance: every score says where it came from."""

from __future__ import annotations

import functools
import json
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

PROVENANCE_PACKAGES = (
    "xltransfer",
    "torch",
    "transformers",
    "accelerate",
    "datasets",
    "tokenizers",
)


@functools.cache
def project_commit() -> str:
    """The git commit of the xltransfer checkout this code runs from, `+dirty` when its files
    differ from it, or `unknown` (an installed copy, no git)."""
    checkout = Path(__file__).resolve().parents[2]
    try:
        git = ["git", "-C", str(checkout)]
        top = subprocess.run(
            [*git, "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if Path(top).resolve() != checkout:  # a copy inside some other repository
            return "unknown"
        commit = subprocess.run(
            [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}+dirty" if dirty else commit


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a score depends on, Python's, and the project's
    commit."""
    versions = {"python": platform.python_version()}
    for name in PROVENANCE_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["xltransfer_commit"] = project_commit()
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
