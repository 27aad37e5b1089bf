"""Dry-run cost of an XTREME-shaped grid, with one evaluation job per run or per language.

The grid: 4 models x (10 sources + none) x 8 targets whose language lists add up to 132, x 3
seeds; the tasks are Hub ids (nothing is read in a dry run). Prints jobs, wall time and peak
memory of `snakemake -n` for `languages_per_job` 0 and 1. Run from the repository root:

    .venv/bin/python benchmarks/dry_run_scale.py
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# Languages per target, as in XTREME (XNLI, PAWS-X, PAN-X, UD-POS, XQuAD, MLQA, TyDiQA, STS).
TARGET_LANGUAGES = [15, 7, 40, 33, 11, 7, 9, 10]


def task(name: str, languages: list[str]) -> dict:
    return {
        "dataset": f"org/{name}",
        "config": "{lang}" if len(languages) > 1 else None,
        "splits": {"train": "train", "dev": "validation", "test": "test"},
        "columns": {"text_a": "premise", "text_b": "hypothesis", "label": "label"},
        "type": "pair_classification",
        "labels": ["entailment", "neutral", "contradiction"],
        "metric": "accuracy",
        "languages": languages,
        "taxonomy": {
            "family": "inference",
            "format": "classification",
            "input": "pair",
            "granularity": "sentence",
        },
    }


def xtreme_shaped(languages_per_job: int) -> dict:
    tasks = {f"source{i}": task(f"source{i}", ["en"]) for i in range(10)}
    for i, count in enumerate(TARGET_LANGUAGES):
        tasks[f"target{i}"] = task(f"target{i}", ["en"] + [f"x{i}l{j}" for j in range(count - 1)])
    for entry in tasks.values():
        if entry["config"] is None:
            del entry["config"]
    return {
        "run": "scale",
        "models": {f"model{i}": {"path": f"org/model{i}"} for i in range(4)},
        "tasks": tasks,
        "experiment": {
            "models": [f"model{i}" for i in range(4)],
            "sources": [f"source{i}" for i in range(10)],
            "targets": [f"target{i}" for i in range(len(TARGET_LANGUAGES))],
            "seeds": [1, 2, 3],
            "languages_per_job": languages_per_job,
        },
    }


def dry_run(folder: Path, languages_per_job: int) -> dict:
    configfile = folder / f"scale-{languages_per_job}.yaml"
    configfile.write_text(yaml.safe_dump(xtreme_shaped(languages_per_job)))
    command = [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules"]
    command += ["--configfile", str(configfile)]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode:
        raise SystemExit((result.stdout + result.stderr)[-3000:])
    output = result.stdout + result.stderr
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", output.split("Job stats:")[1], re.MULTILINE))
    return {"total": int(counts["total"]), "evaluate": int(counts["evaluate"]), "s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for name in ("Snakefile", "workflow", "config", "envs"):
            source = REPO / name
            (shutil.copytree if source.is_dir() else shutil.copy)(source, folder / name)
        for languages_per_job in (0, 1):
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            row = dry_run(folder, languages_per_job)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            memory = f"{peak / 1024:.0f} MB" if peak > before else "<= previous"
            print(
                f"languages_per_job {languages_per_job}: {row['total']} jobs "
                f"({row['evaluate']} evaluations), dry run {row['s']:.1f} s, peak memory {memory}"
            )


if __name__ == "__main__":
    main()
