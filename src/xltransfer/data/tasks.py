"""Task registry: where each dataset lives and how its columns map onto a task type (whose kind,
`xltransfer.kinds`, says how it is encoded, trained, scored and embedded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xltransfer.kinds import TASK_TYPES, kind_for

if TYPE_CHECKING:
    from xltransfer.kinds.base import TaskKind

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
    # How a text-to-text model writes the task (template, label_words, max_target_tokens).
    text_to_text: dict[str, Any] = field(default_factory=dict)

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
            # A prepared split's entry (`identity.split_entry`) names no metric: it scores nothing.
            metric=entry.get("metric", ""),
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
            text_to_text=dict(entry.get("text_to_text") or {}),
        )

    @property
    def kind(self) -> TaskKind:
        """How the task is encoded, fine-tuned, scored and embedded (type and architecture)."""
        return kind_for(self.type, self.architecture)

    @property
    def is_pair(self) -> bool:
        return TASK_TYPES[self.type].pair

    @property
    def num_labels(self) -> int:
        return self.kind.num_labels(self.labels)

    @property
    def dataset_columns(self) -> list[str]:
        """The dataset's own top-level columns the registry maps (a struct field's column)."""
        names = []
        for value in self.columns.values():
            for name in [value] if isinstance(value, str) else value:
                names.append(name.split(".", 1)[0])
        return list(dict.fromkeys(names))

    @property
    def mines_pairs(self) -> bool:
        """Scored by mining F1, whose threshold is chosen on its dev split (BUCC)."""
        return self.kind.mines_pairs(self)

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
