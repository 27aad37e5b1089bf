"""Evaluation jobs per run (`languages_per_job: 0`) against one job per language (`1`).

Runs only the evaluation stage of a workflow folder whose models are already trained, once per
setting, through a Snakemake profile (the SLURM one by default), and prints jobs submitted, model
loads and wall time of each. Each evaluation job loads its checkpoint once, so model loads equal
evaluation jobs. For example, after `make demo`, on a copy of the repo with its results (the
evaluation shards of the copy are deleted and recomputed):

    .venv/bin/python benchmarks/evaluation_granularity.py --workdir /tmp/copy
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml


def run_evaluation(workdir: Path, config: Path, languages_per_job: int, extra: list[str]) -> dict:
    # The config's own text with one value changed, so no other rule's parameters change.
    text, found = re.subn(
        r"^(\s*languages_per_job:)\s*\d+",
        rf"\g<1> {languages_per_job}",
        (workdir / config).read_text(),
        flags=re.MULTILINE,
    )
    if not found:
        raise SystemExit(f"{config}: no experiment.languages_per_job line to change")
    configfile = workdir / f"granularity-{languages_per_job}.yaml"
    configfile.write_text(text)
    run = yaml.safe_load(text)["run"]
    shutil.rmtree(workdir / "results" / run / "scores", ignore_errors=True)
    command = [sys.executable, "-m", "snakemake", "--configfile", str(configfile)]
    command += ["--until", "evaluate", "--rerun-triggers", "mtime", *extra]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    output = result.stdout + result.stderr
    if result.returncode:
        raise SystemExit(output[-3000:])
    stats = output.split("Job stats:")[1]
    jobs = int(re.search(r"^evaluate\s+(\d+)$", stats, re.MULTILINE)[1])
    return {
        "languages_per_job": languages_per_job,
        "evaluation jobs": jobs,
        "sbatch submissions": output.count("submitted with SLURM jobid"),
        "model loads": jobs,
        "wall s": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="workflow copy with models")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--profile", default="profiles/slurm")
    parser.add_argument("--jobs", default="100")
    args = parser.parse_args()
    extra = ["--profile", args.profile, "--jobs", args.jobs]
    rows = [run_evaluation(args.workdir, Path(args.config), n, extra) for n in (0, 1)]
    for row in rows:
        print("  ".join(f"{key}: {value}" for key, value in row.items()))
    print(f"wall-time ratio (1 / 0): {rows[1]['wall s'] / rows[0]['wall s']:.2f}")


if __name__ == "__main__":
    main()
