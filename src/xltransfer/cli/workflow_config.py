"""A workflow config as its jobs see it: read, validated against the schema (which fills in the
defaults) and cross-checked, as workflow/rules/common.smk does before it builds the DAG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from snakemake.utils import validate

from xltransfer.config import ConfigError, check_config

REPO = Path(__file__).resolve().parents[3]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def load_workflow_config(path: Path | str, schema: Path = SCHEMA) -> dict[str, Any]:
    """The validated config of a run that trains its own grid (not a published-results run)."""
    config = yaml.safe_load(Path(path).read_text())
    validate(config, str(schema))
    if "published" in config:
        raise ConfigError(f"{path}: a published-results run has no training grid")
    check_config(config)
    return config
