"""Task embeddings of Vu et al. (2020) and the cosine similarity between them.

* TextEmb: the pretrained, frozen encoder's final-layer token states, mean-pooled over the
  non-padding tokens of each example and averaged over a sample of the task's training examples.
  It sees only the data, never a label.
* TaskEmb: the diagonal empirical Fisher information of a model fine-tuned on the task: squared
  gradients of the task loss with the gold labels, summed over a sample of training examples and
  divided by its size. The component is the representation the task head reads (the final-layer
  state of the first token, `<s>`/[CLS], for XLM-R and BERT-style classifiers): unlike weight
  Fisher it has the encoder's width whatever the label set, so tasks with different heads
  (3-way NLI, regression STS, binary sentiment) are comparable, and it costs one backward pass
  through the encoder's activations, not a vector the size of the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.nn import functional

from xltransfer.batches import encode_frame, make_loader
from xltransfer.models import load_tokenizer

EMBEDDING_COLUMNS = ["model", "task", "method", "vector"]


def _sample(frame: pd.DataFrame, n_examples: int, seed: int) -> pd.DataFrame:
    if frame.empty:
        raise ValueError("no examples to embed")
    return frame.sample(n=min(n_examples, len(frame)), random_state=seed).reset_index(drop=True)


@torch.no_grad()
def text_embedding(
    model_path: str,
    frame: pd.DataFrame,
    *,
    revision: str | None = None,
    n_examples: int = 1000,
    max_length: int = 128,
    batch_size: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """TextEmb of a task: mean over examples of the mean-pooled final-layer token states."""
    from transformers import AutoModel

    tokenizer = load_tokenizer(model_path, revision)
    encoder = AutoModel.from_pretrained(model_path, revision=revision).eval()
    examples = encode_frame(_sample(frame, n_examples, seed), tokenizer, max_length, "regression")
    total, count = None, 0
    for batch in make_loader(examples, tokenizer, batch_size, shuffle=False, seed=seed):
        mask = batch["attention_mask"].unsqueeze(-1).float()
        states = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        pooled = (states.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1)
        total = pooled.sum(0) if total is None else total + pooled.sum(0)
        count += len(pooled)
    return (total / count).double().numpy()


def _head_module(model: torch.nn.Module) -> torch.nn.Module:
    for name in ("classifier", "classification_head", "score"):
        if isinstance(getattr(model, name, None), torch.nn.Module):
            return getattr(model, name)
    raise ValueError(f"{type(model).__name__}: no task head (classifier) to take the Fisher at")


def task_embedding(
    checkpoint: str,
    frame: pd.DataFrame,
    *,
    n_examples: int = 1000,
    max_length: int = 128,
    batch_size: int = 32,
    seed: int = 0,
) -> np.ndarray:
    """TaskEmb of a task: diagonal Fisher at the task head's input, from gold-label losses."""
    from transformers import AutoModelForSequenceClassification

    tokenizer = load_tokenizer(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    regression = model.config.problem_type == "regression" or model.config.num_labels == 1
    head = "regression" if regression else "classification"
    examples = encode_frame(_sample(frame, n_examples, seed), tokenizer, max_length, head)
    captured: list[torch.Tensor] = []

    def keep_input(module, inputs):  # the representation the head reads, kept for its gradient
        inputs[0].retain_grad()
        captured.append(inputs[0])

    hook = _head_module(model).register_forward_pre_hook(keep_input)
    fisher, count = None, 0
    try:
        for batch in make_loader(examples, tokenizer, batch_size, shuffle=False, seed=seed):
            captured.clear()
            labels = batch.pop("labels")
            logits = model(**batch).logits
            # Summed, not averaged: each example's loss depends only on its own representation,
            # so the gradient of the sum holds every per-example gradient.
            if regression:
                loss = functional.mse_loss(logits.squeeze(-1), labels.float(), reduction="sum")
            else:
                loss = functional.cross_entropy(logits, labels, reduction="sum")
            model.zero_grad(set_to_none=True)
            loss.backward()
            grad = captured[0].grad
            first_token = grad[:, 0] if grad.dim() == 3 else grad
            squared = first_token.detach().double().pow(2).sum(0)
            fisher = squared if fisher is None else fisher + squared
            count += len(labels)
    finally:
        hook.remove()
    return (fisher / count).numpy()


def cosine_similarities(
    vectors: dict[str, np.ndarray], sources: list[str], targets: list[str], method: str
) -> pd.DataFrame:
    """Cosine similarity of every (source, target) pair of task vectors."""
    missing = sorted({*sources, *targets} - set(vectors))
    if missing:
        raise ValueError(f"{method}: no embedding for tasks {missing}")
    rows = []
    for source in sources:
        a = vectors[source]
        for target in targets:
            b = vectors[target]
            norm = np.linalg.norm(a) * np.linalg.norm(b)
            if norm == 0:
                raise ValueError(f"{method}: zero embedding for {source!r} or {target!r}")
            rows.append([source, target, method, float(a @ b / norm)])
    return pd.DataFrame(rows, columns=["source", "target", "method", "value"])
