"""Encoder carry-over between models of different head kinds, by parameter name.

A source checkpoint passes on its encoder to a target model whose head differs (NER before XNLI).
What counts as the encoder is the same for every family: the token embeddings (`shared` in
T5, `embeddings` in XLM-R/BERT) and the encoder stack (`encoder`), named relative to the base
model. Everything else keeps the pretrained (or freshly initialised) values of the target:
heads, BERT's pooler (the dense layer its sentence head reads; the token and QA models have
none) and mT5's decoder. mT5 needs names rather than modules: its token tagger holds a bare
encoder (`transformer` = MT5EncoderModel), its sentence classifier an encoder-decoder
(`transformer` = MT5Model) and its QA model the stacks at the top level (no `transformer`).
T5 ties the decoder's token embedding to `shared`, so an mT5 decoder reads the carried
embedding; its layers stay pretrained.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel

ENCODER_PARTS = ("shared", "embeddings", "encoder")


def _short(model: PreTrainedModel, name: str) -> str:
    prefix = model.base_model_prefix + "."
    return name[len(prefix) :] if name.startswith(prefix) else name


def encoder_state(model: PreTrainedModel) -> dict[str, torch.Tensor]:
    """The encoder's tensors (embeddings and stack) keyed by their name inside the base model."""
    return {
        _short(model, name): tensor
        for name, tensor in model.state_dict().items()
        if _short(model, name).split(".")[0] in ENCODER_PARTS
    }


def carry_encoder(model: PreTrainedModel, source: PreTrainedModel) -> list[str]:
    """Copy the source's encoder into `model` in place; returns the names copied.

    Refuses encoders that differ in any name or shape (another family or size).
    """
    target, carried = encoder_state(model), encoder_state(source)
    if set(target) != set(carried):
        only_target = sorted(set(target) - set(carried))[:3]
        only_source = sorted(set(carried) - set(target))[:3]
        raise ValueError(
            f"encoders differ: {type(model).__name__} has {only_target}, "
            f"{type(source).__name__} has {only_source}"
        )
    for name, tensor in carried.items():
        if target[name].shape != tensor.shape:
            raise ValueError(
                f"encoder tensor {name}: {tuple(tensor.shape)} in the source, "
                f"{tuple(target[name].shape)} in the target"
            )
    with torch.no_grad():
        for name, tensor in carried.items():
            target[name].copy_(tensor)  # state_dict tensors share the parameters' storage
    return sorted(carried)
