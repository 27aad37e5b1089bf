"""What a staged dataset card already says about a grid, checked when the DAG is built.

Once a Hub dataset is staged, its card (YAML front matter) declares its configs and each
config's features. A language whose config the card does not declare, or a label column whose
ClassLabel names differ from the registry's (in name or order), would otherwise fail in the
first `prepare_data` job; here the dry run refuses it, naming the key. Read as YAML only: the
DAG build imports no `datasets`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xltransfer.data.dataset_files import CARD, read_card
from xltransfer.data.tasks import TaskSpec
from xltransfer.errors import ConfigError


def _infos(card: dict[str, Any]) -> dict[str | None, dict]:
    """The card's dataset_info per config name (one unnamed entry: None)."""
    info = card.get("dataset_info")
    if isinstance(info, dict):
        return {info.get("config_name"): info}
    return {entry.get("config_name"): entry for entry in info or [] if isinstance(entry, dict)}


def _class_label_names(features: list[dict], column: str) -> list[str] | None:
    for feature in features or []:
        if feature.get("name") != column:
            continue
        dtype = feature.get("dtype") or feature.get("sequence")  # a token task's tag list
        if isinstance(dtype, dict) and "class_label" in dtype:
            names = dtype["class_label"].get("names") or {}
            return [names[key] for key in sorted(names, key=int)]
        return None
    return None


def card_problems(task: TaskSpec, languages: list[str], card: dict[str, Any]) -> list[str]:
    """What the card says against the task entry, one line each."""
    problems = []
    declared = [
        entry["config_name"] for entry in card.get("configs") or [] if "config_name" in entry
    ]
    infos = _infos(card)
    label = task.columns.get("label")
    for language in languages:
        config = task.config_name(language)
        if declared and config is not None and config not in declared:
            problems.append(
                f"tasks.{task.name}.languages: {language!r} reads config {config!r}, which "
                f"{task.dataset!r} does not have (its card declares {len(declared)}: "
                f"{', '.join(declared[:12])}{', ...' if len(declared) > 12 else ''})"
            )
            continue
        info = infos.get(config) or (next(iter(infos.values())) if len(infos) == 1 else None)
        if not task.labels or not isinstance(label, str) or info is None:
            continue
        names = _class_label_names(info.get("features"), label)
        if names is not None and names != list(task.labels):
            problems.append(
                f"tasks.{task.name}.labels: {list(task.labels)}, but {task.dataset!r} config "
                f"{config!r} names its ClassLabel {names} (names and order must match)"
            )
    return list(dict.fromkeys(problems))


def check_staged_cards(
    needs: list[tuple[str, str, str]], registry: dict[str, TaskSpec], cache: Path | str
) -> None:
    """Refuse the grid's (task, language, role) needs that a staged card contradicts; a dataset
    not staged yet is checked when it is (and by its first job)."""
    languages: dict[str, list[str]] = {}
    for name, language, _ in needs:
        if not registry[name].is_local:
            languages.setdefault(name, [])
            if language not in languages[name]:
                languages[name].append(language)
    problems = []
    for name, langs in languages.items():
        task = registry[name]
        card_file = Path(cache) / "datasets" / task.dataset / CARD
        if card_file.is_file():
            problems += card_problems(task, langs, read_card(card_file.read_text("utf-8")))
    if problems:
        raise ConfigError("; ".join(dict.fromkeys(problems)))
