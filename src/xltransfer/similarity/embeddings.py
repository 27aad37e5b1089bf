"""Task embeddings of Vu et al. (2020) and Achille et al. (2019), and the cosine between them.

* TextEmb (`text_embedding`): the pretrained, frozen encoder's final-layer token states,
  mean-pooled over the non-padding tokens of each example and averaged over a sample of the
  task's training examples (or all of them; an extractive-QA task: every window of its
  contexts). It sees only the data, never a label. `centred_cosine_similarities` compares them
  after subtracting the grid's mean embedding: raw cosines of mean-pooled states sit near 1.
* Task2Vec (`task2vec_embedding`): the frozen pretrained encoder as probe network, a linear head
  fit on its standardised features and put back on it in torch, and the diagonal Fisher of the
  encoder layers' linear weights under that head, with labels drawn from the head's predictive
  distribution (or gold); one vector per encoder layer, each weight matrix averaged over its
  input dimension. Every task lands in the same coordinates and needs no training run.
* The head-input probe (`head_input_probe_embedding`), a cheap baseline: the squared gradient
  at the probe head's input, which for every one-weight-vector head is mean((p − y)²)·w⊙w,
  the squared probe weights times a scalar.
* Vu et al.'s TaskEmb on the checkpoint fine-tuned on each task is
  `xltransfer.similarity.task_fisher`.

Multiple-choice tasks are read as (context, question + choice) pairs, the unit a choice head
scores: TextEmb averages each example's pairs; the probes' head is a linear scorer with a softmax
over an example's choices (a convex conditional logit, the form of `AutoModelForMultipleChoice`'s
head, rather than an independent "is this the gold choice" classifier, which would ignore that
the choices compete).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.nn import functional

from xltransfer.kinds.base import IGNORED_LABEL, SENTENCES, ProbeExample, TaskKind, sentence_texts
from xltransfer.kinds.extractive_qa import answer_windows
from xltransfer.kinds.multiple_choice import choice_head_gradients, choice_pairs
from xltransfer.kinds.tagging import Tagging
from xltransfer.models.checkpoints import checked_checkpoint
from xltransfer.models.factory import load_tokenizer
from xltransfer.similarity.measures import pairwise_similarity
from xltransfer.similarity.task_fisher import sample_frame

# The token-classification kind's encoding and batching, for reading words' states.
TAGGING = Tagging()

EMBEDDING_COLUMNS = ["model", "task", "method", "component", "vector"]


def frozen_encoder(model_path: str, revision: str | None = None):
    """Tokenizer and encoder (no head) of a pretrained model or fine-tuned checkpoint, in eval
    mode; a checkpoint's task head is not loaded."""
    return _frozen_encoder(model_path, revision)


def _frozen_encoder(model_path: str, revision: str | None):
    from transformers import AutoModel

    tokenizer = load_tokenizer(model_path, revision)
    with checked_checkpoint(model_path):
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
    examples = SENTENCES.encode(sentence_texts(frame).assign(label=0.0), tokenizer, max_length)
    if layer is not None:
        depth = encoder.config.num_hidden_layers
        if not -(depth + 1) <= layer <= depth:
            raise ValueError(
                f"layer {layer} does not exist in an encoder of {depth} layers "
                f"(0 = embeddings, 1..{depth}, or -1..-{depth + 1} from the top)"
            )
    device = next(encoder.parameters()).device  # wherever the caller put the encoder
    pooled = []
    for batch in SENTENCES.loader(examples, tokenizer, batch_size, shuffle=False, seed=0):
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
    examples = TAGGING.encode(frame, tokenizer, max_length)
    features, tags = [], []
    for batch in TAGGING.loader(examples, tokenizer, batch_size, shuffle=False, seed=seed):
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
    loader = SENTENCES.loader(examples, tokenizer, batch_size, shuffle=False, seed=seed)
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
    n_examples: int | None = 1000,
    max_length: int = 128,
    batch_size: int = 64,
    seed: int = 0,
    qa_windows: bool = True,
    kind: TaskKind = SENTENCES,
) -> np.ndarray:
    """TextEmb of a task: mean over examples of the mean-pooled final-layer token states.

    `n_examples` None reads every example. With `qa_windows` an extractive-QA task (a frame
    with answer starts) is read as every (question, context) window its training encoding makes
    (`answer_windows`, windows overlapping by a quarter of `max_length`), each window one
    example, instead of one pair truncated at `max_length`: a long context is then seen whole."""
    sample = sample_frame(frame, n_examples, seed)
    states = FrozenStates(model_path, revision, max_length, batch_size)
    return kind.text_states(states, sample, windows=qa_windows).mean(0)


def window_states(
    model_path: str,
    frame: pd.DataFrame,
    *,
    revision: str | None = None,
    max_length: int = 128,
    batch_size: int = 64,
) -> np.ndarray:
    """Every (question, context) window of an extractive-QA frame's training encoding
    (windows overlapping by a quarter of `max_length`), mean-pooled, one row per window."""
    tokenizer, encoder = _frozen_encoder(model_path, revision)
    windows = answer_windows(frame, tokenizer, max_length, max(1, max_length // 4))
    examples = [windows.features(w) for w in range(len(windows.input_ids))]
    return _pool_encoded(tokenizer, encoder, examples, batch_size)


@torch.no_grad()
def _pool_encoded(tokenizer, encoder, examples: list[dict], batch_size: int) -> np.ndarray:
    """Final-layer states of already tokenized examples, mean-pooled over non-padding tokens."""
    device = next(encoder.parameters()).device
    pooled = []
    for batch in SENTENCES.loader(examples, tokenizer, batch_size, shuffle=False, seed=0):
        inputs = {key: value.to(device) for key, value in _encoder_inputs(batch).items()}
        mask = inputs["attention_mask"].unsqueeze(-1).float()
        states = encoder(**inputs).last_hidden_state
        pooled.append(((states * mask).sum(1) / mask.sum(1).clamp(min=1)).float().cpu())
    return torch.cat(pooled).double().numpy()


def head_input_gradients(features: np.ndarray, labels: np.ndarray, form: str) -> np.ndarray:
    """Per-example gradient of the loss at the input of a linear head fit on `features`.

    Classification: multinomial logistic regression, loss −log p(y|x), gradient (p − onehot(y))ᵀW.
    Regression: ridge, loss ½(ŷ − y)², gradient (ŷ − y)·w. Both heads are L2-regularised convex
    fits, so the head, and with it the embedding, depends on the data alone.
    """
    from sklearn.linear_model import LogisticRegression, Ridge

    if form == "ridge":
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


def head_input_probe_embedding(
    model_path: str,
    frame: pd.DataFrame,
    *,
    kind: TaskKind,
    revision: str | None = None,
    n_examples: int = 1000,
    max_length: int = 128,
    batch_size: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """A cheap baseline, not Task2Vec: the mean squared gradient of the gold-label loss at the
    input of a linear head fit (unstandardised) on frozen features (mean-pooled sentences; for
    token tasks every word's first sub-token, averaged over words; for extractive QA every
    context token of the windows that hold the answer, as "inside the answer or not"; for
    multiple choice every (context, choice) pair, under a linear scorer with a softmax over each
    example's choices, averaged over pairs).

    The gradient at the features x of a linear head is (p − y)ᵀW, so the result is
    mean((p − y)ᵀW)²: for every head with one weight vector w (binary classification, QA's
    inside/outside, regression's residual ŷ − y, the choice scorer) it is exactly
    mean((p − y)²)·w⊙w, a scalar times the squared probe weights, and its direction (all a
    cosine sees) is that of w⊙w alone; only a K-way head (K > 2) mixes its rows by the
    residuals. `task2vec_embedding` takes the Fisher of the encoder's weights instead."""
    form = _probe_form(kind)
    sample = sample_frame(frame, n_examples, seed)
    states = FrozenStates(model_path, revision, max_length, batch_size)
    features, labels = kind.head_input_features(states, sample)
    if form == "choice_softmax":
        return (choice_head_gradients(features, labels) ** 2).mean(0)
    if form == "softmax" and len(np.unique(labels)) < 2:
        raise ValueError("TaskEmb probe: the sample holds a single label; a head cannot be fit")
    return (head_input_gradients(features, labels, form) ** 2).mean(0)


@dataclass(frozen=True)
class FrozenStates:
    """Reads a frozen encoder's states in the unit each kind's probe head sees; a kind's
    `head_input_features` picks the reader."""

    model_path: str
    revision: str | None
    max_length: int
    batch_size: int

    def _options(self) -> dict:
        return {
            "revision": self.revision,
            "max_length": self.max_length,
            "batch_size": self.batch_size,
        }

    def sentences(self, frame: pd.DataFrame) -> np.ndarray:
        return pooled_states(self.model_path, frame, **self._options())

    def words(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return word_states(self.model_path, frame, **self._options())

    def answer_tokens(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return answer_span_states(self.model_path, frame, **self._options())

    def choices(self, frame: pd.DataFrame) -> np.ndarray:
        return choice_states(self.model_path, frame, **self._options())

    def windows(self, frame: pd.DataFrame) -> np.ndarray:
        return window_states(self.model_path, frame, **self._options())


def _probe_form(kind: TaskKind) -> str:
    if kind.probe_form is None:
        raise ValueError(f"TaskEmb probe: no probe head for {kind.name!r} tasks")
    return kind.probe_form


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


def centred_cosine_similarities(
    vectors: dict[str, np.ndarray], sources: list[str], targets: list[str], method: str
) -> pd.DataFrame:
    """Cosine similarity of every (source, target) pair after subtracting the mean of every
    task vector in `vectors` (the grid's tasks, sources and targets alike) from each.

    Mean-pooled states of one encoder share a large common direction (every token's state
    carries it), so raw TextEmb cosines all sit between 0.9 and 1.0 and their ranking is
    dominated by small differences along that shared offset; centring removes it, so the cosine
    compares how each task departs from the average task. With two tasks the centred vectors are
    opposite (cosine −1); a grid needs at least three for the value to say anything."""
    if not vectors:
        raise ValueError(f"{method}: no embeddings to centre")
    mean = np.mean([np.asarray(v, dtype=np.float64) for v in vectors.values()], axis=0)
    centred = {task: np.asarray(v, dtype=np.float64) - mean for task, v in vectors.items()}
    return cosine_similarities(centred, sources, targets, method)


# --- Task2Vec on the frozen probe network ------------------------------------------------------

LAYER_NAME = re.compile(r"(?:^|\.)(?:layer|block)\.(\d+)\.")


@dataclass
class ProbeHead:
    """A linear probe fit on standardised frozen features, as torch tensors: z = (h − mean) /
    scale, then logits z·Wᵀ + b (classification, a binary head as the logits (0, w·z + b)),
    the prediction z·w + b with Gaussian variance `variance` (regression), or choice scores
    z·w with a softmax over an example's choices (multiple choice, no bias)."""

    form: str  # softmax, ridge or choice_softmax (`xltransfer.kinds.base.PROBE_FORMS`)
    mean: torch.Tensor
    scale: torch.Tensor
    weight: torch.Tensor  # (classes, width); regression and choice (1, width)
    bias: torch.Tensor  # (classes,); regression (1,); choice zeros
    classes: np.ndarray | None = None  # classification: the label value of each logit
    variance: float = 1.0  # regression: mean squared residual of the fit

    def scores(self, states: torch.Tensor) -> torch.Tensor:
        """Logits (classification), predictions (regression, last axis dropped) or choice
        scores of `states` (..., width)."""
        z = (states - self.mean.to(states)) / self.scale.to(states)
        out = z @ self.weight.to(states).T + self.bias.to(states)
        return out if self.form == "softmax" else out[..., 0]

    def loss(self, states: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """−log p(target) averaged over the units of one example (up to a constant for
        regression: ½(ŷ − y)² / variance); a choice example's states are (choices, width)."""
        scores = self.scores(states)
        if self.form == "ridge":
            return (0.5 * (scores - target.to(scores)) ** 2 / self.variance).mean()
        if self.form == "choice_softmax":
            return functional.cross_entropy(scores[None], target.view(1))
        return functional.cross_entropy(scores, target)


def fit_probe_head(features: np.ndarray, labels: np.ndarray, form: str) -> ProbeHead:
    """The Task2Vec probe: features standardised (sklearn's StandardScaler: mean 0, variance 1
    per dimension, a constant one left unscaled), then logistic regression (classification),
    ridge (regression, alpha 1) or the conditional-logit choice scorer (`multiple_choice`:
    features (examples, choices, width), labels the gold index), each L2-regularised and
    convex, so the head depends on the data alone and not on the features' scale."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.preprocessing import StandardScaler

    from xltransfer.kinds.multiple_choice import fit_choice_head

    width = features.shape[-1]
    scaler = StandardScaler().fit(features.reshape(-1, width))
    z = scaler.transform(features.reshape(-1, width)).reshape(features.shape)
    mean, scale = torch.tensor(scaler.mean_), torch.tensor(scaler.scale_)
    if form == "choice_softmax":
        w = fit_choice_head(z, np.asarray(labels, dtype=np.int64))
        return ProbeHead(form, mean, scale, torch.tensor(w)[None], torch.zeros(1))
    if form == "ridge":
        fit = Ridge(alpha=1.0).fit(z, labels)
        variance = float(np.mean((fit.predict(z) - labels) ** 2))
        weight, bias = torch.tensor(fit.coef_)[None], torch.tensor([float(fit.intercept_)])
        return ProbeHead(form, mean, scale, weight, bias, variance=max(variance, 1e-12))
    if len(np.unique(labels)) < 2:
        raise ValueError("Task2Vec probe: the sample holds a single label; a head cannot be fit")
    fit = LogisticRegression(max_iter=5000).fit(z, labels)
    weight, bias = torch.tensor(fit.coef_), torch.tensor(fit.intercept_)
    if len(fit.classes_) == 2:  # sklearn's binary head: the logits (0, w·z + b)
        weight = torch.cat([torch.zeros_like(weight), weight])
        bias = torch.cat([torch.zeros_like(bias), bias])
    return ProbeHead(form, mean, scale, weight, bias, classes=fit.classes_)


def _unit_states(tokenizer, encoder, examples: list[ProbeExample]) -> list[torch.Tensor]:
    """Per example, the frozen-encoder states its probe head reads: mean-pooled final states
    (one row; multiple choice one per choice) or the final states at its positions."""
    device = next(encoder.parameters()).device
    choices = isinstance(examples[0].inputs["input_ids"][0], list)
    if choices:
        rows = [
            {key: values[i] for key, values in e.inputs.items()}
            for e in examples
            for i in range(len(e.inputs["input_ids"]))
        ]
    else:
        rows = [e.inputs for e in examples]
    batch = tokenizer.pad(rows, padding=True, return_tensors="pt")
    inputs = {key: value.to(device) for key, value in _encoder_inputs(batch).items()}
    states = encoder(**inputs).last_hidden_state
    if examples[0].positions is None:
        mask = inputs["attention_mask"].unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
        if choices:
            count = len(examples[0].inputs["input_ids"])
            return list(pooled.view(len(examples), count, -1))
        return list(pooled[:, None])
    length = inputs["attention_mask"].shape[1]
    out = []
    for row, example in enumerate(examples):
        shift = length - len(example.inputs["input_ids"]) if tokenizer.padding_side == "left" else 0
        out.append(states[row, [t + shift for t in example.positions]])
    return out


def _layer_weights(encoder: torch.nn.Module) -> dict[str, list[tuple[str, torch.nn.Parameter]]]:
    """Each encoder layer's linear weight matrices (attention projections and feed-forward, no
    biases, layer norms or embeddings), in module order, keyed layer00, layer01, ..."""
    layers: dict[str, list] = {}
    for name, module in encoder.named_modules():
        found = LAYER_NAME.search(name)
        if isinstance(module, torch.nn.Linear) and found:
            layers.setdefault(f"layer{int(found.group(1)):02d}", []).append((name, module.weight))
    if not layers:
        raise ValueError(f"{type(encoder).__name__}: no encoder layers with linear weights found")
    return dict(sorted(layers.items()))


def sample_probe_labels(
    probe: ProbeHead, states: list[torch.Tensor], generator: torch.Generator
) -> list[torch.Tensor]:
    """Labels drawn from the probe's predictive distribution, one per unit: a class (logit
    index) from softmax(logits), a choice from the softmax over the example's choices, or
    y ~ N(ŷ, variance) for regression."""
    labels = []
    with torch.no_grad():
        for unit in states:
            scores = probe.scores(unit.detach().double().cpu())
            if probe.form == "ridge":
                noise = torch.randn(scores.shape, generator=generator, dtype=torch.float64)
                labels.append(scores + noise * probe.variance**0.5)
            elif probe.form == "choice_softmax":
                labels.append(torch.multinomial(scores.softmax(-1), 1, generator=generator)[0])
            else:
                labels.append(torch.multinomial(scores.softmax(-1), 1, generator=generator)[:, 0])
    return labels


def task2vec_embedding(
    model_path: str,
    frame: pd.DataFrame,
    *,
    kind: TaskKind,
    revision: str | None = None,
    n_examples: int | None = 1000,
    max_length: int = 128,
    batch_size: int = 64,
    seed: int = 0,
    labels: str = "sampled",
) -> dict[str, np.ndarray]:
    """Task2Vec (Achille et al. 2019) on the frozen pretrained encoder as probe network.

    1. The frozen encoder reads a sample of `n_examples` training examples (None: all) and a
       linear head is fit on its standardised features (`fit_probe_head`): mean-pooled final
       states for sentence tasks (classification, regression), each word's first sub-token for
       token tasks, each context token of the windows holding the answer for extractive QA
       ("inside the answer or not"), each (context, question + choice) pair's pooled state with
       a softmax over the example's choices for multiple choice.
    2. That head is put back on the encoder in torch (standardisation, then the linear layer),
       and for each example the loss −log p(y|x) (averaged over its units: words, context
       tokens) is differentiated with respect to every linear weight matrix of every encoder
       layer, one example at a time. y is drawn from the probe's predictive distribution
       (`labels="sampled"`, a torch Generator seeded with `seed`; regression y ~ N(ŷ, mean
       squared residual), the true Fisher) or is the gold label (`labels="gold"`, the
       empirical Fisher).
    3. The diagonal Fisher is the per-example squared gradient averaged over examples. Each
       weight matrix (out, in) is reduced to one value per output unit, its mean over the input
       dimension (Task2Vec averages a convolution filter's Fisher over its weights), and a
       layer's component concatenates its matrices in module order (query, key, value,
       attention output, intermediate, output for XLM-R and BERT).

    Returns {"layer00": ..., "layer01": ...}; embeddings, biases and layer norms are left out.
    """
    if labels not in ("sampled", "gold"):
        raise ValueError(f"labels must be 'sampled' or 'gold', not {labels!r}")
    form = _probe_form(kind)
    sample = sample_frame(frame, n_examples, seed)
    tokenizer, encoder = _frozen_encoder(model_path, revision)
    examples = kind.probe_examples(sample, tokenizer, max_length)
    if not examples:
        raise ValueError("Task2Vec probe: no example has a unit to probe")
    with torch.no_grad():
        states = []
        for first in range(0, len(examples), batch_size):
            batch = examples[first : first + batch_size]
            states += [unit.cpu() for unit in _unit_states(tokenizer, encoder, batch)]
    if form == "choice_softmax":
        features = torch.stack(states).double().numpy()
        gold = np.array([e.gold[0] for e in examples])
    else:
        features = torch.cat(states).double().numpy()
        gold = np.concatenate([e.gold for e in examples])
    probe = fit_probe_head(features, gold, form)
    if labels == "sampled":
        targets = sample_probe_labels(probe, states, torch.Generator().manual_seed(seed))
    elif probe.form == "softmax":
        index = {value: i for i, value in enumerate(probe.classes)}
        targets = [torch.tensor([index[g] for g in e.gold]) for e in examples]
    elif probe.form == "choice_softmax":
        targets = [torch.tensor(e.gold[0]) for e in examples]
    else:
        targets = [torch.tensor(e.gold, dtype=torch.float64) for e in examples]
    layers = _layer_weights(encoder)
    weights = [weight for named in layers.values() for _, weight in named]
    for parameter in encoder.parameters():
        parameter.requires_grad_(False)
    for weight in weights:
        weight.requires_grad_(True)
    fisher = [torch.zeros_like(weight, dtype=torch.float64) for weight in weights]
    device = next(encoder.parameters()).device
    for example, target in zip(examples, targets, strict=True):
        (unit,) = _unit_states(tokenizer, encoder, [example])
        loss = probe.loss(unit, target.to(device))
        for total, gradient in zip(fisher, torch.autograd.grad(loss, weights), strict=True):
            total += gradient.double() ** 2
    reduced, at = {}, 0
    for layer, named in layers.items():
        parts = [(fisher[at + i] / len(examples)).mean(1) for i in range(len(named))]
        reduced[layer] = torch.cat(parts).cpu().numpy()
        at += len(named)
    return reduced
