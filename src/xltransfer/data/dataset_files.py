"""Which Parquet files of a Hub-shaped dataset hold one config's split, and reading them.

A Hub dataset repository names its files per config and split in the dataset card's `configs`
front matter (`data_files`), or, on the `refs/convert/parquet` branch, lays them out as
`<config>/<split>/*.parquet`. Staging reads this to fetch only the files a grid needs, and jobs
read the same files back from the staged folder without `datasets`' download manager or its
shared Arrow cache, so nothing there needs the network or a file lock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

CARD = "README.md"
PARQUET = ".parquet"


class DatasetLayoutError(ValueError):
    """A config or split the repository does not have; the message names both and the repo."""


def read_card(text: str) -> dict[str, Any]:
    """The YAML front matter of a dataset card (empty when it has none)."""
    match = re.match(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", text, flags=re.DOTALL)
    return (yaml.safe_load(match.group(1)) or {}) if match else {}


def _pattern_regex(pattern: str) -> re.Pattern:
    # fsspec's glob as datasets uses it: `**` crosses folders, `*` and `?` stay inside one.
    pattern = pattern.removeprefix("./")
    parts = re.split(r"(\*\*/?|\*|\?)", pattern)
    regex = {"**": ".*", "**/": "(?:.*/)?", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(regex.get(p, re.escape(p)) for p in parts) + r"\Z")


def _config_entry(card: dict[str, Any], config: str | None) -> dict[str, Any] | None:
    entries = card.get("configs") or []
    if config is None:
        default = [e for e in entries if e.get("default")] or [
            e for e in entries if e.get("config_name") == "default"
        ]
        return default[0] if default else (entries[0] if len(entries) == 1 else None)
    return next((e for e in entries if e.get("config_name") == config), None)


def _split_patterns(entry: dict[str, Any]) -> dict[str, list[str]]:
    """`data_files` of one card config as split -> patterns (a bare list means `train`)."""
    data_files = entry.get("data_files")
    if data_files is None and entry.get("data_dir"):
        return {}
    if isinstance(data_files, str):
        return {"train": [data_files]}
    out: dict[str, list[str]] = {}
    for item in data_files or []:
        if isinstance(item, str):
            out.setdefault("train", []).append(item)
        else:
            paths = item["path"]
            out.setdefault(item["split"], []).extend([paths] if isinstance(paths, str) else paths)
    return out


def config_names(card: dict[str, Any], files: Iterable[str]) -> list[str]:
    """The configs a repository declares in its card, else the top folders holding Parquet."""
    declared = [e["config_name"] for e in card.get("configs") or [] if "config_name" in e]
    if declared:
        return declared
    return sorted({f.split("/", 1)[0] for f in files if f.endswith(PARQUET) and "/" in f})


def split_files(
    card: dict[str, Any], files: Iterable[str], config: str | None, split: str, repo: str
) -> list[str]:
    """The repository files (posix paths, sorted) of `split` in `config`; `a+b` joins splits."""
    files = sorted(files)
    out: list[str] = []
    for part in split.split("+"):
        out.extend(_one_split(card, files, config, part, repo))
    return out


def _one_split(
    card: dict[str, Any], files: list[str], config: str | None, split: str, repo: str
) -> list[str]:
    entry = _config_entry(card, config)
    name = config or "default"
    if entry is not None:
        patterns = _split_patterns(entry)
        if not patterns:
            folder = entry.get("data_dir", "")
            patterns = {split: [f"{folder}/{split}-*", f"{folder}/{split}/**"]}
        if split not in patterns:
            raise DatasetLayoutError(
                f"dataset {repo!r} config {name!r} has no split {split!r}; its splits are "
                f"{sorted(patterns)}"
            )
        regexes = [_pattern_regex(p) for p in patterns[split]]
        matched = [f for f in files if any(r.match(f) for r in regexes)]
    elif name in config_names(card, files):
        # The Parquet conversion's layout: <config>/<split>/NNNN.parquet (partial-<split> when cut).
        folders = (f"{name}/{split}/", f"{name}/partial-{split}/")
        matched = [f for f in files if f.startswith(folders)]
    else:
        raise DatasetLayoutError(
            f"dataset {repo!r} has no config {name!r}; its configs are "
            f"{config_names(card, files) or 'none declared'}"
        )
    if not matched:
        raise DatasetLayoutError(f"dataset {repo!r} config {name!r} split {split!r}: no files")
    unread = [f for f in matched if not f.endswith(PARQUET)]
    if unread:
        raise DatasetLayoutError(
            f"dataset {repo!r} config {name!r} split {split!r}: {unread[0]} is not Parquet; "
            "use a revision with Parquet files (e.g. refs/convert/parquet)"
        )
    return matched


def card_features(card: dict[str, Any], config: str | None):
    """The `datasets.Features` the card declares for a config (None when it declares none)."""
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    if not card.get("dataset_info"):
        return None
    infos = DatasetInfosDict.from_dataset_card_data(DatasetCardData(**card))
    entry = _config_entry(card, config)
    key = entry.get("config_name") if entry else config
    info = infos.get(key or "default") or (next(iter(infos.values())) if len(infos) == 1 else None)
    return info.features if info is not None else None


def read_split(folder: Path, config: str | None, split: str, repo: str):
    """One split of a Hub-shaped folder as an in-memory `datasets.Dataset` with its features."""
    import datasets
    import pyarrow.parquet as pq
    from datasets.table import InMemoryTable, concat_tables

    folder = Path(folder)
    card_path = folder / CARD
    card = read_card(card_path.read_text(encoding="utf-8")) if card_path.exists() else {}
    listing = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    names = split_files(card, [p for p in listing if not p.startswith(".")], config, split, repo)
    table = concat_tables([InMemoryTable(pq.read_table(folder / name)) for name in names])
    features = card_features(card, config)
    if features is not None:
        table = table.cast(features.arrow_schema)
    return datasets.Dataset(table, info=datasets.DatasetInfo(features=features), split=split)
