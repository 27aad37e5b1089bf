"""Finished fine-tunes a run would do again, and why: the cost of a change before it is paid.

A fine-tune counts as finished when its checkpoint is on disk, or (a temporary target
checkpoint, deleted once scored) when its evaluation shards are. `make plan` lists them from a
dry run; a run that would redo any is refused before its first job unless
`XLTRANSFER_RETRAIN=1` says it is meant (`--forcerun` says so too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

TRAINING_RULES = ("train_source", "train_target")
RETRAIN = "XLTRANSFER_RETRAIN"


@dataclass(frozen=True)
class PlannedJob:
    """One job of a dry run or a DAG: its rule, wildcards, first output and reason."""

    rule: str
    wildcards: dict[str, str]
    output: str
    reason: str


def _scores(root: Path, run: str, wildcards: dict[str, str]) -> list[Path]:
    folder = root / "results" / run / "scores" / wildcards["model"] / f"seed{wildcards['seed']}"
    return sorted((folder / wildcards["source"] / wildcards["target"]).glob("shard*.parquet"))


def finished_redone(jobs: list[PlannedJob], root: Path, run: str) -> list[PlannedJob]:
    """The training jobs among `jobs` that redo a finished fine-tune."""
    redone = []
    for job in jobs:
        if job.rule not in TRAINING_RULES:
            continue
        checkpoint = root / job.output
        scored = job.rule == "train_target" and _scores(root, run, job.wildcards)
        if checkpoint.exists() or scored:
            redone.append(job)
    return redone


def describe(job: PlannedJob) -> str:
    """One line: which fine-tune, and the first clause of Snakemake's reason."""
    w = job.wildcards
    what = f"{w['model']} seed {w['seed']} {w['source']}"
    if job.rule == "train_target":
        what += f" -> {w['target']}"
    reason = job.reason.split("; ")[0]
    return f"{job.rule} {what}: {reason[:160]}{'...' if len(reason) > 160 else ''}"


def refusal(redone: list[PlannedJob], shown: int = 20) -> str:
    lines = [describe(job) for job in redone[:shown]]
    if len(redone) > shown:
        lines.append(f"... and {len(redone) - shown} more (`make plan` lists them all)")
    return (
        f"this run would train {len(redone)} finished fine-tune(s) again:\n  "
        + "\n  ".join(lines)
        + f"\nIf that is meant, run again with {RETRAIN}=1; nothing was started."
    )


_BLOCK = re.compile(r"^(?:local)?rule (\w+):\n(.*?)(?=^\S|\Z)", re.MULTILINE | re.DOTALL)


def parse_dry_run(text: str) -> list[PlannedJob]:
    """The jobs of `snakemake -n` output (its rule blocks)."""
    jobs = []
    for match in _BLOCK.finditer(text):
        fields = {}
        for line in match[2].splitlines():
            key, _, value = line.strip().partition(": ")
            fields[key] = value
        wildcards = dict(
            item.split("=", 1) for item in fields.get("wildcards", "").split(", ") if "=" in item
        )
        output = fields.get("output", "").split(", ")[0]
        jobs.append(PlannedJob(match[1], wildcards, output, fields.get("reason", "")))
    return jobs
