"""Predictions of a classifier, regressor, tagger or QA model, gathered across processes, and
metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from transformers import PreTrainedModel

from xltransfer.kinds.metrics import compute_metrics
from xltransfer.kinds.qa_features import QAWindows, best_answers, make_windows
from xltransfer.kinds.qa_metrics import squad_scores
from xltransfer.kinds.tagging_metrics import entity_scores, tag_scores, word_level
from xltransfer.kinds.token_labels import IGNORED_LABEL
from xltransfer.training.loaders import encode_frame, make_loader


def _inputs(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if k != "labels"}


@torch.no_grad()
def predict(
    model: PreTrainedModel, loader: DataLoader, accelerator: Accelerator, head: str
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and references over a prepared loader, without the padded duplicate tail."""
    model.eval()
    predictions, references = [], []
    for batch in loader:
        logits = model(**_inputs(batch)).logits
        # A choice head's logits are one score per choice: the prediction is the best choice.
        chooses = head in ("classification", "multiple_choice")
        output = logits.argmax(dim=-1) if chooses else logits.squeeze(-1).float()
        output, labels = accelerator.gather_for_metrics((output, batch["labels"]))
        predictions.append(output.cpu().numpy())
        references.append(labels.cpu().numpy())
    model.train()
    return np.concatenate(predictions), np.concatenate(references)


@torch.no_grad()
def predict_tags(
    model: PreTrainedModel, loader: DataLoader, accelerator: Accelerator
) -> tuple[list[list[int]], list[list[int]]]:
    """Per sentence, the predicted and gold tag ids of the scored (first sub-token) positions."""
    model.eval()
    predicted, gold = [], []
    for batch in loader:
        tags = model(**_inputs(batch)).logits.argmax(dim=-1)
        labels = batch["labels"]
        # Batches differ in length across processes: pad to one width before gathering.
        tags = accelerator.pad_across_processes(tags, dim=1, pad_index=IGNORED_LABEL)
        labels = accelerator.pad_across_processes(labels, dim=1, pad_index=IGNORED_LABEL)
        tags, labels = accelerator.gather_for_metrics((tags, labels))
        for row_tags, row_labels in zip(tags.cpu().numpy(), labels.cpu().numpy(), strict=True):
            scored = row_labels != IGNORED_LABEL
            predicted.append(row_tags[scored].tolist())
            gold.append(row_labels[scored].tolist())
    model.train()
    return predicted, gold


def is_iob(labels: Sequence[str]) -> bool:
    """True for entity tags in the IOB scheme (O, B-X, I-X), false for plain tags such as UPOS."""
    return all(name == "O" or name[:2] in ("B-", "I-") for name in labels)


def score(
    model: PreTrainedModel,
    loader: DataLoader,
    accelerator: Accelerator,
    head: str,
    labels: Sequence[str] = (),
) -> dict[str, float]:
    """All metrics of the head's task type on one loader (`labels` names a token task's tags)."""
    if head == "token":
        predicted, gold = predict_tags(model, loader, accelerator)
        predicted, gold = word_level(predicted, labels), word_level(gold, labels)
        scores = tag_scores(predicted, gold)
        return {**scores, **entity_scores(predicted, gold)} if is_iob(labels) else scores
    predictions, references = predict(model, loader, accelerator, head)
    if head == "multiple_choice":  # macro-F1 over choice positions would mean nothing
        return {"accuracy": float(np.mean(predictions == references))}
    return compute_metrics(head, predictions, references)


@dataclass
class EvalSet:
    """One split ready to score: its prepared loader and, for QA, the windows and the answers."""

    loader: DataLoader
    head: str
    labels: tuple[str, ...] = ()
    windows: QAWindows | None = None
    contexts: list[str] | None = None
    answers: list[list[str]] | None = None
    # QA: the language whose MLQA normalisation compares answers (None: SQuAD's).
    answer_language: str | None = None

    def __len__(self) -> int:
        return len(self.contexts) if self.contexts is not None else len(self.loader.dataset)


def build_eval_set(
    frame: pd.DataFrame,
    tokenizer,
    accelerator: Accelerator,
    head: str,
    labels: Sequence[str],
    max_length: int,
    batch_size: int,
    doc_stride: int = 16,
    answer_language: str | None = None,
) -> EvalSet:
    """Encode a standardised split once; QA keeps every window with its offsets."""
    precision = accelerator.mixed_precision
    if head != "qa":
        examples = encode_frame(frame, tokenizer, max_length, head)
        loader = make_loader(
            examples,
            tokenizer,
            batch_size,
            shuffle=False,
            seed=0,
            mixed_precision=precision,
            head=head,
        )
        return EvalSet(accelerator.prepare(loader), head, tuple(labels))
    contexts = frame["text_b"].tolist()
    windows = make_windows(tokenizer, frame["text_a"].tolist(), contexts, max_length, doc_stride)
    examples = [windows.features(w) for w in range(len(windows.example))]
    loader = make_loader(
        examples, tokenizer, batch_size, shuffle=False, seed=0, mixed_precision=precision
    )
    answers = [[str(text) for text in texts] for texts in frame["label"]]
    return EvalSet(
        accelerator.prepare(loader), head, (), windows, contexts, answers, answer_language
    )


@torch.no_grad()
def predict_spans(model: PreTrainedModel, loader: DataLoader, accelerator: Accelerator):
    """Start and end logits of every window, in window order, unpadded."""
    model.eval()
    starts, ends = [], []
    for batch in loader:
        out = model(**batch)
        width = batch["attention_mask"].sum(dim=1)
        start = accelerator.pad_across_processes(out.start_logits.float(), dim=1, pad_index=-1e4)
        end = accelerator.pad_across_processes(out.end_logits.float(), dim=1, pad_index=-1e4)
        start, end, width = accelerator.gather_for_metrics((start, end, width))
        for s, e, w in zip(
            start.cpu().numpy(), end.cpu().numpy(), width.cpu().numpy(), strict=True
        ):
            starts.append(s[:w])
            ends.append(e[:w])
    model.train()
    return starts, ends


def score_eval_set(model: PreTrainedModel, eval_set: EvalSet, accelerator: Accelerator) -> dict:
    """All metrics of the split's task type."""
    if eval_set.head != "qa":
        return score(model, eval_set.loader, accelerator, eval_set.head, eval_set.labels)
    starts, ends = predict_spans(model, eval_set.loader, accelerator)
    predicted = best_answers(eval_set.windows, starts, ends, eval_set.contexts)
    return squad_scores(predicted, eval_set.answers, eval_set.answer_language)
