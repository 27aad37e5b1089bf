"""`python -m xltransfer.cli.verify --config FILE`: every Parquet output of the run checked against
the checksum recorded when it was written (`make verify CONFIG=...`). A damaged file is moved
aside to `<name>.corrupt`, so the next run rebuilds it; the exit status is 1 when any was."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xltransfer.cli.workflow_config import load_workflow_config
from xltransfer.integrity import checksum_file, move_aside, verify, workflow_parquets


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, type=Path, help="workflow config (YAML)")
    parser.add_argument(
        "--root", type=Path, default=Path("."), help="the workflow's working directory"
    )
    args = parser.parse_args(argv)
    results = args.root / "results" / load_workflow_config(args.config)["run"]
    damaged = verify(results)
    for path, why in damaged:
        checksum_file(path).unlink(missing_ok=True)
        print(f"{path.relative_to(args.root)}: {why}; {move_aside(path)}")
    checked = len(workflow_parquets(results)) + len(damaged)
    if damaged:
        print(f"{len(damaged)} of {checked} Parquet outputs damaged: the next run rebuilds them")
        sys.exit(1)
    print(f"{checked} Parquet outputs under {results} match their checksums")


if __name__ == "__main__":
    main()
