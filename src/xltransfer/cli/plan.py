"""`python -m xltransfer.cli.plan --config FILE`: print a grid's cost plan and write it to
results/<run>/plan.md, without running anything (`make plan CONFIG=...`)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

from xltransfer.cli.workflow_config import REPO, load_workflow_config
from xltransfer.data.tasks import is_local_reference
from xltransfer.io import write_bytes_atomic
from xltransfer.planning.markdown import power_section, render_markdown
from xltransfer.planning.plan import (
    DEFAULT_JOBS_IN_FLIGHT,
    DEFAULT_STAGING_CACHE,
    PlanError,
    build_plan,
    read_locks,
)


def jobs_in_flight(profile: Path) -> tuple[int, str]:
    """The profile's `jobs` (Snakemake's jobs at once), and where the figure comes from."""
    path = profile / "config.yaml"
    if path.resolve().is_relative_to(Path.cwd()):
        path = path.resolve().relative_to(Path.cwd())  # shorter to read
    if path.is_file():
        jobs = (yaml.safe_load(path.read_text()) or {}).get("jobs")
        if jobs:
            return int(jobs), f"`jobs` of {path}"
    return DEFAULT_JOBS_IN_FLIGHT, f"default; {path} sets no `jobs`"


def count_staged_models(config: dict, cache: Path) -> None:
    """Fill in `plan.models.<m>.parameters` (and compute parameters) of a model the config
    gives no figures for, counted from its `config.json` where that is on disk: staged from the
    Hub, a local folder, or built by the workflow."""
    from xltransfer.data.staging import staged_folder
    from xltransfer.planning.parameters import count_parameters

    models = config.setdefault("plan", {}).setdefault("models", {})
    for name in config["experiment"]["models"]:
        if "parameters" in (models.get(name) or {}):
            continue
        entry = config["models"][name]
        if "build" in entry:
            folder = Path("resources") / "models" / name
        elif is_local_reference(entry["path"]):
            folder = Path(entry["path"])
        else:
            folder = staged_folder(cache, "model", entry["path"])
        if (folder / "config.json").is_file():
            total, compute = count_parameters(folder)
            models[name] = {
                **(models.get(name) or {}),
                "parameters": total,
                "compute_parameters": compute,
                "source": f"counted from {folder / 'config.json'}",
            }


def next_run(plan, config: Path) -> str:
    """The next run's section, from Snakemake's own dry run of the grid in this folder."""
    from collections import Counter

    from xltransfer.planning.markdown import next_run_section
    from xltransfer.planning.redo import finished_redone, parse_dry_run

    dry = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(config)],
        capture_output=True,
        text=True,
    )
    if dry.returncode != 0:
        sys.exit(f"the dry run failed:\n{(dry.stdout + dry.stderr)[-3000:]}")
    jobs = [job for job in parse_dry_run(dry.stdout) if job.rule != "all"]
    now = Counter(job.rule for job in jobs)
    return next_run_section(plan, dict(now), finished_redone(jobs, Path.cwd(), plan.run))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, type=Path, help="workflow config (YAML)")
    parser.add_argument(
        "--profile", type=Path, default=REPO / "profiles" / "slurm", help="profile with `jobs`"
    )
    parser.add_argument("--jobs", type=int, help="jobs in flight (default: the profile's `jobs`)")
    parser.add_argument("--results", type=Path, default=Path("results"), help="results folder")
    args = parser.parse_args(argv)
    config = load_workflow_config(args.config)
    cache = (config.get("staging") or {}).get("cache", DEFAULT_STAGING_CACHE)
    hub = [t["dataset"] for t in config["tasks"].values() if not is_local_reference(t["dataset"])]
    jobs, note = (args.jobs, "--jobs") if args.jobs else jobs_in_flight(args.profile)
    count_staged_models(config, Path(cache))
    try:
        plan = build_plan(config, read_locks(cache, hub), jobs)
    except PlanError as error:
        sys.exit(f"{args.config}: {error}")
    text = render_markdown(plan, str(args.config), note)
    experiment = config["experiment"]
    prior = config["plan"]["power_prior"]  # the schema's defaults filled in
    text += "\n" + power_section(len(experiment["sources"]), len(experiment["targets"]), prior)
    if (args.results / plan.run).is_dir():  # a grid that has run: what the next run does
        text += "\n" + next_run(plan, args.config)
    output = args.results / plan.run / "plan.md"
    write_bytes_atomic(output, text.encode())
    print(text)
    print(f"written to {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
