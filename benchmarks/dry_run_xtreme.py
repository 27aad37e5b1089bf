"""Dry-run time of config/xtreme.yaml and of a grid four times larger (its seeds x4), for one
or more checkouts side by side (e.g. before and after a change), repeats interleaved.

Each checkout's Snakefile, rules and configs run with its own library (`PYTHONPATH=<checkout>/src`)
in a scratch folder; `snakemake -n` is timed twice, printing every job (what a user reads) and
`--quiet` (the DAG alone). Run from the repository root:

    .venv/bin/python benchmarks/dry_run_xtreme.py . /tmp/old-checkout --repeats 3
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

SCALES = {"xtreme.yaml": 1, "xtreme.yaml, seeds x4": 4}


def prepare(checkout: Path, folder: Path) -> dict[str, Path]:
    """A scratch copy of the checkout's workflow, with the configs to time."""
    folder.mkdir(parents=True)
    for name in ("Snakefile", "workflow", "config", "envs", "profiles"):
        source = checkout / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, folder / name)
    config = yaml.safe_load((checkout / "config" / "xtreme.yaml").read_text())
    configs = {}
    for label, scale in SCALES.items():
        seeds = config["experiment"]["seeds"]
        scaled = {**config, "experiment": {**config["experiment"], "seeds": []}}
        scaled["experiment"]["seeds"] = [s + 1000 * k for k in range(scale) for s in seeds]
        configs[label] = folder / f"scale{scale}.yaml"
        configs[label].write_text(yaml.safe_dump(scaled))
    return configs


def dry_run(checkout: Path, folder: Path, configfile: Path, quiet: bool) -> tuple[float, int]:
    command = [sys.executable, "-m", "snakemake", "-n", "--configfile", str(configfile)]
    command += ["--quiet", "rules"] if quiet else []
    environment = {**os.environ, "PYTHONPATH": str(checkout.resolve() / "src")}
    started = time.perf_counter()
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=environment)
    seconds = time.perf_counter() - started
    if result.returncode:
        raise SystemExit((result.stdout + result.stderr)[-3000:])
    stats = (result.stdout + result.stderr).split("Job stats:")[1]
    return seconds, int(re.search(r"^total\s+(\d+)$", stats, re.MULTILINE)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times: dict[tuple, list[float]] = {}
    jobs: dict[tuple, int] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folders = {c: Path(scratch) / f"checkout{i}" for i, c in enumerate(args.checkouts)}
        configs = {c: prepare(c, folders[c]) for c in args.checkouts}
        for _ in range(args.repeats):
            for label in SCALES:
                for quiet in (False, True):
                    for checkout in args.checkouts:
                        key = (label, quiet, checkout)
                        seconds, jobs[key] = dry_run(
                            checkout, folders[checkout], configs[checkout][label], quiet
                        )
                        times.setdefault(key, []).append(seconds)
    heads = " | ".join(f"{c}: jobs, s" for c in args.checkouts)
    ratio = " | ratio" if len(args.checkouts) == 2 else ""
    print(f"| grid | output | {heads}{ratio} |")
    print("|---|---|" + "---:|" * (len(args.checkouts) + bool(ratio)))
    for label in SCALES:
        for quiet in (False, True):
            medians = [statistics.median(times[(label, quiet, c)]) for c in args.checkouts]
            cells = [
                f"{jobs[(label, quiet, c)]:,}, {m:.1f}"
                for c, m in zip(args.checkouts, medians, strict=True)
            ]
            row = f"| {label} | {'--quiet' if quiet else 'every job'} | " + " | ".join(cells)
            print(row + (f" | {medians[0] / medians[1]:.2f}" if ratio else "") + " |")


if __name__ == "__main__":
    main()
