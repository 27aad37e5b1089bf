"""Stages Hub models and datasets once, at a commit, so that every cluster job runs offline.

Staging runs on the login node (Snakemake `localrules`). Each repository is resolved from the
revision the config asks for to a commit, and only what the grid reads is downloaded through
`huggingface_hub` into `<cache>/<kind>s/<repo_id>`: a model's config, tokenizer files and
safetensors weights; a dataset's card and the Parquet files of the configs and splits the grid
reads. A lock file per repository, `<cache>/locks/<kind>s/<repo_id>.json`, records the revision
asked for, the commit it resolved to and the files with their sizes. A rerun reuses the locked
commit; moving a branch to its new commit is an explicit act (`update`), never a silent one.
The token comes from `HF_TOKEN` through the client itself and is never written anywhere.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from xltransfer.data.dataset_files import CARD, read_card, split_files
from xltransfer.integrity import sha256_of
from xltransfer.io import write_json_atomic

log = logging.getLogger(__name__)
T = TypeVar("T")

# What a model job loads: its config, tokenizer files and safetensors weights, top level only.
MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "sentencepiece.bpe.model",
    "spiece.model",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "*.safetensors",
    "model.safetensors.index.json",
)
# Rate limits and server hiccups are retried with exponential backoff; everything else is final.
RETRIED_STATUS = (429, 500, 502, 503, 504)
# Names the repositories `make stage-update` moves (comma-separated, or `all`).
STAGE_UPDATE = "XLTRANSFER_STAGE_UPDATE"
STAGE_RULE = "the stage rule (`make stage CONFIG=...`, or `snakemake stage`)"


class StagingError(RuntimeError):
    """Staging cannot give a job what it needs; the message names the repository and key."""


@dataclass(frozen=True)
class StageRequest:
    """One repository to stage: what asks for it, at which revision, and what to fetch."""

    repo_id: str
    repo_type: str  # "model" or "dataset"
    revision: str
    key: str  # the config key that names it, for messages
    # Datasets: config name (None: the default config) -> split names (`a+b` joins splits).
    splits: dict[str | None, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "repo_type": self.repo_type,
            "revision": self.revision,
            "key": self.key,
            "splits": [[config, sorted(splits)] for config, splits in self.splits.items()],
        }

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> StageRequest:
        return cls(
            repo_id=values["repo_id"],
            repo_type=values["repo_type"],
            revision=values["revision"],
            key=values["key"],
            splits={config: list(splits) for config, splits in values.get("splits", [])},
        )

    @property
    def what(self) -> str:
        return f"{self.repo_type} repository {self.repo_id!r} ({self.key})"


def staged_folder(cache: Path | str, repo_type: str, repo_id: str) -> Path:
    """Where a repository's staged files live."""
    return Path(cache) / f"{repo_type}s" / repo_id


def lock_path(cache: Path | str, repo_type: str, repo_id: str) -> Path:
    """The lock file of one staged repository."""
    return Path(cache) / "locks" / f"{repo_type}s" / f"{repo_id}.json"


def read_lock(path: Path | str) -> dict[str, Any]:
    """A lock file (or a run's receipt, which has the same fields)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def commit_of(receipt: Path | str | None) -> str | None:
    """The commit a staged repository resolved to (None when nothing was staged)."""
    return read_lock(receipt)["commit"] if receipt else None


def check_writable(cache: Path | str, key: str = "staging.cache") -> None:
    """Refuse a cache folder that cannot be written, before anything is downloaded."""
    folder = Path(cache)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise StagingError(f"{key}: {str(folder)!r} is not a writable folder")


def _retrying(call: Callable[[], T], what: str, retries: int, wait: float) -> T:
    from huggingface_hub.errors import HfHubHTTPError

    for attempt in range(retries + 1):
        try:
            return call()
        except HfHubHTTPError as error:
            status = error.response.status_code if error.response is not None else None
            if status not in RETRIED_STATUS or attempt == retries:
                raise
            after = error.response.headers.get("Retry-After", "")
            delay = float(after) if after.isdigit() else wait * 2**attempt
            log.warning(
                "%s: HTTP %s, retry %d of %d in %.1f s", what, status, attempt + 1, retries, delay
            )
            time.sleep(min(delay, 60.0))
    raise AssertionError("unreachable")


def _explained(error: Exception, request: StageRequest, endpoint: str | None) -> StagingError:
    """The client's error as one line naming the repository, the key and what to do."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = endpoint or os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if isinstance(error, GatedRepoError):
        text = (
            f"{request.what} is gated: accept its terms on the Hub, then set HF_TOKEN in the "
            "environment of the staging run"
        )
    elif isinstance(error, RepositoryNotFoundError):
        text = f"{request.what} not found on {where} (a private one needs HF_TOKEN)"
    elif isinstance(error, RevisionNotFoundError):
        text = f"{request.what}: revision {request.revision!r} does not exist"
    elif isinstance(error, EntryNotFoundError):
        text = f"{request.what}: a file is missing at this commit ({error.__class__.__name__})"
    elif isinstance(error, HfHubHTTPError) and error.response is not None:
        status = error.response.status_code
        text = f"{request.what}: the Hub answered HTTP {status}, also after retries"
    else:
        text = f"{request.what}: {error.__class__.__name__}: {error}"
    return StagingError(text)


def _wanted_files(request: StageRequest, listing: dict[str, int], card: dict | None) -> list[str]:
    if request.repo_type == "model":
        wanted = [
            f for f in listing if "/" not in f and any(fnmatch.fnmatch(f, p) for p in MODEL_FILES)
        ]
        if not any(f.endswith(".safetensors") for f in wanted):
            raise StagingError(
                f"{request.what}: no safetensors weights at this commit; pin the key's `revision` "
                "to one that has them (the Hub's conversion bot offers them as refs/pr/N)"
            )
        return sorted(wanted)
    wanted = {CARD} if CARD in listing else set()
    for config, splits in request.splits.items():
        for split in splits:
            try:
                wanted.update(split_files(card or {}, listing, config, split, request.repo_id))
            except ValueError as error:
                raise StagingError(f"{request.key}: {error}") from error
    return sorted(wanted)


def pin(
    request: StageRequest,
    cache: Path | str,
    *,
    update: bool = False,
    endpoint: str | None = None,
    retries: int = 5,
    wait: float = 1.0,
) -> str:
    """The commit a repository is staged at: its lock's, or with `update` (or no lock yet) the
    commit its revision points at now. Only this asks the Hub which commit that is."""
    from huggingface_hub import HfApi

    lock_file = lock_path(cache, request.repo_type, request.repo_id)
    locked = read_lock(lock_file) if lock_file.exists() else None
    if locked and locked["revision"] != request.revision and not update:
        raise StagingError(
            f"{request.key}: revision {request.revision!r} of {request.repo_id!r}, but its lock "
            f"{lock_file} pins {locked['revision']!r} -> {locked['commit']}. Moving is explicit: "
            f"make stage-update CONFIG=... REPO={request.repo_id}"
        )
    if locked and not update:
        return locked["commit"]
    api = HfApi(endpoint=endpoint)
    try:
        info = _retrying(
            lambda: api.repo_info(
                request.repo_id, repo_type=request.repo_type, revision=request.revision
            ),
            request.what,
            retries,
            wait,
        )
    except Exception as error:
        raise _explained(error, request, endpoint) from error
    if locked and locked["commit"] != info.sha:
        log.warning("%s: moves from %s to %s as asked", request.what, locked["commit"], info.sha)
    return info.sha


def stage(
    request: StageRequest,
    cache: Path | str,
    *,
    commit: str | None = None,
    update: bool = False,
    endpoint: str | None = None,
    retries: int = 5,
    wait: float = 1.0,
) -> dict[str, Any]:
    """Stage one repository at `commit` (by default the one `pin` gives) and return its lock
    (written to `lock_path`). A file already staged whose size and checksum match the lock's
    is kept; a missing or damaged one is fetched again at that commit."""
    from huggingface_hub import HfApi, hf_hub_download

    check_writable(cache)
    commit = commit or pin(
        request, cache, update=update, endpoint=endpoint, retries=retries, wait=wait
    )
    api = HfApi(endpoint=endpoint)
    lock_file = lock_path(cache, request.repo_type, request.repo_id)
    locked = read_lock(lock_file) if lock_file.exists() else None
    known = {f["path"]: f for f in locked["files"]} if locked and locked["commit"] == commit else {}
    folder = staged_folder(cache, request.repo_type, request.repo_id)
    try:
        info = _retrying(
            lambda: api.repo_info(
                request.repo_id,
                repo_type=request.repo_type,
                revision=commit,
                files_metadata=True,
            ),
            request.what,
            retries,
            wait,
        )
        listing = {s.rfilename: s.size for s in info.siblings or []}
        fetch = functools.partial(
            _fetch, hf_hub_download, request, commit, folder, endpoint, retries, wait, known
        )
        card = None
        if request.repo_type == "dataset" and CARD in listing:
            card = read_card(Path(fetch(CARD)).read_text(encoding="utf-8"))
        wanted = _wanted_files(request, listing, card)
        for name in (n for n in wanted if card is None or n != CARD):
            fetch(name)
    except StagingError:
        raise
    except Exception as error:
        raise _explained(error, request, endpoint) from error
    files = []
    for name in wanted:
        size = (folder / name).stat().st_size
        if listing.get(name) is not None and size != listing[name]:
            raise StagingError(
                f"{request.what}: {name} has {size} bytes, the Hub lists {listing[name]}"
            )
        files.append(
            {"path": name, "size": size, "sha256": sha256_of(folder / name), **_rows(folder / name)}
        )
    lock = {
        **request.to_json(),
        "commit": commit,
        "folder": str(folder),
        "files": files,
    }
    write_json_atomic(lock_file, lock)
    return lock


def damaged_files(lock: dict[str, Any]) -> list[str]:
    """The files of a lock that are missing from its folder or differ from it in size (a
    cheap check; `stage` also compares checksums)."""
    folder = Path(lock["folder"])
    damaged = []
    for entry in lock["files"]:
        path = folder / entry["path"]
        if not path.is_file() or path.stat().st_size != entry["size"]:
            damaged.append(entry["path"])
    return damaged


def check_staged(receipts: dict[str, Path | str]) -> None:
    """Refuse, before any job is queued, a run whose staged files are missing or damaged:
    `receipts` maps each staged repository's config key to its receipt (absent ones are
    staged by the run itself)."""
    for key, receipt in receipts.items():
        if not Path(receipt).exists():
            continue
        lock = read_lock(receipt)
        damaged = damaged_files(lock)
        if damaged:
            more = f" and {len(damaged) - 1} more" if len(damaged) > 1 else ""
            raise StagingError(
                f"{key}: staged {lock['repo_type']} {lock['repo_id']!r} lacks {damaged[0]}{more} "
                f"in {lock['folder']} (missing, or not the size its lock records); `make stage` "
                f"fetches them again at {lock['commit']}"
            )


def check_update(names: str, repositories: set[str]) -> None:
    """`make stage-update REPO=...` names a Hub repository of this grid, or `all`."""
    unknown = [n for n in names.split(",") if n and n != "all" and n not in repositories]
    if unknown:
        raise StagingError(
            f"REPO={unknown[0]} is not a Hub repository of this grid; it stages "
            f"{', '.join(sorted(repositories)) or 'none'} (or REPO=all)"
        )


def _fetch(hf_hub_download, request, commit, folder, endpoint, retries, wait, known, name) -> str:
    """One file at `commit`: kept when it matches what the lock recorded, else fetched anew."""
    path = folder / name
    entry = known.get(name)
    if entry and path.is_file() and path.stat().st_size == entry["size"]:
        if "sha256" not in entry or sha256_of(path) == entry["sha256"]:
            return str(path)
    if entry and path.exists():
        log.warning(
            "%s: %s differs from its lock; fetching it again at %s", request.what, name, commit
        )
        path.unlink()
        # The client's record of the file would let it skip the download.
        (folder / ".cache" / "huggingface" / "download" / f"{name}.metadata").unlink(
            missing_ok=True
        )
    return _download(hf_hub_download, request, name, commit, folder, endpoint, retries, wait)


def _download(hf_hub_download, request, name, commit, folder, endpoint, retries, wait) -> str:
    # A local_dir keeps partial files as .incomplete beside their metadata, so a rerun resumes.
    return _retrying(
        lambda: hf_hub_download(
            request.repo_id,
            name,
            repo_type=request.repo_type,
            revision=commit,
            local_dir=folder,
            endpoint=endpoint,
        ),
        f"{request.what}: {name}",
        retries,
        wait,
    )


def _rows(path: Path) -> dict[str, int]:
    """A Parquet file's row count, read from its footer (the plan's examples come from it)."""
    if path.suffix != ".parquet":
        return {}
    import pyarrow.parquet as pq

    return {"rows": pq.ParquetFile(path).metadata.num_rows}


def require_staged(receipt: Path | str) -> Path:
    """The staged folder of a receipt, refusing one whose files are gone."""
    lock = read_lock(receipt)
    folder = Path(lock["folder"])
    missing = [f["path"] for f in lock["files"] if not (folder / f["path"]).is_file()]
    if missing:
        raise StagingError(
            f"{lock['repo_type']} repository {lock['repo_id']!r}: staged file {missing[0]} is "
            f"missing from {folder}; jobs run offline, so rerun {STAGE_RULE}"
        )
    return folder


def stage_requests(config: dict[str, Any], grid, registry) -> dict[str, dict[str, StageRequest]]:
    """What staging fetches for a grid: per kind ("models", "datasets"), per Hub id, one
    request. Two entries asking one repository at different revisions are refused."""
    from xltransfer.data.tasks import is_local_reference
    from xltransfer.errors import ConfigError

    asked: dict[tuple[str, str], tuple[str, str]] = {}

    def revision_of(kind: str, repo: str, revision: str | None, key: str) -> str:
        revision = revision or "main"
        first = asked.setdefault((kind, repo), (revision, key))
        if first[0] != revision:
            raise ConfigError(
                f"{key}.revision: {revision!r} for {repo!r}, but {first[1]} asks {first[0]!r}; "
                "one run stages one commit per repository"
            )
        return revision

    models = {}
    for name in grid.models:
        entry = config["models"][name]
        if "build" in entry or is_local_reference(entry["path"]):
            continue
        repo = entry["path"]
        key = f"models.{name}"
        models[repo] = StageRequest(
            repo, "model", revision_of("models", repo, entry.get("revision"), key), key
        )
    splits: dict[str, dict[str | None, set[str]]] = {}
    keys: dict[str, str] = {}
    for name, language, role in grid.data_needs():
        task = registry[name]
        if task.is_local:
            continue
        revision_of("datasets", task.dataset, task.revision, f"tasks.{name}")
        keys.setdefault(task.dataset, f"tasks.{name}")
        per_repo = splits.setdefault(task.dataset, {})
        per_repo.setdefault(task.config_name(language), set()).add(task.split_name(role))
    datasets = {
        repo: StageRequest(
            repo,
            "dataset",
            asked[("datasets", repo)][0],
            keys[repo],
            {config: sorted(names) for config, names in per_config.items()},
        )
        for repo, per_config in splits.items()
    }
    return {"models": models, "datasets": datasets}
