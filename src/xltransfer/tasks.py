"""Task registry: where each dataset lives and how its columns map onto a task type."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Task knowledge is data: a task type fixes the input shape and the kind of head and metrics.
TASK_TYPES: dict[str, dict[str, Any]] = {
    "pair_classification": {"pair": True, "head": "classification"},
    "single_classification": {"pair": False, "head": "classification"},
    "pair_regression": {"pair": True, "head": "regression"},
    "single_regression": {"pair": False, "head": "regression"},
    # NER/POS: text_a holds a sentence's words, label one tag id per word.
    "token_classification": {"pair": False, "head": "token"},
    # SQuAD-style: text_a the question, text_b the context, label the answers field.
    "extractive_qa": {"pair": True, "head": "qa"},
}
# Heads that predict names from a label set (per sentence or per word).
LABELLED_HEADS = ("classification", "token")

METRICS_BY_HEAD: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "f1_macro"),
    "regression": ("pearson", "spearman"),
    # f1/precision/recall: entity level (seqeval, IOB2 tags, NER); accuracy/f1_macro: per tag (POS).
    "token": ("f1", "precision", "recall", "accuracy", "f1_macro"),
    # SQuAD's exact match and token F1 over the best gold answer.
    "qa": ("f1", "exact_match"),
}

SPLIT_ROLES = ("train", "dev", "test")


@dataclass(frozen=True)
class TaskSpec:
    """One registry entry: dataset location, per-language configs, splits and column mapping."""

    name: str
    dataset: str
    type: str
    columns: dict[str, str]
    splits: dict[str, str]
    languages: tuple[str, ...]
    metric: str
    config: str | None = None
    configs: dict[str, str] = field(default_factory=dict)
    revision: str | None = None
    labels: tuple[str, ...] = ()
    taxonomy: dict[str, str] = field(default_factory=dict)
    # Registry task whose English train and dev splits fine-tune this one (XQuAD trains on SQuAD).
    train_task: str | None = None

    @classmethod
    def from_config(cls, name: str, entry: dict[str, Any]) -> TaskSpec:
        """Build a spec from the `tasks.<name>` mapping of a (validated) config."""
        return cls(
            name=name,
            dataset=entry["dataset"],
            type=entry["type"],
            columns=dict(entry["columns"]),
            splits=dict(entry["splits"]),
            languages=tuple(entry["languages"]),
            metric=entry["metric"],
            config=entry.get("config"),
            configs=dict(entry.get("configs") or {}),
            revision=entry.get("revision"),
            labels=tuple(entry.get("labels") or ()),
            taxonomy=dict(entry.get("taxonomy") or {}),
            train_task=entry.get("train_task"),
        )

    @property
    def head(self) -> str:
        """`classification`, `regression`, `token` or `qa`."""
        return TASK_TYPES[self.type]["head"]

    @property
    def is_pair(self) -> bool:
        return TASK_TYPES[self.type]["pair"]

    @property
    def num_labels(self) -> int:
        return len(self.labels) if self.head in LABELLED_HEADS else 1

    @property
    def is_local(self) -> bool:
        """A dataset given as an existing or workflow-built folder rather than a Hub id."""
        return is_local_reference(self.dataset)

    def config_name(self, language: str) -> str | None:
        """The `datasets` config holding this language (explicit map first, then the template)."""
        if language in self.configs:
            return self.configs[language]
        if self.config is None:
            return None
        return self.config.format(lang=language)

    def split_name(self, role: str) -> str:
        """The dataset's own split name for a role, e.g. `dev` for stsb_multi_mt's validation."""
        return self.splits[role]


def is_local_reference(reference: str) -> bool:
    """True for paths (relative or absolute folders), false for `owner/name` Hub ids."""
    if reference.startswith((".", "/", "~")) or Path(reference).exists():
        return True
    # Hub ids have exactly one slash; workflow-built folders live under resources/ or results/.
    return reference.startswith(("resources/", "results/")) or reference.count("/") != 1


def load_registry(tasks: dict[str, dict[str, Any]]) -> dict[str, TaskSpec]:
    """All registry entries of a config as TaskSpecs."""
    return {name: TaskSpec.from_config(name, entry) for name, entry in tasks.items()}
