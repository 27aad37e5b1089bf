"""Finding the workflow's own Parquet outputs damaged, whatever their timestamps.

Every Parquet file the workflow writes (`io.write_parquet_atomic`) gets a `<name>.sha256` beside
it. Two checks use them:

* `heal` runs when the DAG is built: a file that is not whole Parquet (cut short, emptied: its
  magic bytes and footer length say so from 12 bytes) is moved aside to `<name>.corrupt`, and
  the run makes every file moved aside and not rebuilt yet (`lost`) a target of its own, so it
  rebuilds them instead of failing on them first;
* `verify` (`make verify`) hashes every file against its recorded checksum and finds a damaged
  one whose size, magic bytes and timestamp look right.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

MAGIC = b"PAR1"
SUFFIX = ".sha256"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_file(path: Path) -> Path:
    return path.with_name(path.name + SUFFIX)


def record_checksum(path: Path) -> None:
    """Write `<name>.sha256` for a file just written (atomically: a reader sees the old or the
    new line, never half of one)."""
    sidecar = checksum_file(path)
    partial = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
    partial.write_text(f"{sha256_of(path)}  {path.name}\n")
    os.replace(partial, sidecar)


def recorded_checksum(path: Path) -> str | None:
    sidecar = checksum_file(path)
    try:
        return sidecar.read_text().split()[0]
    except (OSError, IndexError):
        return None


def parquet_problem(path: Path) -> str | None:
    """Why `path` is not whole Parquet, from its first and last 8 bytes (None: it may be)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(4)
            if size < 12:
                return f"{size} bytes, shorter than any Parquet file"
            handle.seek(size - 8)
            tail = handle.read(8)
    except OSError as error:
        return f"unreadable ({error.strerror or error})"
    if head != MAGIC:
        return "no Parquet header"
    if tail[4:] != MAGIC:
        return "cut short (no Parquet footer)"
    if int.from_bytes(tail[:4], "little") > size - 12:
        return "cut short (footer longer than the file)"
    return None


def _scan(folder: Path) -> tuple[list[Path], list[Path]]:
    """One walk of a run's results folder (less staging's and temporary files): its Parquet
    outputs, and those moved aside as damaged and not rebuilt yet."""
    parquets, lost = [], []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "staged"]
        for name in files:
            if name.endswith(".parquet"):
                parquets.append(Path(root) / name)
            elif name.endswith(".parquet.corrupt") and name[: -len(".corrupt")] not in files:
                lost.append(Path(root) / name[: -len(".corrupt")])
    return sorted(parquets), sorted(lost)


def workflow_parquets(folder: Path) -> list[Path]:
    """The Parquet files under a run's results folder, less staging's and temporary ones."""
    return _scan(folder)[0]


def lost(folder: Path) -> list[Path]:
    """Parquet outputs under `folder` that were moved aside as damaged and not rebuilt yet.
    Snakemake does not rebuild a missing intermediate file whose consumers are done, so the
    run names these as targets of its own."""
    return _scan(folder)[1]


def heal_and_list(folder: Path) -> tuple[list[tuple[Path, str, str]], list[Path]]:
    """In one walk: every damaged Parquet output under `folder` moved aside, as (path, why,
    where it went), and every output moved aside and not rebuilt yet (`lost`), those included."""
    parquets, missing = _scan(folder)
    healed = []
    for path in parquets:
        problem = parquet_problem(path)
        if problem:
            healed.append((path, problem, move_aside(path)))
            checksum_file(path).unlink(missing_ok=True)
    moved = (path for path, _, _ in healed if not path.exists())
    return healed, sorted({*missing, *moved})


def heal(folder: Path) -> list[tuple[Path, str, str]]:
    """Move every damaged Parquet output under `folder` aside; (path, why, where it went)."""
    return heal_and_list(folder)[0]


def verify(folder: Path) -> list[tuple[Path, str]]:
    """Every Parquet output under `folder` that is damaged: not whole Parquet, or not the bytes
    its recorded checksum says. A file written before checksums were recorded is checked for
    its structure only."""
    damaged = []
    for path in workflow_parquets(folder):
        problem = parquet_problem(path)
        recorded = recorded_checksum(path)
        if problem is None and recorded is not None and sha256_of(path) != recorded:
            problem = "its bytes differ from the checksum recorded when it was written"
        if problem:
            damaged.append((path, problem))
    return damaged


def move_aside(path: Path) -> str:
    """Rename a file or folder to `<name>.corrupt` (replacing an older one); say where it went."""
    target = path.with_name(path.name + ".corrupt")
    try:
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)  # os.replace cannot overwrite a non-empty folder
        os.replace(path, target)
    except OSError as err:
        return f"could not be moved to {target.name} ({err}); delete it by hand"
    return f"moved to {target.name}"
