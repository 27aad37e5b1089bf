"""A finished fine-tune kept beside its checkpoint until it is scored.

A target run is one SLURM job (training and its evaluation in one `group:`). When its
evaluation fails, Snakemake's retry resubmits the whole group and deletes the checkpoint before
the training job starts again. So a training job that finishes also hard-links its checkpoint
into `<checkpoint>.finished` (no extra disk while the checkpoint exists); a retried job
(attempt > 1) of the same spec puts it back instead of training, and the first evaluation that
succeeds releases it. A first attempt always trains: Snakemake reran it for a reason (changed
code, `--forcerun`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".finished"


def finished_folder(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.name + SUFFIX)


def _linked_copy(source: Path, target: Path) -> None:
    """`target` as a tree of hard links to `source`'s files, appearing whole (by rename)."""
    partial = target.with_name(target.name + ".linking")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial, copy_function=os.link)
    if target.exists():
        shutil.rmtree(target)
    os.replace(partial, target)


def keep_finished(checkpoint: Path) -> None:
    """Keep a just-published checkpoint for a retry (best effort: a file system without hard
    links only costs the retry its shortcut)."""
    try:
        _linked_copy(checkpoint, finished_folder(checkpoint))
    except OSError as error:
        log.warning("%s: not kept for a retry (%s); a retry trains again", checkpoint, error)


def identity(spec: dict) -> dict:
    """What must match for a kept fine-tune to stand in for a new one: the spec as its
    summary records it, less the thread count (which decides nothing)."""
    return {key: value for key, value in spec.items() if key != "threads"}


def restore_finished(spec: dict, checkpoint: Path, summary_file: str) -> bool:
    """Put back a kept fine-tune of the same spec as `checkpoint`; True if one was put back.
    One of another spec is discarded."""
    kept = finished_folder(checkpoint)
    summary = kept / summary_file
    if not summary.is_file():
        return False
    recorded = json.loads(summary.read_text())["spec"]
    if identity(recorded) != identity(spec):
        log.warning("%s: kept for another run spec, training again", kept)
        shutil.rmtree(kept, ignore_errors=True)
        return False
    _linked_copy(kept, checkpoint)
    log.info("%s: this run finished it before (kept in %s); nothing to train", checkpoint, kept)
    return True


def release_finished(checkpoint: Path) -> None:
    """The checkpoint was scored: a retry of its training is no longer possible."""
    shutil.rmtree(finished_folder(checkpoint), ignore_errors=True)
