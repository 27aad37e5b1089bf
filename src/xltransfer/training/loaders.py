"""Tokenizes standardised frames and batches them with dynamic padding."""

from __future__ import annotations

import logging

import pandas as pd
import torch
from torch.utils.data import DataLoader
from transformers import (
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    PreTrainedTokenizerBase,
)

from xltransfer.data.load import ANSWER_START
from xltransfer.kinds.multiple_choice import ChoiceCollator, encode_choices
from xltransfer.kinds.qa_features import make_windows
from xltransfer.kinds.token_labels import IGNORED_LABEL, encode_tagged_words
from xltransfer.models.bi_encoder import SentencePairCollator, encode_sentence_pairs

log = logging.getLogger(__name__)


def _encode_tagged(frame: pd.DataFrame, tokenizer, max_length: int) -> list[dict]:
    words, tags = frame["text_a"].tolist(), frame["label"].tolist()
    batch = encode_tagged_words(tokenizer, words, tags, max_length)
    if batch.truncated_words:
        log.warning(
            "%d of %d words fall past max_length %d and are not trained on or scored",
            batch.truncated_words,
            sum(len(words) for words in frame["text_a"]),
            max_length,
        )
    return [
        {"input_ids": ids, "attention_mask": mask, "labels": labels}
        for ids, mask, labels in zip(
            batch.input_ids, batch.attention_mask, batch.labels, strict=True
        )
    ]


def sentence_texts(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame whose text_a is a string: a token task's words joined by spaces."""
    if len(frame) and not isinstance(frame["text_a"].iloc[0], str):
        return frame.assign(text_a=[" ".join(words) for words in frame["text_a"]])
    return frame


def answer_windows(frame: pd.DataFrame, tokenizer, max_length: int, doc_stride: int):
    """Training windows of a QA frame: the first gold answer gives the positions (none:
    unanswerable)."""
    starts = [int(s[0]) if len(s) else None for s in frame[ANSWER_START]]
    texts = [str(t[0]) if len(t) else "" for t in frame["label"]]
    questions, contexts = frame["text_a"].tolist(), frame["text_b"].tolist()
    return make_windows(
        tokenizer, questions, contexts, max_length, doc_stride, answers=(starts, texts)
    )


def _encode_qa(frame: pd.DataFrame, tokenizer, max_length: int, doc_stride: int) -> list[dict]:
    windows = answer_windows(frame, tokenizer, max_length, doc_stride)
    return [
        {**windows.features(w), "start_positions": s, "end_positions": e}
        for w, (s, e) in enumerate(zip(windows.start_positions, windows.end_positions, strict=True))
    ]


def encode_frame(
    frame: pd.DataFrame,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    head: str,
    doc_stride: int = 16,
) -> list[dict]:
    """Token ids per row (no padding: batches are padded to their own longest row); for QA one
    training window per slice of a long context; for multiple choice one list per choice."""
    if head == "token":
        return _encode_tagged(frame, tokenizer, max_length)
    if head == "qa":
        return _encode_qa(frame, tokenizer, max_length, doc_stride)
    if head == "bi_encoder":
        return encode_sentence_pairs(frame, tokenizer, max_length)
    if head == "multiple_choice":
        return encode_choices(frame, tokenizer, max_length)
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
    head: str = "classification",
) -> DataLoader:
    """A DataLoader with dynamic padding (labels too, with -100, for token tasks) and a seeded
    shuffle."""
    multiple = pad_multiple(mixed_precision)
    if head == "token":
        collator = DataCollatorForTokenClassification(
            tokenizer, pad_to_multiple_of=multiple, label_pad_token_id=IGNORED_LABEL
        )
    elif head == "bi_encoder":
        collator = SentencePairCollator(tokenizer, pad_to_multiple_of=multiple)
    elif head == "multiple_choice":
        collator = ChoiceCollator(tokenizer, pad_to_multiple_of=multiple)
    else:
        collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=multiple)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        examples, batch_size=batch_size, shuffle=shuffle, collate_fn=collator, generator=generator
    )
