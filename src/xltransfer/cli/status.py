"""`python -m xltransfer.cli.status --config FILE [--json]`: the grid's live state from the
results, logs and Snakemake markers in the working directory and, where it exists, squeue
(`make status CONFIG=...`). It reads only; nothing is started or cancelled."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from xltransfer.cli.workflow_config import load_workflow_config
from xltransfer.config import Grid
from xltransfer.planning.grid_status import (
    SLURM_LOGDIR,
    Evidence,
    grid_status,
    query_squeue,
    render_text,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, type=Path, help="workflow config (YAML)")
    parser.add_argument(
        "--root", type=Path, default=Path("."), help="the workflow's working directory"
    )
    parser.add_argument(
        "--slurm-logdir", default=SLURM_LOGDIR, help="the profile's slurm-logdir, from --root"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    config = load_workflow_config(args.config)
    listing, slurm_note = query_squeue()
    evidence = Evidence.gather(args.root, listing, args.slurm_logdir)
    if listing is not None:
        slurm_note = f"squeue lists {len(evidence.slurm)} job(s) of this folder"
    status = grid_status(config["run"], Grid.from_config(config), evidence, slurm_note)
    if args.json:
        print(json.dumps(status.to_json(), indent=1))
    else:
        print(render_text(status), end="")


if __name__ == "__main__":
    main()
