"""Tokenizes standardised frames and batches them with dynamic padding."""

from __future__ import annotations

import pandas as pd
import torch
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase


def encode_frame(
    frame: pd.DataFrame, tokenizer: PreTrainedTokenizerBase, max_length: int, head: str
) -> list[dict]:
    """Token ids per row (no padding: batches are padded to their own longest row)."""
    pair = frame["text_b"].notna().all()
    text_b = frame["text_b"].tolist() if pair else None
    encoded = tokenizer(frame["text_a"].tolist(), text_b, truncation=True, max_length=max_length)
    dtype = torch.long if head == "classification" else torch.float
    labels = torch.tensor(frame["label"].to_numpy(), dtype=dtype)
    return [
        {**{key: values[i] for key, values in encoded.items()}, "labels": labels[i]}
        for i in range(len(frame))
    ]


def pad_multiple(mixed_precision: str) -> int | None:
    """Tensor cores want lengths in multiples of 8 (16 for fp8); full precision needs none."""
    return {"fp16": 8, "bf16": 8, "fp8": 16}.get(mixed_precision)


def make_loader(
    examples: list[dict],
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    mixed_precision: str = "no",
) -> DataLoader:
    """A DataLoader with dynamic padding and a seeded shuffle."""
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_multiple(mixed_precision))
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        examples, batch_size=batch_size, shuffle=shuffle, collate_fn=collator, generator=generator
    )
