"""One run per workflow folder, said plainly.

Snakemake locks a folder while it runs, but a second run started meanwhile first stops on the
first run's unfinished outputs, advising `--rerun-incomplete` (which would redo another run's
jobs) or `--unlock`. So a run records itself in `.snakemake/xltransfer-run.json` when it starts
(the Snakefile's `onstart`) and removes the record when it ends; a later invocation that would
run jobs while that process lives is refused in one line, before Snakemake looks at any file.
A dry run, and the views that only read (`--dag`, `--summary`, ...), are not refused.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

RECORD = Path(".snakemake") / "xltransfer-run.json"
# Snakemake options that run no job.
READ_ONLY = {
    "--dry-run", "--dryrun", "-n", "--dag", "--rulegraph", "--filegraph", "--d3dag", "--summary",
    "-S", "--detailed-summary", "-D", "--list-rules", "--list", "-l", "--list-target-rules",
    "--lt", "--lint", "--list-changes", "--lc", "--list-untracked", "--lu", "--help", "-h",
    "--version", "-v",
}  # fmt: skip


class FolderBusy(RuntimeError):
    """Another run holds the workflow folder."""


def only_reads(argv: list[str]) -> bool:
    """Whether a Snakemake command line runs no job (`-n`, also inside `-np`, and the views)."""
    for arg in argv:
        if arg in READ_ONLY or arg.split("=", 1)[0] in READ_ONLY:
            return True
        if arg.startswith("-") and not arg.startswith("--") and arg[1:].isalpha() and "n" in arg:
            return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def check_free(folder: Path, argv: list[str]) -> None:
    """Refuse to run jobs in `folder` while another run's process lives; forget the record of
    one that is gone (Snakemake's own lock may then need `--unlock`, which it says)."""
    record = folder / RECORD
    try:
        holder = json.loads(record.read_text())
    except (OSError, ValueError):
        return
    if only_reads(argv) or holder.get("pid") == os.getpid():
        return
    here = socket.gethostname()
    if holder.get("host") == here and not _alive(int(holder["pid"])):
        record.unlink(missing_ok=True)
        return
    check = f"`ps -p {holder['pid']}`" + (
        "" if holder.get("host") == here else f" on {holder['host']}"
    )
    raise FolderBusy(
        f"another run holds this folder: pid {holder['pid']} on {holder['host']}, started "
        f"{holder['started']} ({record}); wait for it (`make status` shows it) or check it with "
        f"{check}, and delete {record} only if it is gone. Nothing was started."
    )


def claim(folder: Path, argv: list[str]) -> None:
    """Record this run as the folder's (at Snakemake's `onstart`)."""
    record = folder / RECORD
    record.parent.mkdir(parents=True, exist_ok=True)
    partial = record.with_name(f".{record.name}.{os.getpid()}.tmp")
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": argv,
    }
    partial.write_text(json.dumps(holder))
    os.replace(partial, record)


def release(folder: Path) -> None:
    """Remove this run's record (at `onsuccess` and `onerror`)."""
    record = folder / RECORD
    try:
        holder = json.loads(record.read_text())
    except (OSError, ValueError):
        return
    if holder.get("pid") == os.getpid():
        record.unlink(missing_ok=True)
