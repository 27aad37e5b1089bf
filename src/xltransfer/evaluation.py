"""Predictions of a classifier, regressor or tagger, gathered across processes, and metrics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from transformers import PreTrainedModel

from xltransfer.metrics import compute_metrics
from xltransfer.tagging_metrics import entity_scores, tag_scores, word_level
from xltransfer.token_labels import IGNORED_LABEL


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
        output = logits.argmax(dim=-1) if head == "classification" else logits.squeeze(-1).float()
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
    return compute_metrics(head, predictions, references)
