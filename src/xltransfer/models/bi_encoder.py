"""The Siamese bi-encoder for STS (Reimers & Gurevych 2019, Sentence-BERT), as Choi et al. (2021)
compare it with the cross-encoder.

One shared encoder embeds each sentence on its own, mean-pooled over its non-padding tokens; the
prediction is the cosine of the two embeddings, regressed (mean squared error) on the gold score
rescaled to [0, 1]. A cross-encoder reads both sentences together, so its zero-shot score mixes
what transfers in each sentence with what transfers in their interaction; the bi-encoder's
sentence embeddings can also be aligned across languages before scoring (see `alignment.py`).

A checkpoint is the encoder's own `save_pretrained` folder plus `bi_encoder.json`, which marks
it as Siamese, so any encoder-only Auto class can read its weights as a source for other tasks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional
from transformers import AutoModelForTextEncoding
from transformers.modeling_outputs import SequenceClassifierOutput

MARKER_FILE = "bi_encoder.json"


def is_bi_encoder(checkpoint: str | Path) -> bool:
    """True for a folder written by `BiEncoder.save_pretrained`."""
    return (Path(checkpoint) / MARKER_FILE).is_file()


def mean_pool(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Each sequence's token states averaged over its non-padding tokens."""
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(1) / mask.sum(1).clamp(min=1)


class BiEncoder(torch.nn.Module):
    """A shared encoder scoring a sentence pair by the cosine of their mean-pooled states."""

    # Parameter names start with the encoder's, as transformers models' do with their base model
    # (carry_over.py matches encoders by the names below it).
    base_model_prefix = "encoder"

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        # The pooler (first-token dense layer) is unused here; left in, its parameters would get
        # no gradient, which DistributedDataParallel refuses.
        if getattr(encoder, "pooler", None) is not None:
            encoder.pooler = None
        self.encoder = encoder
        self.config = encoder.config

    @property
    def base_model(self) -> torch.nn.Module:
        """The encoder, under the name every transformers model gives it."""
        return self.encoder

    @classmethod
    def from_pretrained(cls, path: str | Path, revision: str | None = None, **_) -> BiEncoder:
        """A bi-encoder around a pretrained encoder or a saved bi-encoder checkpoint (for mT5 its
        encoder stack alone: the text-encoding Auto class)."""
        return cls(AutoModelForTextEncoding.from_pretrained(str(path), revision=revision))

    def save_pretrained(self, path: str | Path, **kwargs) -> None:
        """The encoder's own files (safetensors) plus the Siamese marker."""
        self.encoder.save_pretrained(path, **kwargs)
        marker = {"pooling": "mean", "similarity": "cosine"}
        (Path(path) / MARKER_FILE).write_text(json.dumps(marker, indent=2))

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled final-layer states of one batch of sentences."""
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        return mean_pool(states.last_hidden_state, attention_mask)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        input_ids_b: torch.Tensor,
        attention_mask_b: torch.Tensor,
        labels: torch.Tensor | None = None,
    ) -> SequenceClassifierOutput:
        cosine = functional.cosine_similarity(
            self.embed(input_ids, attention_mask), self.embed(input_ids_b, attention_mask_b)
        )
        loss = None if labels is None else functional.mse_loss(cosine, labels.to(cosine.dtype))
        return SequenceClassifierOutput(loss=loss, logits=cosine.unsqueeze(-1))


@torch.no_grad()
def sentence_embeddings(
    model: BiEncoder, tokenizer, texts: list[str], *, max_length: int, batch_size: int
) -> np.ndarray:
    """The bi-encoder's mean-pooled embedding of each sentence, in order."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(
            texts[start : start + batch_size],
            truncation=True,
            max_length=max_length,
            padding=True,
            return_tensors="pt",
        ).to(device)
        out.append(model.embed(batch["input_ids"], batch["attention_mask"]).float().cpu())
    return torch.cat(out).double().numpy()
