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
    # HellaSwag/CosmosQA/CommonsenseQA: text_a the context, optional text_b the question,
    # choices the candidate answers, label the gold choice named in `labels` order.
    "multiple_choice": {"pair": False, "head": "multiple_choice", "requires": ("choices",)},
    # Bitext retrieval (Tatoeba, BUCC): text_a a foreign sentence, text_b its English translation;
    # scored from a frozen encoder's sentence embeddings, never trained (see retrieval.py).
    "retrieval": {"pair": True, "head": "retrieval"},
}
# Architectures a pair regression (STS) can be fine-tuned with.
ARCHITECTURES = ("cross_encoder", "bi_encoder")
# Heads that predict names from a label set (per sentence, per word, or the gold choice).
LABELLED_HEADS = ("classification", "token", "multiple_choice")

METRICS_BY_HEAD: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "f1_macro"),
    "regression": ("pearson", "spearman"),
    # f1/precision/recall: entity level (seqeval, IOB2 tags, NER); accuracy/f1_macro: per tag (POS).
    "token": ("f1", "precision", "recall", "accuracy", "f1_macro"),
    # SQuAD's exact match and token F1 over the best gold answer.
    "qa": ("f1", "exact_match"),
    # The share of questions whose gold choice scores highest.
    "multiple_choice": ("accuracy",),
    # Top-1 foreign->English accuracy (Tatoeba); F1 of margin-mined pairs (BUCC).
    "retrieval": ("accuracy", "f1"),
}

SPLIT_ROLES = ("train", "dev", "test")


@dataclass(frozen=True)
class LanguageRows:
    """Which rows of a config hold a language, for datasets that keep every language in one
    config: TyDiQA-GoldP names it only in the id prefix (`english-...`), google/xtreme's XNLI
    in a `language` column."""

    column: str
    match: str = "equals"
    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, entry: dict[str, Any]) -> LanguageRows:
        return cls(
            column=entry["column"],
            match=entry.get("match", "equals"),
            values=dict(entry.get("values") or {}),
        )

    def value(self, language: str) -> str:
        """The column value (or prefix) that marks a language; the code itself by default."""
        return self.values.get(language, language)

    def keeps(self, cell: str, language: str) -> bool:
        value = self.value(language)
        return cell.startswith(value) if self.match == "prefix" else cell == value

    def describe(self, language: str) -> str:
        how = "starts with" if self.match == "prefix" else "equals"
        return f"column {self.column!r} {how} {self.value(language)!r}"


@dataclass(frozen=True)
class RetrievalSettings:
    """How a retrieval task embeds and scores sentences (registry key `retrieval`)."""

    # Hidden state mean-pooled into a sentence embedding: 0 the embedding output, i layer i,
    # negative counts from the top (-1, the default, is the final layer).
    layer: int = -1
    # Nearest neighbours averaged in the ratio margin of BUCC mining (Artetxe & Schwenk 2019).
    margin_k: int = 4

    @classmethod
    def from_config(cls, entry: dict[str, Any] | None) -> RetrievalSettings:
        return cls(**(entry or {}))


@dataclass(frozen=True)
class TaskSpec:
    """One registry entry: dataset location, per-language configs, splits and column mapping."""

    name: str
    dataset: str
    type: str
    # A value is a column name, a struct field (`choices.text`) or a list of columns
    # (CosmosQA's answer0..answer3).
    columns: dict[str, str | list[str]]
    splits: dict[str, str]
    languages: tuple[str, ...]
    metric: str
    config: str | None = None
    configs: dict[str, str] = field(default_factory=dict)
    revision: str | None = None
    labels: tuple[str, ...] = ()
    taxonomy: dict[str, str] = field(default_factory=dict)
    language_rows: LanguageRows | None = None
    architecture: str = "cross_encoder"
    # SQuAD's answer normalisation, or MLQA's per test language (`mlqa`).
    answer_normalization: str = "squad"
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
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
            architecture=entry.get("architecture", "cross_encoder"),
            answer_normalization=entry.get("answer_normalization", "squad"),
            language_rows=LanguageRows.from_config(entry["language_rows"])
            if entry.get("language_rows")
            else None,
            retrieval=RetrievalSettings.from_config(entry.get("retrieval")),
            train_task=entry.get("train_task"),
        )

    @property
    def head(self) -> str:
        """`classification`, `regression`, `token`, `qa`, `multiple_choice` or `retrieval`."""
        return TASK_TYPES[self.type]["head"]

    @property
    def fine_tuning_head(self) -> str:
        """The head a fine-tuned model of this task has: `head`, or `bi_encoder` for a sentence
        pair regression fine-tuned as a Siamese bi-encoder."""
        return "bi_encoder" if self.architecture == "bi_encoder" else self.head

    @property
    def is_pair(self) -> bool:
        return TASK_TYPES[self.type]["pair"]

    @property
    def num_labels(self) -> int:
        return len(self.labels) if self.head in LABELLED_HEADS else 1

    @property
    def dataset_columns(self) -> list[str]:
        """The dataset's own top-level columns the registry maps (a struct field's column)."""
        names = []
        for value in self.columns.values():
            for name in [value] if isinstance(value, str) else value:
                names.append(name.split(".", 1)[0])
        return list(dict.fromkeys(names))

    @property
    def is_retrieval(self) -> bool:
        """Scored from an encoder's sentence embeddings: it has no training data of its own."""
        return self.head == "retrieval"

    @property
    def mines_pairs(self) -> bool:
        """A retrieval task scored by mining F1, whose threshold is chosen on its dev split."""
        return self.is_retrieval and self.metric == "f1"

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
