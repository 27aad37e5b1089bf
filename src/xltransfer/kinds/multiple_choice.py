"""Multiple-choice tasks (HellaSwag, CosmosQA, CommonsenseQA): loading, encoding, batching and the
TaskEmb probe's head.

The registry maps each dataset onto one shape without dataset-specific code: `text_a` the context,
optional `text_b` the question, `choices` either one list column (HellaSwag's `endings`), a struct
field (CommonsenseQA's `choices.text`) or a list of columns (CosmosQA's `answer0`..`answer3`), and
`label` the gold choice as a name in the registry's `labels` order ("0".."3", "A".."E") or as an
id. The optional `choice_labels` (CommonsenseQA's `choices.label`) is checked against `labels` on
every row, so a reordered choice list cannot silently point the label at the wrong answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from xltransfer.kinds.base import (
    CHOICES,
    DatasetError,
    ProbeExample,
    TaskKind,
    check_label_names,
    class_id,
)

if TYPE_CHECKING:  # annotations only: a training job never imports `datasets`
    import datasets
    import torch
    from transformers import PreTrainedTokenizerBase

    from xltransfer.data.tasks import TaskSpec

# The test splits of all three datasets carry no gold answer: "" (HellaSwag, CommonsenseQA) or
# -1 (CosmosQA).
UNLABELLED = ("", -1, None)


def column_values(dataset: datasets.Dataset, reference: str | list[str]) -> list:
    """A mapped column's values per row: a column, a struct field (`choices.text`) or, for a list
    of columns, each row's values of those columns as one list."""
    if not isinstance(reference, str):
        columns = [dataset[name] for name in reference]
        return [list(values) for values in zip(*columns, strict=True)]
    if reference in dataset.column_names:
        return list(dataset[reference])
    column, field = reference.split(".", 1)
    return [None if value is None else value.get(field) for value in dataset[column]]


def _check_fields(task: TaskSpec, dataset: datasets.Dataset, where: str) -> None:
    """A struct field the registry names (`choices.text`) must exist in the column's features."""
    for key, reference in task.columns.items():
        if not isinstance(reference, str) or reference in dataset.column_names:
            continue
        column, field = reference.split(".", 1)
        feature = dataset.features[column]
        fields = list(feature) if isinstance(feature, dict) else []
        if field not in fields:
            raise DatasetError(
                f"{where}: column {column!r} has no field {field!r} (it has {fields}). "
                f"Fix tasks.{task.name}.columns.{key}"
            )


def _gold_choice(task: TaskSpec, lookup: dict[str, int], value, where: str) -> int:
    if value in UNLABELLED:
        raise DatasetError(
            f"{where}: unlabelled (label {value!r}, as in the dataset's test split); a source "
            "task's train and dev splits need a gold choice on every row"
        )
    return class_id(task, lookup, value, where)


def choice_frame(task: TaskSpec, dataset: datasets.Dataset, where: str) -> pd.DataFrame:
    """The standard frame of a multiple-choice split: context, question (or None), the choices
    and the gold choice's index; rows without a gold label, with another number of choices than
    `labels` names, or with choice labels out of the registry's order are refused by row."""
    check_label_names(task, dataset, where)
    _check_fields(task, dataset, where)
    lookup = {name: i for i, name in enumerate(task.labels)}
    n = len(dataset)
    contexts = column_values(dataset, task.columns["text_a"])
    questions = column_values(dataset, task.columns["text_b"]) if "text_b" in task.columns else None
    choices = column_values(dataset, task.columns[CHOICES])
    names = (
        column_values(dataset, task.columns["choice_labels"])
        if "choice_labels" in task.columns
        else None
    )
    golds = column_values(dataset, task.columns["label"])
    rows = []
    for row in range(n):
        at = f"{where} row {row}"
        options = choices[row]
        if not isinstance(options, Sequence) or isinstance(options, str):
            raise DatasetError(f"{at}: choices must be a list of strings, got {options!r}")
        if len(options) != len(task.labels):
            raise DatasetError(
                f"{at}: {len(options)} choices, but the registry's labels {list(task.labels)} "
                f"name {len(task.labels)}"
            )
        if not all(isinstance(option, str) for option in options):
            raise DatasetError(f"{at}: a choice is not a string: {list(options)!r}")
        if names is not None and list(names[row]) != list(task.labels):
            raise DatasetError(
                f"{at}: choice labels {list(names[row])} differ from the registry's "
                f"{list(task.labels)}"
            )
        if not isinstance(contexts[row], str):
            raise DatasetError(f"{at}: the context is not a string: {contexts[row]!r}")
        rows.append(
            {
                "text_a": contexts[row],
                "text_b": None if questions is None else questions[row],
                "label": _gold_choice(task, lookup, golds[row], at),
                CHOICES: list(options),
            }
        )
    return pd.DataFrame(rows, columns=["text_a", "text_b", "label", CHOICES])


def choice_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (example, choice): text_a the context, text_b the question (if any) followed
    by the choice, label 1 for the gold choice; the encoder reads each pair on its own."""
    rows = []
    for context, question, gold, options in zip(
        frame["text_a"], frame["text_b"], frame["label"], frame[CHOICES], strict=True
    ):
        for index, option in enumerate(options):
            second = f"{question} {option}" if isinstance(question, str) and question else option
            rows.append({"text_a": context, "text_b": second, "label": int(index == gold)})
    return pd.DataFrame(rows, columns=["text_a", "text_b", "label"])


def encode_choices(
    frame: pd.DataFrame, tokenizer: PreTrainedTokenizerBase, max_length: int
) -> list[dict]:
    """Per example, one token-id list per choice (context paired with question + choice, the
    longer side truncated first: a long context gives way before the short choice) and the gold
    index."""
    pairs = choice_pairs(frame)
    encoded = tokenizer(
        pairs["text_a"].tolist(),
        pairs["text_b"].tolist(),
        truncation="longest_first",
        max_length=max_length,
    )
    examples, first = [], 0
    for gold, options in zip(frame["label"], frame[CHOICES], strict=True):
        count = len(options)
        example = {key: values[first : first + count] for key, values in encoded.items()}
        examples.append({**example, "labels": int(gold)})
        first += count
    return examples


@dataclass
class ChoiceCollator:
    """Pads every choice of every example in a batch to one length: (batch, choices, tokens)."""

    tokenizer: PreTrainedTokenizerBase
    pad_to_multiple_of: int | None = None

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        """Flatten the choices, pad them together, and fold them back per example."""
        counts = {len(example["input_ids"]) for example in examples}
        if len(counts) != 1:
            raise ValueError(f"a batch mixes examples with {sorted(counts)} choices")
        import torch

        count = counts.pop()
        keys = [key for key in examples[0] if key != "labels"]
        flat = [
            {key: example[key][i] for key in keys} for example in examples for i in range(count)
        ]
        batch = self.tokenizer.pad(
            flat, padding=True, pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="pt"
        )
        out = {key: value.view(len(examples), count, -1) for key, value in batch.items()}
        if "labels" in examples[0]:
            out["labels"] = torch.tensor([int(e["labels"]) for e in examples], dtype=torch.long)
        return out


def fit_choice_head(features: np.ndarray, gold: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Weights w of the linear choice scorer s = w·h with a softmax over each example's choices,
    fit by L-BFGS to the summed −log p(gold) + ½·l2·‖w‖² (convex: a conditional logit model, the
    same form as `AutoModelForMultipleChoice`'s head; a bias would cancel in the softmax).

    `features` is (examples, choices, width), `gold` the gold index per example."""
    from scipy.optimize import minimize
    from scipy.special import log_softmax

    rows = np.arange(len(gold))

    def loss_and_grad(w: np.ndarray) -> tuple[float, np.ndarray]:
        log_p = log_softmax(features @ w, axis=1)
        residual = np.exp(log_p)
        residual[rows, gold] -= 1.0
        grad = np.einsum("nk,nkd->d", residual, features) + l2 * w
        return -log_p[rows, gold].sum() + 0.5 * l2 * w @ w, grad

    start = np.zeros(features.shape[-1])
    fit = minimize(loss_and_grad, start, jac=True, method="L-BFGS-B", options={"maxiter": 5000})
    return fit.x


def choice_head_gradients(features: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Per (example, choice) pair, the gradient of −log p(gold) at the pair's features under the
    fitted choice head: (p_choice − 1[choice is gold])·w, shape (examples·choices, width)."""
    gold = np.asarray(gold, dtype=np.int64)
    w = fit_choice_head(features, gold)
    scores = features @ w
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(gold)), gold] -= 1.0
    return (p[..., None] * w).reshape(-1, features.shape[-1])


class MultipleChoice(TaskKind):
    """HellaSwag, CosmosQA, CommonsenseQA: the gold choice among a fixed number of candidates."""

    name = "multiple_choice"
    model_class_name = "AutoModelForMultipleChoice"
    metrics = ("accuracy",)
    labelled = True
    # A choice's score means the same for every choice task: HellaSwag's 4-way and
    # CommonsenseQA's 5-way heads score choices alike.
    label_free_head = True
    extra_columns = (CHOICES,)
    architecture_suffix = "ForMultipleChoice"
    probe_form = "choice_softmax"

    def standardise(self, task: TaskSpec, dataset: datasets.Dataset, where: str) -> pd.DataFrame:
        return choice_frame(task, dataset, where)

    def encode(self, frame: pd.DataFrame, tokenizer, max_length: int, doc_stride: int = 16):
        return encode_choices(frame, tokenizer, max_length)

    def collator(self, tokenizer, pad_to_multiple_of: int | None):
        return ChoiceCollator(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def predict_rows(self, output: torch.Tensor) -> torch.Tensor:
        return output.argmax(dim=-1)  # one score per choice: the prediction is the best one

    def score(self, model, eval_set, accelerator) -> dict[str, float]:
        # Macro-F1 over choice positions would mean nothing.
        from xltransfer.kinds.metrics import accuracy

        predictions, references = self.predict(model, eval_set.loader, accelerator)
        return {"accuracy": accuracy(predictions, references)}

    def vocabulary_texts(self, frame: pd.DataFrame) -> list:
        # A multiple-choice task's words are in its answers too.
        options = [option for choices in frame[CHOICES] for option in choices]
        return super().vocabulary_texts(frame) + options

    def text_states(self, states, sample: pd.DataFrame, *, windows: bool) -> np.ndarray:
        # Each (context, question + choice) pair pooled, then averaged over the choices, so no
        # label is read.
        return states.choices(sample).mean(1)

    def probe_examples(self, frame: pd.DataFrame, tokenizer, max_length: int):
        """Each example's (context, question + choice) pairs, scored with a softmax over them."""
        return [
            ProbeExample({k: v for k, v in e.items() if k != "labels"}, None, [e["labels"]])
            for e in encode_choices(frame, tokenizer, max_length)
        ]

    def head_input_features(self, states, sample: pd.DataFrame):
        return states.choices(sample), sample["label"].to_numpy()
