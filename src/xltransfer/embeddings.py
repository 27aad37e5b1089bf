"""Task embeddings of Vu et al. (2020) and the cosine similarity between them.

* TextEmb: the pretrained, frozen encoder's final-layer token states, mean-pooled over the
  non-padding tokens of each example and averaged over a sample of the task's training examples.
  It sees only the data, never a label.
* TaskEmb: the diagonal empirical Fisher information of a model trained on the task: squared
  gradients of the task loss with the gold labels, summed over a sample of training examples and
  divided by its size. The component is the representation the task head reads: unlike weight
  Fisher it has the encoder's width whatever the label set, so tasks with different heads
  (3-way NLI, regression STS, binary sentiment) are comparable. Two models give it:
  - `probe` (default): the frozen pretrained encoder (the TextEmb features) with a linear head fit
    to convergence on the task (logistic or ridge regression), Task2Vec's probe network (Achille
    et al. 2019). Every task is embedded in the same coordinates, and a convex fit makes the head
    a function of the data alone; the gradient at the features is exact and closed-form.
  - `fine_tuned`: Vu et al.'s checkpoint fine-tuned on the task, at the input of its head:
    for sentence tasks the first token's final state (XLM-R), the pooler's output on [CLS]
    (BERT), or the decoder's final state at the last </s> (mT5, whose installed
    MT5ForSequenceClassification is encoder-decoder); for token tasks each word's first
    sub-token (mT5: encoder states); for QA every real token (mT5: decoder states). Separately
    fine-tuned encoders and randomly initialised heads put each task in its own coordinates: on
    the demo it found the near-copy source for 1 target of 3, the probe for all 3.

Multiple-choice tasks are read as (context, question + choice) pairs, the unit a choice head
scores: TextEmb averages each example's pairs; the probe is a linear scorer with a softmax over an
example's choices (a convex conditional logit, the form of `AutoModelForMultipleChoice`'s head,
rather than an independent "is this the gold choice" classifier, which would ignore that the
choices compete); the fine-tuned TaskEmb takes the Fisher at the pooled state of every pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.nn import functional

from xltransfer.batches import answer_windows, encode_frame, make_loader, sentence_texts
from xltransfer.data import CHOICES
from xltransfer.models import checkpoint_head_class, load_tokenizer
from xltransfer.multiple_choice import choice_head_gradients, choice_pairs
from xltransfer.similarity import pairwise_similarity
from xltransfer.token_labels import IGNORED_LABEL

EMBEDDING_COLUMNS = ["model", "task", "method", "vector"]


def _sample(frame: pd.DataFrame, n_examples: int, seed: int) -> pd.DataFrame:
    if frame.empty:
        raise ValueError("no examples to embed")
    return frame.sample(n=min(n_examples, len(frame)), random_state=seed).reset_index(drop=True)


def frozen_encoder(model_path: str, revision: str | None = None):
    """Tokenizer and encoder (no head) of a pretrained model or fine-tuned checkpoint, in eval
    mode; a checkpoint's task head is not loaded."""
    return _frozen_encoder(model_path, revision)


def _frozen_encoder(model_path: str, revision: str | None):
    from transformers import AutoModel

    tokenizer = load_tokenizer(model_path, revision)
    model = AutoModel.from_pretrained(model_path, revision=revision).eval()
    # mT5's AutoModel is an encoder-decoder; TextEmb and the probe read its encoder alone.
    return tokenizer, model.get_encoder() if model.config.is_encoder_decoder else model


def _encoder_inputs(batch: dict) -> dict:
    """What an encoder takes from a batch (BERT's token type ids too), without the labels."""
    return {
        k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")
    }


@torch.no_grad()
def pooled_states(
    model_path: str,
    frame: pd.DataFrame,
    *,
    revision: str | None = None,
    max_length: int = 128,
    batch_size: int = 64,
    seed: int = 0,
    layer: int | None = None,
) -> np.ndarray:
    """Each example's final-layer (or `layer`'s) token states of the frozen encoder, mean-pooled
    over tokens (a multiple-choice example: each (context, question + choice) pair pooled, then
    averaged over its choices, so no label is read)."""
    if CHOICES in frame:
        options = {"revision": revision, "max_length": max_length, "batch_size": batch_size}
        states = choice_states(model_path, frame, **options, seed=seed)
        return states.mean(1)
    tokenizer, encoder = _frozen_encoder(model_path, revision)
    return pool_states(
        tokenizer, encoder, frame, max_length=max_length, batch_size=batch_size, layer=layer
    )


@torch.no_grad()
def pool_states(
    tokenizer,
    encoder: torch.nn.Module,
    frame: pd.DataFrame,
    *,
    max_length: int = 128,
    batch_size: int = 64,
    layer: int | None = None,
) -> np.ndarray:
    """`pooled_states` with an encoder already loaded, so one load serves many frames.

    `layer` indexes the hidden states as transformers returns them (0 the embedding output,
    i layer i, -1 the last); None reads the final layer without keeping the others."""
    # Text only: a token task's words become one string, and the labels are not read.
    examples = encode_frame(
        sentence_texts(frame).assign(label=0.0), tokenizer, max_length, "regression"
    )
    if layer is not None:
        depth = encoder.config.num_hidden_layers
        if not -(depth + 1) <= layer <= depth:
            raise ValueError(
                f"layer {layer} does not exist in an encoder of {depth} layers "
                f"(0 = embeddings, 1..{depth}, or -1..-{depth + 1} from the top)"
            )
    device = next(encoder.parameters()).device  # wherever the caller put the encoder
    pooled = []
    for batch in make_loader(examples, tokenizer, batch_size, shuffle=False, seed=0):
        inputs = {key: value.to(device) for key, value in _encoder_inputs(batch).items()}
        mask = inputs["attention_mask"].unsqueeze(-1).float()
        out = encoder(**inputs, output_hidden_states=layer is not None)
        states = out.last_hidden_state if layer is None else out.hidden_states[layer]
        pooled.append(((states * mask).sum(1) / mask.sum(1).clamp(min=1)).float().cpu())
    return torch.cat(pooled).double().numpy()


def choice_states(
    model_path: str,
    frame: pd.DataFrame,
    *,
    revision: str | None = None,
    max_length: int = 128,
    batch_size: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """A multiple-choice task's (context, question + choice) pairs as frozen mean-pooled states,
    shape (examples, choices, width): what a choice head scores, one pair at a time."""
    pairs = choice_pairs(frame)
    states = pooled_states(
        model_path,
        pairs,
        revision=revision,
        max_length=max_length,
        batch_size=batch_size,
        seed=seed,
    )
    return states.reshape(len(frame), -1, states.shape[-1])


@torch.no_grad()
def word_states(
    model_path: str,
    frame: pd.DataFrame,
    *,
    revision: str | None = None,
    max_length: int = 128,
    batch_size: int = 64,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A token task's words as the frozen encoder's final state of their first sub-token, with
    their tag ids: what a token-classification head reads."""
    tokenizer, encoder = _frozen_encoder(model_path, revision)
    examples = encode_frame(frame, tokenizer, max_length, "token")
    features, tags = [], []
    for batch in make_loader(
        examples, tokenizer, batch_size, shuffle=False, seed=seed, head="token"
    ):
        states = encoder(**_encoder_inputs(batch))
        scored = batch["labels"] != IGNORED_LABEL
        features.append(states.last_hidden_state[scored])
        tags.append(batch["labels"][scored])
    return torch.cat(features).double().numpy(), torch.cat(tags).numpy()


@torch.no_grad()
def answer_span_states(
    model_path: str,
    frame: pd.DataFrame,
    *,
    revision: str | None = None,
    max_length: int = 128,
    batch_size: int = 64,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """An extractive-QA task's context tokens as the frozen encoder's final states, labelled 1
    inside the gold answer span: what a span head reads, from the windows holding the answer
    (windows overlap by a quarter of `max_length`)."""
    tokenizer, encoder = _frozen_encoder(model_path, revision)
    windows = answer_windows(frame, tokenizer, max_length, max(1, max_length // 4))
    # Only windows that wholly hold the answer (start 0 is the null slot: the answer is elsewhere).
    held = [w for w, start in enumerate(windows.start_positions) if start > 0]
    if not held:
        raise ValueError("TaskEmb probe: no window holds a gold answer")
    examples = [windows.features(w) for w in held]
    features, inside = [], []
    loader = make_loader(examples, tokenizer, batch_size, shuffle=False, seed=seed)
    for first, batch in zip(range(0, len(held), batch_size), loader, strict=True):
        states = encoder(**_encoder_inputs(batch)).last_hidden_state
        for row, w in enumerate(held[first : first + batch_size]):
            start, end = windows.start_positions[w], windows.end_positions[w]
            context = [t for t, span in enumerate(windows.offsets[w]) if span is not None]
            features.append(states[row, context])
            inside.append(torch.tensor([int(start <= t <= end) for t in context]))
    return torch.cat(features).double().numpy(), torch.cat(inside).numpy()


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
    sample = _sample(frame, n_examples, seed)
    features = pooled_states(
        model_path, sample, revision=revision, max_length=max_length, batch_size=batch_size
    )
    return features.mean(0)


def head_input_gradients(features: np.ndarray, labels: np.ndarray, head: str) -> np.ndarray:
    """Per-example gradient of the loss at the input of a linear head fit on `features`.

    Classification: multinomial logistic regression, loss −log p(y|x), gradient (p − onehot(y))ᵀW.
    Regression: ridge, loss ½(ŷ − y)², gradient (ŷ − y)·w. Both heads are L2-regularised convex
    fits, so the head, and with it the embedding, depends on the data alone.
    """
    from sklearn.linear_model import LogisticRegression, Ridge

    if head == "regression":
        fit = Ridge(alpha=1.0).fit(features, labels)
        return (fit.predict(features) - labels)[:, None] * fit.coef_[None, :]
    fit = LogisticRegression(max_iter=5000).fit(features, labels)
    probabilities = fit.predict_proba(features)
    onehot = (labels[:, None] == fit.classes_[None, :]).astype(float)
    # Two classes: sklearn keeps one weight row w for class 1, i.e. the logits (0, w·x).
    weights = (
        fit.coef_
        if len(fit.classes_) > 2
        else np.vstack([np.zeros_like(fit.coef_[0]), fit.coef_[0]])
    )
    return (probabilities - onehot) @ weights


def probe_task_embedding(
    model_path: str,
    frame: pd.DataFrame,
    *,
    head: str,
    revision: str | None = None,
    n_examples: int = 1000,
    max_length: int = 128,
    batch_size: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """TaskEmb on the probe network: Fisher at the input of a linear head on frozen features
    (mean-pooled sentences; for token tasks every word's first sub-token, averaged over words;
    for extractive QA every context token of the windows that hold the answer; for multiple
    choice every (context, choice) pair, under a linear scorer with a softmax over each
    example's choices, the form of the fine-tuned choice head, averaged over pairs)."""
    sample = _sample(frame, n_examples, seed)
    options = {"revision": revision, "max_length": max_length, "batch_size": batch_size}
    if head == "multiple_choice":
        features = choice_states(model_path, sample, **options)
        gradients = choice_head_gradients(features, sample["label"].to_numpy())
        return (gradients**2).mean(0)
    if head == "token":
        features, labels = word_states(model_path, sample, **options)
        head = "classification"
    elif head == "qa":
        # A span head scores every context token: probe it as "inside the answer or not".
        features, labels = answer_span_states(model_path, sample, **options)
        head = "classification"
    else:
        features, labels = pooled_states(model_path, sample, **options), sample["label"].to_numpy()
    if head == "classification" and len(np.unique(labels)) < 2:
        raise ValueError("TaskEmb probe: the sample holds a single label; a head cannot be fit")
    return (head_input_gradients(features, labels, head) ** 2).mean(0)


def _head_module(model: torch.nn.Module) -> torch.nn.Module:
    for name in ("classifier", "classification_head", "score", "qa_outputs"):
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
    """TaskEmb of a task: diagonal Fisher at the task head's input, from gold-label losses
    (the first token's state for sentence heads, every scored word's for token heads, every
    real token's for span heads, every choice's pooled state for choice heads)."""
    tokenizer = load_tokenizer(checkpoint)
    model_class = checkpoint_head_class(checkpoint)
    model = model_class.from_pretrained(checkpoint).eval()
    regression = model.config.problem_type == "regression" or model.config.num_labels == 1
    tagger = model_class.__name__.endswith("ForTokenClassification")
    reader = model_class.__name__.endswith("ForQuestionAnswering")
    chooser = model_class.__name__.endswith("ForMultipleChoice")
    head = (
        "multiple_choice"
        if chooser
        else "qa"
        if reader
        else "token"
        if tagger
        else "regression"
        if regression
        else "classification"
    )
    sample = _sample(frame, n_examples, seed)
    examples = encode_frame(sample, tokenizer, max_length, head, max(1, max_length // 4))
    captured: list[torch.Tensor] = []

    def keep_input(module, inputs):  # the representation the head reads, kept for its gradient
        inputs[0].retain_grad()
        captured.append(inputs[0])

    hook = _head_module(model).register_forward_pre_hook(keep_input)
    fisher, count = None, 0
    try:
        loader = make_loader(examples, tokenizer, batch_size, shuffle=False, seed=seed, head=head)
        for batch in loader:
            captured.clear()
            if reader:
                positions = batch.pop("start_positions"), batch.pop("end_positions")
                out = model(**batch)
                loss = functional.cross_entropy(
                    out.start_logits, positions[0], reduction="sum"
                ) + functional.cross_entropy(out.end_logits, positions[1], reduction="sum")
                model.zero_grad(set_to_none=True)
                loss.backward()
                read = captured[0].grad[batch["attention_mask"].bool()]  # every real token
                squared = read.detach().double().pow(2).sum(0)
                fisher = squared if fisher is None else fisher + squared
                count += len(read)
                continue
            labels = batch.pop("labels")
            logits = model(**batch).logits
            # Summed, not averaged: each example's loss depends only on its own representation,
            # so the gradient of the sum holds every per-example gradient.
            if tagger:
                loss = functional.cross_entropy(
                    logits.flatten(0, 1),
                    labels.flatten(),
                    ignore_index=IGNORED_LABEL,
                    reduction="sum",
                )
            elif regression and not chooser:
                loss = functional.mse_loss(logits.squeeze(-1), labels.float(), reduction="sum")
            else:
                loss = functional.cross_entropy(logits, labels, reduction="sum")
            model.zero_grad(set_to_none=True)
            loss.backward()
            grad = captured[0].grad
            if tagger:
                read = grad[labels != IGNORED_LABEL]  # each word's first sub-token
            else:
                # A choice head reads (examples x choices, width) pooled states: every row.
                read = grad[:, 0] if grad.dim() == 3 else grad
            squared = read.detach().double().pow(2).sum(0)
            fisher = squared if fisher is None else fisher + squared
            count += len(read)
    finally:
        hook.remove()
    return (fisher / count).numpy()


def cosine_similarities(
    vectors: dict[str, np.ndarray], sources: list[str], targets: list[str], method: str
) -> pd.DataFrame:
    """Cosine similarity of every (source, target) pair of task vectors."""

    def cosine(a: np.ndarray, b: np.ndarray) -> float:
        norm = np.linalg.norm(a) * np.linalg.norm(b)
        if norm == 0:
            raise ValueError(f"{method}: a zero embedding has no direction")
        return float(a @ b / norm)

    return pairwise_similarity(vectors, sources, targets, method, cosine, what="embedding")
