"""Sentence-pair regression as a Siamese bi-encoder (Sentence-BERT; Choi et al. 2021 compare it
with the cross-encoder on STS): each sentence encoded on its own, the cosine of the two mean-pooled
embeddings regressed on the gold score rescaled to [0, 1]; Pearson and Spearman, and after
cross-lingual projection alignment too. The model is `xltransfer.models.bi_encoder.BiEncoder`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from xltransfer.kinds.regression import Regression

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

SECOND = "_b"  # suffix of the second sentence's input fields in a batch


def rescaled_scores(labels: pd.Series) -> torch.Tensor:
    """Gold scores mapped linearly onto [0, 1], cosine's useful range (STS-B's 0-5 → score / 5)
    from the split's own range; Pearson and Spearman, the metrics, do not see the scale."""
    import torch

    values = torch.tensor(labels.to_numpy(), dtype=torch.float)
    low, high = values.min(), values.max()
    return (values - low) / (high - low) if high > low else torch.zeros_like(values)


def encode_sentence_pairs(
    frame: pd.DataFrame, tokenizer: PreTrainedTokenizerBase, max_length: int
) -> list[dict]:
    """Each sentence of a pair tokenised on its own (no padding), with the rescaled score."""
    first = tokenizer(frame["text_a"].tolist(), truncation=True, max_length=max_length)
    second = tokenizer(frame["text_b"].tolist(), truncation=True, max_length=max_length)
    labels = rescaled_scores(frame["label"])
    return [
        {
            "input_ids": first["input_ids"][i],
            "attention_mask": first["attention_mask"][i],
            f"input_ids{SECOND}": second["input_ids"][i],
            f"attention_mask{SECOND}": second["attention_mask"][i],
            "labels": labels[i],
        }
        for i in range(len(frame))
    ]


@dataclass
class SentencePairCollator:
    """Pads each side of a batch of sentence pairs to its own longest sentence."""

    tokenizer: PreTrainedTokenizerBase
    pad_to_multiple_of: int | None = None

    def _pad(self, features: list[dict], suffix: str) -> dict[str, torch.Tensor]:
        side = [
            {"input_ids": f[f"input_ids{suffix}"], "attention_mask": f[f"attention_mask{suffix}"]}
            for f in features
        ]
        padded = self.tokenizer.pad(
            side, pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="pt"
        )
        return {f"{key}{suffix}": value for key, value in padded.items()}

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        import torch

        batch = {**self._pad(features, ""), **self._pad(features, SECOND)}
        batch["labels"] = torch.stack([torch.as_tensor(f["labels"]) for f in features])
        return batch


class BiEncoderSTS(Regression):
    name = "bi_encoder"
    model_class_name = "BiEncoder"
    # No head: the cosine means the same for every STS task.
    label_free_head = True
    architecture_suffix = None
    # No task head for the fine-tuned TaskEmb's Fisher to be taken at.
    has_fisher_head = False
    # Its sentence embeddings can be aligned across languages before scoring.
    aligns_embeddings = True

    def encode(self, frame: pd.DataFrame, tokenizer, max_length: int, doc_stride: int = 16):
        return encode_sentence_pairs(frame, tokenizer, max_length)

    def collator(self, tokenizer, pad_to_multiple_of: int | None):
        return SentencePairCollator(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def same_label_space(self, config, labels) -> bool:
        return True  # Regression's check reads a head's problem type; a cosine has none
