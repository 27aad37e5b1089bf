"""Atomic file writes, so an interrupted job never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd


def _remove(path: Path) -> None:
    """Delete a file or directory tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temp path next to `path`; on success rename it onto `path`, else remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temp path lives in the same directory so that the final rename stays on one
    # filesystem and is therefore atomic. We only reserve a unique name: the caller decides
    # whether to create a file or a directory there.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to temporary path {tmp} for {path}")
        if tmp.is_dir() and not tmp.is_symlink():
            _replace_dir(tmp, path)
        else:
            if path.is_dir() and not path.is_symlink():
                raise IsADirectoryError(f"cannot replace directory {path} with a file")
            os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def _replace_dir(tmp: Path, path: Path) -> None:
    """Move the finished directory `tmp` onto `path`, replacing an existing target."""
    if not path.exists():
        os.replace(tmp, path)
        return
    if not path.is_dir():
        raise NotADirectoryError(f"cannot replace file {path} with a directory")
    # os.replace cannot overwrite a non-empty directory, so swap in two renames: move the old
    # target aside, move the new one in, then delete the old one. The old target is restored
    # if the second rename fails.
    fd, old_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent)
    os.close(fd)
    old = Path(old_name)
    old.unlink()
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_bytes_atomic(path: Path | str, data: bytes) -> None:
    """Write `data` to `path` atomically, creating parent directories."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(path: Path | str, value) -> None:
    """Write `value` as indented, key-sorted JSON to `path` atomically."""
    write_bytes_atomic(path, (json.dumps(value, indent=1, sort_keys=True) + "\n").encode())


def write_parquet_atomic(df: pd.DataFrame, path: Path | str) -> None:
    """Write `df` as Parquet to `path` atomically, creating parent directories."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
