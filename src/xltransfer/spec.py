"""Typed run specs: the only way hyperparameters reach training (defaults live in the schema)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from xltransfer.data.tasks import TaskSpec
from xltransfer.kinds import get_kind, kind_for


@dataclass(frozen=True)
class Hyperparameters:
    """Fine-tuning hyperparameters of one stage (source or target)."""

    epochs: int
    learning_rate: float
    weight_decay: float
    warmup_ratio: float
    global_batch_size: int
    per_device_batch_size: int
    max_length: int
    max_grad_norm: float
    mixed_precision: str  # no | bf16 | fp16, `auto` already resolved (config.job_hyperparameters)
    max_train_examples: int | None
    eval_batch_size: int
    checkpoint_steps: int = 0
    doc_stride: int = 16
    # Also save the resume state when this many minutes of training passed (0: steps only).
    checkpoint_minutes: float = 0
    # adamw, or adafactor (T5's optimiser; constant learning rate, no parameter scaling).
    optimizer: str = "adamw"

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Hyperparameters:
        """Take exactly this class's fields from a (schema-completed) config mapping."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass(frozen=True)
class TaskHead:
    """What a checkpoint's head predicts: the task, its kind's name and its label names."""

    task: str
    head: str
    labels: tuple[str, ...]
    metric: str
    answer_normalization: str = "squad"
    # A text-to-text kind's verbaliser (`kinds.text_to_text.Verbaliser.as_dict`); None: a head.
    text_to_text: dict | None = None

    def answer_language(self, language: str) -> str | None:
        """The language whose answer normalisation scores a test split (None: SQuAD's)."""
        return language if self.answer_normalization == "mlqa" else None

    @property
    def kind(self):
        """The task kind the head belongs to (`head` is its registry name), with this task's
        settings bound."""
        return get_kind(self.head).for_task(self)

    def as_dict(self) -> dict:
        """The head as JSON-ready values, without fields added later that hold their default,
        so the run specs (and with them Snakemake's params) of existing runs do not change."""
        return _without_later_defaults(asdict(self), TaskHead)

    @property
    def num_labels(self) -> int:
        return self.kind.num_labels(self.labels)


@dataclass(frozen=True)
class FinetuneSpec:
    """Everything one fine-tuning job needs, serialisable to JSON for the job's command line."""

    model: str
    init_model: str
    revision: str | None
    init_checkpoint: str | None
    task: TaskHead
    train_file: str
    dev_file: str
    seed: int
    hyperparameters: Hyperparameters
    threads: int = 1
    # A Hub model's staging receipt: the job reads the commit it resolved to from it.
    staged: str | None = None

    def to_json(self) -> str:
        values = asdict(self)
        values["task"] = self.task.as_dict()
        values["hyperparameters"] = _without_later_defaults(
            values["hyperparameters"], Hyperparameters
        )
        return json.dumps(values, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FinetuneSpec:
        values = json.loads(text)
        values["task"] = TaskHead(**{**values["task"], "labels": tuple(values["task"]["labels"])})
        values["hyperparameters"] = Hyperparameters(**values["hyperparameters"])
        return cls(**values)


@dataclass(frozen=True)
class PretrainSpec:
    """Architecture and pretraining schedule of the tiny demo encoder."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    steps: int
    batch_size: int
    learning_rate: float
    mlm_probability: float
    max_length: int
    seed: int
    architecture: str = "xlmr"  # xlmr | bert | mt5 (xltransfer.models.architectures)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PretrainSpec:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


# Fields added after runs existed, left out of a spec while they hold their default.
LATER_FIELDS = {"text_to_text", "optimizer"}


def _without_later_defaults(values: dict, cls) -> dict:
    defaults = {f.name: f.default for f in fields(cls)}
    return {k: v for k, v in values.items() if k not in LATER_FIELDS or v != defaults[k]}


def task_head(task: TaskSpec, text_to_text: bool = False) -> TaskHead:
    """What a registry task's fine-tuned head predicts and how its test sets are scored; with
    `text_to_text`, the task written as text for an encoder-decoder."""
    kind = kind_for(task.type, task.architecture, text_to_text)
    verbaliser = kind.default_verbaliser(task).as_dict() if text_to_text else None
    return TaskHead(
        task=task.name,
        head=kind.name,
        labels=task.labels,
        metric=task.metric,
        answer_normalization=task.answer_normalization,
        text_to_text=verbaliser,
    )


def finetune_spec(
    *,
    model: str,
    init_model: str,
    revision: str | None,
    init_checkpoint: str | None,
    task: TaskSpec,
    train_file: str,
    dev_file: str,
    seed: int,
    hyperparameters: dict[str, Any],
    threads: int = 1,
    staged: str | None = None,
    text_to_text: bool = False,
) -> FinetuneSpec:
    """The run spec of one fine-tuning job."""
    return FinetuneSpec(
        model=model,
        init_model=init_model,
        revision=revision,
        init_checkpoint=init_checkpoint,
        task=task_head(task, text_to_text),
        train_file=str(train_file),
        dev_file=str(dev_file),
        seed=seed,
        hyperparameters=Hyperparameters.from_dict(hyperparameters),
        threads=threads,
        staged=staged,
    )
