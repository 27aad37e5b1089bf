"""Atomic file writes, so an interrupted job never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from xltransfer.integrity import move_aside, record_checksum


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
    """Write `df` as Parquet to `path` atomically, creating parent directories, and record its
    checksum beside it (`xltransfer.integrity`)."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    record_checksum(Path(path))


class CorruptInputError(ValueError):
    """Input file(s) that could not be read and were moved aside to `<name>.corrupt`."""

    def __init__(self, problems: list[tuple[Path, str]]) -> None:
        self.paths = [path for path, _ in problems]
        lines = "\n".join(f"{path}: {reason}" for path, reason in problems)
        super().__init__(
            f"{len(problems)} unreadable Parquet input(s) moved aside to <name>.corrupt "
            f"so the next run recomputes them:\n{lines}"
        )


def read_parquet_checked(path: Path | str, aside: Path | str | None = None) -> pd.DataFrame:
    """`pd.read_parquet(path)`, moving an unreadable file aside and raising CorruptInputError.

    Only for files the workflow wrote. `aside` is what to move instead of the file: the
    directory output that holds it, since Snakemake does not look inside one."""
    return read_parquets_checked([path], aside)[0]


def read_parquets_checked(
    paths: list[Path | str], aside: Path | str | None = None
) -> list[pd.DataFrame]:
    """Read every file; move all unreadable ones aside, then raise one CorruptInputError."""
    return _read_checked(paths, pd.read_parquet, aside)


def parquet_rows_checked(paths: list[Path | str]) -> list[int]:
    """Each file's row count from its footer, unreadable files handled as when reading them."""
    import pyarrow.parquet as pq

    return _read_checked(paths, lambda path: pq.ParquetFile(path).metadata.num_rows, None)


def _read_checked(paths: list[Path | str], read: Callable, aside: Path | str | None) -> list:
    results, failed = _attempt(paths, read)
    if failed:
        # A file cut short (a killed job, a full disk) fails here on every rerun, and
        # Snakemake will not recompute an input that exists. Moving it aside makes it
        # missing, so the next run reruns its producer; the bytes stay for inspection.
        raise CorruptInputError(
            [
                (path, f"{move_aside(Path(aside) if aside else path)} ({err})")
                for path, err in failed
            ]
        )
    return results


def unreadable_parquets(paths: list[Path | str]) -> list[tuple[Path, str]]:
    """The files among `paths` whose Parquet footer cannot be read, with the reason; nothing is
    moved (for files the workflow did not write: a user's or a staged dataset)."""
    import pyarrow.parquet as pq

    return [(path, str(err)) for path, err in _attempt(paths, pq.ParquetFile)[1]]


def _attempt(paths: list[Path | str], read: Callable) -> tuple[list, list[tuple[Path, Exception]]]:
    """`read` of each path: the results of those that parse, and the error of each that does not."""
    results, failed = [], []
    for path in map(Path, paths):
        try:
            results.append(read(path))
        except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError):
            raise  # about the path, not the bytes: moving it would not help
        except _parquet_errors() as err:
            failed.append((path, err))
    return results, failed


def _parquet_errors() -> tuple[type[Exception], ...]:
    import pyarrow as pa

    # pyarrow raises ArrowInvalid for a bad footer, OSError for a body it cannot deserialize.
    return (pa.ArrowInvalid, OSError)
