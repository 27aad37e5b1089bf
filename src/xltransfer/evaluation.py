"""Predictions of a classifier/regressor, gathered across processes, and their metrics."""

from __future__ import annotations

import numpy as np
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from transformers import PreTrainedModel

from xltransfer.metrics import compute_metrics


@torch.no_grad()
def predict(
    model: PreTrainedModel, loader: DataLoader, accelerator: Accelerator, head: str
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and references over a prepared loader, without the padded duplicate tail."""
    model.eval()
    predictions, references = [], []
    for batch in loader:
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        output = logits.argmax(dim=-1) if head == "classification" else logits.squeeze(-1).float()
        output, labels = accelerator.gather_for_metrics((output, batch["labels"]))
        predictions.append(output.cpu().numpy())
        references.append(labels.cpu().numpy())
    model.train()
    return np.concatenate(predictions), np.concatenate(references)


def score(
    model: PreTrainedModel, loader: DataLoader, accelerator: Accelerator, head: str
) -> dict[str, float]:
    """All metrics of the head's task type on one loader."""
    predictions, references = predict(model, loader, accelerator, head)
    return compute_metrics(head, predictions, references)
