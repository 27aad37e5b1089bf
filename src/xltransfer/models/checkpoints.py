"""Model folders whose files cannot be read: the error names the folder, and a folder the
workflow built is moved aside to `<folder>.corrupt` so the next run rebuilds it.

Snakemake never reruns the job of an output that exists, so a checkpoint with truncated weights
(a killed copy, a full disk) would fail every job that loads it until someone deleted it by
hand. Once it is moved aside it is missing, and the next run retrains it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from xltransfer.integrity import move_aside

# Records that only the workflow's own jobs write into a model folder, after its weights: a
# fine-tune's summary (train.SUMMARY_FILE) and the demo pretraining's losses (jobs.pretrain).
# A folder holding one was built here and may be moved aside. Staged Hub folders (only
# staging.MODEL_FILES are fetched) and a user's own model never hold them, so they are only named.
BUILT_MARKERS = ("training_summary.json", "pretraining_losses.json")


class CorruptCheckpointError(ValueError):
    """A model folder with unreadable files; `moved` says whether it was moved aside."""

    def __init__(self, folder: Path, reason: BaseException, moved: str | None) -> None:
        self.folder = folder
        self.moved = moved is not None and not folder.exists()
        if moved is None:
            action = "not built by this workflow, so left in place: restage or replace it"
        else:
            action = f"{moved}, so the next run rebuilds it"
        super().__init__(f"unreadable model folder {folder} ({reason}); {action}")


def is_unreadable(error: BaseException) -> bool:
    """Whether `error` means a file's bytes cannot be parsed, not a bug or a device problem."""
    from safetensors import SafetensorError

    if isinstance(error, SafetensorError | json.JSONDecodeError | UnicodeDecodeError):
        return True
    # transformers re-raises a config.json that does not parse as a bare OSError.
    cause = error.__cause__ or error.__context__
    return isinstance(error, OSError) and isinstance(cause, json.JSONDecodeError)


@contextlib.contextmanager
def checked_checkpoint(folder: Path | str) -> Iterator[None]:
    """Run the loading of `folder` inside; an unreadable file becomes CorruptCheckpointError.

    Keep the block to loading that one folder: any SafetensorError or JSON error in it is
    blamed on `folder`.
    """
    try:
        yield
    except Exception as error:
        if not is_unreadable(error):
            raise
        folder = Path(folder)
        moved = move_aside(folder) if _built_here(folder) else _moved_already(folder)
        raise CorruptCheckpointError(folder, error, moved) from error


def _built_here(folder: Path) -> bool:
    return folder.is_dir() and any((folder / name).is_file() for name in BUILT_MARKERS)


def _moved_already(folder: Path) -> str | None:
    # Another process of the same job (one per GPU) may have moved it first.
    target = folder.with_name(folder.name + ".corrupt")
    return None if folder.exists() or not target.is_dir() else f"moved to {target.name}"
