"""Logging for workflow scripts: everything a job prints goes to its Snakemake log."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path


def log_to(path: str | Path) -> None:
    """Send stdout, stderr and logging to a job's log file, line-buffered."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    stream = open(path, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    sys.stdout = sys.stderr = stream
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=stream,
        force=True,
    )


@contextlib.contextmanager
def said_on_console(*errors: type[BaseException]):
    """Errors of these types also go to the console as one line, not only to the job's log:
    Snakemake shows a failed local job's log path, not its cause (staging's, say)."""
    try:
        yield
    except errors as error:
        print(f"xltransfer: {error}", file=sys.__stderr__, flush=True)
        raise


def progress(iterable, *, desc: str, enabled: bool = True, total: int | None = None):
    """A tqdm bar; in a log file (no terminal) it updates every 10 s instead of every step."""
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty()
    return tqdm(
        iterable,
        desc=desc,
        total=total,
        disable=not enabled,
        mininterval=0.1 if interactive else 10,
    )
