"""A model's parameter count from its `config.json`, without its weights: the model is built on
torch's meta device, which allocates nothing."""

from __future__ import annotations

from pathlib import Path


def count_parameters(folder: Path) -> tuple[int, int]:
    """(all parameters, those a token passes through: all but the input embeddings) of the
    model `folder/config.json` describes, as `AutoModel` builds it (no task head)."""
    import torch
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(folder)
    with torch.device("meta"):
        model = AutoModel.from_config(config)
    total = sum(p.numel() for p in model.parameters())
    embeddings = model.get_input_embeddings()
    embedded = sum(p.numel() for p in embeddings.parameters()) if embeddings is not None else 0
    return total, total - embedded
