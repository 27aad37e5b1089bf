"""`python -m xltransfer.cli.plan --config FILE`: print a grid's cost plan and write it to
results/<run>/plan.md, without running anything (`make plan CONFIG=...`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from xltransfer.cli.workflow_config import REPO, load_workflow_config
from xltransfer.data.tasks import is_local_reference
from xltransfer.io import write_bytes_atomic
from xltransfer.planning.markdown import render_markdown
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
    try:
        plan = build_plan(config, read_locks(cache, hub), jobs)
    except PlanError as error:
        sys.exit(f"{args.config}: {error}")
    text = render_markdown(plan, str(args.config), note)
    output = args.results / plan.run / "plan.md"
    write_bytes_atomic(output, text.encode())
    print(text)
    print(f"written to {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
