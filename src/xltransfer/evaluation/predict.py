"""Scores of a fine-tuned model on one standardised split, whatever its task kind: the kind
encodes the split, predicts (gathered across processes) and computes its metrics."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from accelerate import Accelerator
from transformers import PreTrainedModel

from xltransfer.kinds import get_kind
from xltransfer.kinds.base import EvalSet


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
    """Encode a standardised split once for the kind named `head` (QA keeps every window)."""
    return get_kind(head).eval_set(
        frame,
        tokenizer,
        accelerator,
        labels,
        max_length,
        batch_size,
        doc_stride,
        answer_language,
    )


def score_eval_set(model: PreTrainedModel, eval_set: EvalSet, accelerator: Accelerator) -> dict:
    """All metrics of the split's kind."""
    return eval_set.kind.score(model, eval_set, accelerator)
