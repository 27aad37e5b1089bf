"""The task-kind interface: everything that differs between sentence classification, regression,
tagging, extractive QA, multiple choice, bi-encoder STS and retrieval, in one place per kind.

A kind turns a loaded split into the standard frame, encodes and collates it, names the model
class and head configuration, scores predictions, and says what the similarity methods read of
it (the TaskEmb Fisher's label sampling and loss, the frozen-encoder probes). Code outside
`xltransfer.kinds` asks the task's kind and never compares kind names.

Shared helpers (the standard frame's columns, batching, the eval-set record) live here, so a kind
module holds only what is its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from xltransfer.kinds.encoding_cache import encode_once, example_lengths

if TYPE_CHECKING:  # torch is imported where used: the workflow reads kinds to plan its DAG
    from pathlib import Path

    import datasets
    import torch
    from accelerate import Accelerator
    from torch.utils.data import DataLoader

    from xltransfer.data.tasks import TaskSpec

STANDARD_COLUMNS = ["text_a", "text_b", "label"]
# Extractive QA adds the character offset of each gold answer (label holds their texts).
ANSWER_START = "answer_start"
# Multiple choice adds the list of candidate answers (label is the gold one's index).
CHOICES = "choices"
# Label id of positions no loss or metric reads (transformers' ignore index).
IGNORED_LABEL = -100


class DatasetError(ValueError):
    """A dataset that does not match its registry entry; the message names dataset, split, row."""


def label_names(dataset: datasets.Dataset, column: str) -> list[str] | None:
    """A column's ClassLabel names (a token task's list of ClassLabel too), or None."""
    import datasets

    feature = dataset.features[column]
    # A token task's tags are a list feature of ClassLabel (Sequence or List in datasets 4+).
    feature = getattr(feature, "feature", feature)
    return list(feature.names) if isinstance(feature, datasets.ClassLabel) else None


def check_label_names(task: TaskSpec, dataset: datasets.Dataset, where: str) -> None:
    """A dataset's ClassLabel names, where it has them, are the registry's, in order."""
    names = label_names(dataset, task.columns["label"])
    if names is not None and names != list(task.labels):
        raise DatasetError(
            f"{where}: ClassLabel names {names} differ from the registry's {list(task.labels)}"
        )


def class_id(task: TaskSpec, lookup: dict[str, int], value, where: str) -> int:
    """One label as an id in the registry's order, whether stored as an id or a name."""
    label = lookup.get(value) if isinstance(value, str) else value
    if label is None or not 0 <= int(label) < len(task.labels):
        raise DatasetError(f"{where}: label {value!r} is outside the label set {list(task.labels)}")
    return int(label)


def pad_multiple(mixed_precision: str) -> int | None:
    """Tensor cores want lengths in multiples of 8 (16 for fp8); full precision needs none."""
    return {"fp16": 8, "bf16": 8, "fp8": 16}.get(mixed_precision)


def make_loader(
    examples: list[dict], collator, batch_size: int, *, shuffle: bool, seed: int
) -> DataLoader:
    """A DataLoader over encoded examples with the kind's collator and a seeded shuffle."""
    import torch
    from torch.utils.data import DataLoader

    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        examples, batch_size=batch_size, shuffle=shuffle, collate_fn=collator, generator=generator
    )


def longest_first(examples: Sequence[dict]) -> list[int]:
    """Example indices from the longest to the shortest (ties keep their order), so a batch
    pads to lengths close to its own instead of to a stray long row's."""
    return np.argsort(-example_lengths(examples), kind="stable").tolist()


def in_example_order(values: Sequence, order: Sequence[int] | None) -> list:
    """Values produced in `order` (evaluation's longest-first order) put back in example
    order."""
    if order is None:
        return list(values)
    restored = [None] * len(order)
    for position, index in enumerate(order):
        restored[index] = values[position]
    return restored


def model_inputs(batch: dict) -> dict:
    """A batch without its gold labels."""
    return {k: v for k, v in batch.items() if k != "labels"}


def draw_classes(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One class per row of (rows, classes) logits, drawn from their softmax."""
    import torch

    probabilities = torch.softmax(logits.detach().double().cpu(), dim=-1)
    return torch.multinomial(probabilities, 1, generator=generator).squeeze(-1)


@dataclass
class EvalSet:
    """One split ready to score: its prepared loader and, for QA, the windows and the answers."""

    loader: DataLoader
    kind: TaskKind
    labels: tuple[str, ...] = ()
    windows: Any = None
    contexts: list[str] | None = None
    answers: list[list[str]] | None = None
    # QA: the language whose MLQA normalisation compares answers (None: SQuAD's).
    answer_language: str | None = None
    # Text-to-text: the tokenizer that decodes generations.
    tokenizer: Any = None
    # The example index of each loader row (the loader reads the longest examples first).
    order: list[int] | None = None

    def __len__(self) -> int:
        return len(self.contexts) if self.contexts is not None else len(self.loader.dataset)


@dataclass
class ProbeExample:
    """One example of a frozen-encoder probe's view: its encoder inputs (multiple choice: one
    list per choice), the token positions whose states the head reads (None: the mean-pooled
    sequence) and the gold label of each unit (choice: the gold index)."""

    inputs: dict[str, list]
    positions: list[int] | None
    gold: list


# How a frozen-encoder probe's linear head is fit and differentiated: multinomial logistic
# regression, ridge regression, or a linear scorer with a softmax over an example's choices.
PROBE_FORMS = ("softmax", "ridge", "choice_softmax")


@dataclass(frozen=True)
class Problem:
    """A registry entry that does not fit its kind: the key under `tasks.<name>` and why."""

    key: str
    message: str


class TaskKind:
    """Sentence-level defaults (one example, one row, one label); kinds override what differs."""

    name: ClassVar[str]
    # Metric names a task of this kind may select as its primary metric.
    metrics: ClassVar[tuple[str, ...]]
    # Fine-tuned (retrieval is scored from a frozen encoder and trains nothing).
    trainable: ClassVar[bool] = True
    # Predicts names from the task's label set (per sentence, per word or the gold choice).
    labelled: ClassVar[bool] = False
    # The head's weights mean the same for every task of the kind whatever its label names (a
    # span's start/end, a choice's score, a cosine), so a source's head carries over whole.
    label_free_head: ClassVar[bool] = False
    # Columns of `tasks.<name>.columns` besides text_a, label and (pair tasks) text_b.
    extra_columns: ClassVar[tuple[str, ...]] = ()
    # The class that builds and loads checkpoints of this kind's head: a transformers Auto class
    # or a model of `xltransfer.models` (resolved there, so kinds import no model code).
    model_class_name: ClassVar[str]
    # transformers' problem_type of the head, where the Auto class has several.
    problem_type: ClassVar[str | None] = None
    # The suffix of a checkpoint's `config.architectures` entry that marks this kind's head.
    architecture_suffix: ClassVar[str | None] = None
    # The loss form of the frozen-encoder probes (`PROBE_FORMS`); None: not probed this way.
    probe_form: ClassVar[str | None] = None
    # A head the fine-tuned TaskEmb's Fisher can be taken at.
    has_fisher_head: ClassVar[bool] = True
    # Sentence embeddings that projection alignment can map across languages before scoring.
    aligns_embeddings: ClassVar[bool] = False
    # Contexts cut into windows overlapping by `doc_stride` tokens (extractive QA).
    windowed: ClassVar[bool] = False
    # The batch fields TaskEmb's Fisher draws or reads as labels.
    fisher_label_keys: ClassVar[tuple[str, ...]] = ("labels",)
    # The torch dtype of sequence labels: float scores, or class ids (`long`).
    label_dtype: ClassVar[str] = "float"

    # -- configuration --------------------------------------------------------------------
    def problems(self, task: TaskSpec) -> list[Problem]:
        """What in a registry entry does not fit this kind (empty when it fits)."""
        found = []
        needed = {"text_a", "label"} | ({"text_b"} if task.is_pair else set())
        missing = needed.union(self.extra_columns) - set(task.columns)
        if missing:
            found.append(Problem("columns", f"task type {task.type!r} needs {sorted(missing)}"))
        if self.labelled and len(task.labels) < 2:
            found.append(Problem("labels", f"a {task.type} task needs at least two label names"))
        return found + self.answer_problems(task)

    def answer_problems(self, task: TaskSpec) -> list[Problem]:
        """MLQA's answer normalisation applies to extractive QA answers only."""
        if task.answer_normalization != "mlqa":
            return []
        from xltransfer.kinds.qa_metrics import ARTICLES

        unknown = sorted(set(task.languages) - set(ARTICLES))
        return [
            Problem(
                "answer_normalization",
                f"mlqa normalises extractive QA answers in {sorted(ARTICLES)}; "
                f"{task.type!r} task languages {unknown} do not fit",
            )
        ]

    def for_task(self, head) -> TaskKind:
        """The kind as a run of one task uses it (a run spec's `TaskHead`): itself, or with the
        task's settings bound (text-to-text's verbaliser)."""
        return self

    def encoding_settings(self) -> dict[str, Any]:
        """What besides the rows, the tokenizer and the lengths decides this kind's encoding
        (part of the encoded cache's key)."""
        return {"name": self.name}

    def mines_pairs(self, task: TaskSpec) -> bool:
        """Scored by mining pairs, with a threshold chosen on the task's dev split."""
        return False

    def num_labels(self, labels: Sequence[str]) -> int:
        return len(labels) if self.labelled else 1

    # -- data -----------------------------------------------------------------------------
    def standardise(self, task: TaskSpec, dataset: datasets.Dataset, where: str) -> pd.DataFrame:
        """A loaded split as the standard frame (text_a, text_b, label), labels checked."""
        labels = self.standard_labels(task, dataset, where)
        text_b = dataset[task.columns["text_b"]] if task.is_pair else [None] * len(dataset)
        return pd.DataFrame(
            {"text_a": dataset[task.columns["text_a"]], "text_b": text_b, "label": labels}
        )

    def standard_labels(self, task: TaskSpec, dataset: datasets.Dataset, where: str):
        raise NotImplementedError

    def encode(
        self, frame: pd.DataFrame, tokenizer, max_length: int, doc_stride: int = 16
    ) -> list[dict]:
        """Token ids per row (no padding: batches are padded to their own longest row)."""
        pair = frame["text_b"].notna().all()
        text_b = frame["text_b"].tolist() if pair else None
        encoded = tokenizer(
            frame["text_a"].tolist(), text_b, truncation=True, max_length=max_length
        )
        import torch

        dtype = getattr(torch, self.label_dtype)
        labels = torch.tensor(frame["label"].to_numpy(), dtype=dtype)
        return [
            {**{key: values[i] for key, values in encoded.items()}, "labels": labels[i]}
            for i in range(len(frame))
        ]

    def collator(self, tokenizer, pad_to_multiple_of: int | None):
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def loader(
        self,
        examples: list[dict],
        tokenizer,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int,
        mixed_precision: str = "no",
    ) -> DataLoader:
        """A DataLoader with this kind's dynamic padding and a seeded shuffle."""
        collator = self.collator(tokenizer, pad_multiple(mixed_precision))
        return make_loader(examples, collator, batch_size, shuffle=shuffle, seed=seed)

    def text_view(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame as sentences (text_a a string), what TextEmb and vocabulary overlap read."""
        return sentence_texts(frame)

    def similarity_view(
        self, frame: pd.DataFrame, method: str, seed: int = 0
    ) -> tuple[pd.DataFrame, TaskKind]:
        """What a similarity method reads of the task's training frame, with the kind that
        reads it: the frame itself, by default."""
        return frame, self

    def vocabulary_texts(self, frame: pd.DataFrame) -> list:
        """The texts whose words vocabulary overlap counts."""
        frame = self.text_view(frame)
        return [*frame["text_a"]] + ([*frame["text_b"]] if "text_b" in frame else [])

    def text_states(self, states, sample: pd.DataFrame, *, windows: bool) -> np.ndarray:
        """TextEmb's per-example frozen states (`states`: `similarity.embeddings.FrozenStates`);
        `windows`: read a long context as its windows, where the kind has them."""
        return states.sentences(sample)

    # -- model ----------------------------------------------------------------------------
    def head_config(self, labels: Sequence[str]) -> dict[str, Any]:
        """Keyword arguments of `AutoConfig.from_pretrained` for a fresh head."""
        if self.label_free_head:
            return {}
        names = list(labels) if self.labelled else ["score"]
        return {
            "num_labels": self.num_labels(labels),
            "id2label": dict(enumerate(names)),
            "label2id": {name: i for i, name in enumerate(names)},
            "problem_type": self.problem_type,
        }

    def same_label_space(self, config, labels: Sequence[str]) -> bool:
        """True when a checkpoint's head predicts exactly the labels (in order) a task needs."""
        if self.label_free_head:
            return True
        names = [config.id2label[i] for i in range(config.num_labels)]
        return config.problem_type != "regression" and names == list(labels)

    def is_checkpoint_head(self, model) -> bool:
        """True when a loaded checkpoint carries this kind's head."""
        suffix = self.architecture_suffix
        return suffix is not None and type(model).__name__.endswith(suffix)

    # -- evaluation -----------------------------------------------------------------------
    def eval_set(
        self,
        frame: pd.DataFrame,
        tokenizer,
        accelerator: Accelerator,
        labels: Sequence[str],
        max_length: int,
        batch_size: int,
        doc_stride: int = 16,
        answer_language: str | None = None,
        cache: Path | None = None,
    ) -> EvalSet:
        """Encode a standardised split once (mapped from `cache` where a job did before), as a
        loader prepared for the accelerator."""
        examples = encode_once(self, frame, tokenizer, max_length, doc_stride, cache)
        loader, order = self.eval_loader(examples, tokenizer, batch_size, accelerator)
        # Predictions and references come back in the same order, and no metric of a
        # sequence head depends on the order of the pairs, so none is put back.
        return EvalSet(loader, self, tuple(labels), order=order)

    def eval_loader(self, examples: list[dict], tokenizer, batch_size: int, accelerator):
        """Batches of encoded examples, longest first, prepared for the accelerator; and the
        example index of each row, to put per-example outputs back in order."""
        order = longest_first(examples)
        loader = self.loader(
            [examples[i] for i in order],
            tokenizer,
            batch_size,
            shuffle=False,
            seed=0,
            mixed_precision=accelerator.mixed_precision,
        )
        return accelerator.prepare(loader), order

    def score(self, model, eval_set: EvalSet, accelerator: Accelerator) -> dict[str, float]:
        """All metrics of the kind on one prepared split."""
        raise NotImplementedError

    def predict_rows(self, output: torch.Tensor) -> torch.Tensor:
        """One prediction per row from a sequence head's logits."""
        return output.squeeze(-1).float()

    def predict(self, model, loader: DataLoader, accelerator: Accelerator):
        """Predictions and references over a prepared loader, without the padded duplicate
        tail."""
        import torch

        model.eval()
        predictions, references = [], []
        with torch.inference_mode():
            for batch in loader:
                output = self.predict_rows(model(**model_inputs(batch)).logits)
                output, labels = accelerator.gather_for_metrics((output, batch["labels"]))
                predictions.append(output.cpu().numpy())
                references.append(labels.cpu().numpy())
        model.train()
        return np.concatenate(predictions), np.concatenate(references)

    # -- TaskEmb (Fisher of a fine-tuned checkpoint) ----------------------------------------
    def sample_fisher_labels(self, out, batch: dict, generator: torch.Generator) -> dict:
        """Labels drawn from the model's predictive distribution, in the batch's label fields."""
        return {"labels": draw_classes(out.logits, generator)}

    def fisher_losses(self, out, labels: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Each example's loss (shape (examples,)) and the batch loss as transformers reduces
        it."""
        from torch.nn import functional

        per_example = functional.cross_entropy(out.logits, labels["labels"], reduction="none")
        return per_example, per_example.mean()

    # -- frozen-encoder probes (Task2Vec, the head-input probe) ---------------------------
    def probe_examples(self, frame: pd.DataFrame, tokenizer, max_length: int) -> list[ProbeExample]:
        """The units a probe head reads, each with its gold label: mean-pooled sentences."""
        texts = sentence_texts(frame).assign(label=0.0)
        encoded = SENTENCES.encode(texts, tokenizer, max_length)
        return [
            ProbeExample({k: v for k, v in e.items() if k != "labels"}, None, [label])
            for e, label in zip(encoded, frame["label"].tolist(), strict=True)
        ]

    def head_input_features(self, states, sample: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Frozen features and gold labels of the head-input probe; `states` reads the frozen
        encoder (`xltransfer.similarity.embeddings.FrozenStates`)."""
        return states.sentences(sample), sample["label"].to_numpy()


def sentence_texts(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame whose text_a is a string: a token task's words joined by spaces."""
    if len(frame) and not isinstance(frame["text_a"].iloc[0], str):
        return frame.assign(text_a=[" ".join(words) for words in frame["text_a"]])
    return frame


class _Sentences(TaskKind):
    """Plain sentence encoding with float labels: what the frozen-encoder readers tokenise."""

    name = "sentences"
    metrics = ()


SENTENCES = _Sentences()
