"""TaskEmb as Vu et al. (2020) compute it: the diagonal Fisher of a checkpoint fine-tuned on the
task, taken at its activations, one named component per module output.

The reference (github.com/tuvuumass/task-transferability, `run_taskemb_CR.py`: `compute_Fisher`,
`compute_Fisher_with_labels`, `compute_Fisher_no_labels`, `compute_taskemb`; activations kept by
`transformers/modeling_task_embeddings.py`: `BertSelfAttention.multihead_output`,
`BertOutput.layer_output`, `BertPooler.cls_output`) backpropagates the batch-mean task loss and,
per batch, for every encoder layer's attention context (the heads' concatenated output, before the
output projection) and layer output sums the gradient over the batch and its non-padding tokens,
squares the sum and divides by the batch's token count; the pooler's output likewise (summed over
the batch, divided by the tokens). Batches are summed and divided by the number of examples. It
also squares each parameter's gradient per batch (one vector per weight matrix, not divided by
tokens): here components `param.<name>` for the parameters a list of glob patterns names
(`taskemb_parameters`; none by default: XLM-R's embedding matrix alone is 192M values).

Components here, each its own vector of the encoder's width:
* `layerNN.attention`: gradient at the input of layer NN's attention output projection (BERT and
  XLM-R `attention.output.dense`, T5 `SelfAttention.o`), the reference's `multihead_output`;
* `layerNN.output`: gradient at layer NN's output (the reference's `layer_output`);
* `pooled`: gradient at what the task head reads: BERT's pooler output (the reference's
  `cls_output`), mT5's decoder state at the last `</s>` (sequence heads) or its final-norm
  encoder or decoder states (token, span heads); absent where the head reads the last layer's
  output tensor itself (XLM-R's sentence head, BERT's and XLM-R's token and span heads), which
  `layerNN.output` already holds;
* `head`: gradient at the input of the head's output projection, where the head is more than one
  linear layer (XLM-R's and mT5's classification heads: the dense + tanh output on the first
  token, the analogue of BERT's pooler and so of the reference's `cls_output`); absent where the
  head is one linear layer (its input is `pooled`).

Token-level gradients are masked by the attention mask and summed over tokens: squared first
under `per_example`, squared after under `batch` (the reference's `einsum("ijk,ij->ijk")`, then
`.sum(0).sum(0)`, then `** 2`). For mT5 (encoder-decoder) the layers are the
encoder's blocks; the head of a sequence or span checkpoint reads the decoder, so `pooled` and
`head` carry the decoder's gradient and the layer components the encoder's.

Estimators: `batch` (the default) is the reference's, (Σ_batch Σ_tokens ∇L_batch)² / tokens
per batch, summed over batches and divided by the number of examples, with L_batch the
batch-mean loss as transformers reduces it. One pass in file order: the reference's script
defaults to 3 shuffled epochs (`--num_epochs 3.0`, each batch's Fisher added), its README runs
one (`--num_epochs 1`); with the model frozen an epoch more is the same examples in another
batching, which averages over batchings rather than adding information.
`per_example` is the exact empirical diagonal Fisher of the activation at every real token:
mean over examples of Σ_tokens (∇ℓ_n)², ℓ_n the example's own loss (a choice example: over its
choices' tokens too). It needs no extra passes: in eval mode an example's loss depends only on
its own activations, so the gradient of the summed loss holds each example's gradient in its own
rows. The reference's sum before the square mixes the examples of a batch, and cancels where a
softmax over tokens or choices is read through a linear layer (Σ_t (p_t − y_t) = 0): under
`batch` a span head's last-layer gradient and a choice head's pooled gradient sum to zero (up
to padding), as in the reference; `per_example` keeps them.

Labels: `gold` (the reference's default, `--use_labels True`), or `sampled` from the model's
predictive distribution with a torch Generator seeded by `seed`: `label_draws` draws per example
(the reference's `--num_trials_for_FIM`, 100), whose losses are averaged inside the gradient
before it is squared, as the reference averages its draws' log-likelihoods (which drives the
gradient towards its zero expectation). A draw is a class from the softmax; per scored word for
token heads; start and end independently over the real tokens for span heads; a choice for
choice heads; for regression the prediction plus unit Gaussian noise (a single noise scale σ
multiplies every component by σ², which no cosine sees; the reference's σ = 0.25 with rejection
outside STS-B's [0, 5] is not reproduced).
"""

from __future__ import annotations

import fnmatch

import numpy as np
import pandas as pd
import torch

from xltransfer.kinds import checkpoint_kind
from xltransfer.models.checkpoints import checked_checkpoint
from xltransfer.models.factory import checkpoint_head_class, load_tokenizer

LABELS = ("gold", "sampled")
ESTIMATORS = ("batch", "per_example")
# run_taskemb_CR.py's --num_trials_for_FIM: labels drawn per example when they are sampled.
REFERENCE_LABEL_DRAWS = 100
HEAD_NAMES = ("classifier", "classification_head", "score", "qa_outputs")
# Per layer, the attention output projection whose input is the heads' concatenated context.
ATTENTION_PROJECTIONS = ("attention.output.dense", "layer.0.SelfAttention.o")
LAYER_LISTS = (("encoder", "layer"), ("encoder", "block"))


def sample_frame(frame: pd.DataFrame, n_examples: int | None, seed: int) -> pd.DataFrame:
    """`n_examples` rows drawn with `seed` (None: every row, in order)."""
    if frame.empty:
        raise ValueError("no examples to embed")
    if n_examples is None:
        return frame.reset_index(drop=True)
    return frame.sample(n=min(n_examples, len(frame)), random_state=seed).reset_index(drop=True)


def head_module(model: torch.nn.Module) -> torch.nn.Module:
    for name in HEAD_NAMES:
        if isinstance(getattr(model, name, None), torch.nn.Module):
            return getattr(model, name)
    raise ValueError(
        f"{type(model).__name__}: no task head (one of {', '.join(HEAD_NAMES)}) to take the "
        "Fisher at"
    )


def _output_projection(head: torch.nn.Module) -> torch.nn.Linear | None:
    """The head's last linear layer when the head is more than that layer, else None."""
    if isinstance(head, torch.nn.Linear):
        return None
    linears = [m for m in head.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ValueError(f"{type(head).__name__}: a task head without a linear layer")
    return linears[-1]


def encoder_layers(model: torch.nn.Module) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
    """Per encoder layer, (the layer, its attention output projection), found by module name:
    `…encoder.layer.N` (BERT, XLM-R) or `…encoder.block.N` (T5, mT5: the encoder's blocks)."""
    stacks = [
        module
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.ModuleList) and tuple(name.split(".")[-2:]) in LAYER_LISTS
    ]
    layers = []
    if stacks:
        for layer in stacks[0]:
            found = dict(layer.named_modules())
            projection = next((found[p] for p in ATTENTION_PROJECTIONS if p in found), None)
            if not isinstance(projection, torch.nn.Linear):
                layers = []
                break
            layers.append((layer, projection))
    if not layers:
        raise ValueError(
            f"{type(model).__name__}: unknown encoder layout for TaskEmb (expected a module list "
            f"`encoder.layer` or `encoder.block` whose layers hold one of "
            f"{', '.join(ATTENTION_PROJECTIONS)})"
        )
    return layers


class _Captured:
    """Forward hooks that keep named activations, with their gradients retained."""

    def __init__(self, model: torch.nn.Module):
        self.tensors: dict[str, torch.Tensor] = {}
        self.hooks = []
        layers = encoder_layers(model)
        for index, (layer, projection) in enumerate(layers):
            self._before(projection, f"layer{index:02d}.attention")
            self._after(layer, f"layer{index:02d}.output")
        head = head_module(model)
        self._before(head, "pooled")
        projection = _output_projection(head)
        if projection is not None:
            self._before(projection, "head")

    def _keep(self, name: str, tensor: torch.Tensor) -> None:
        if name not in self.tensors:  # a module called twice keeps its first call
            tensor.retain_grad()
            self.tensors[name] = tensor

    def _before(self, module, name):
        self.hooks.append(
            module.register_forward_pre_hook(lambda _m, inputs: self._keep(name, inputs[0]))
        )

    def _after(self, module, name):
        def hook(_module, _inputs, output):
            self._keep(name, output[0] if isinstance(output, tuple) else output)

        self.hooks.append(module.register_forward_hook(hook))

    def remove(self):
        for hook in self.hooks:
            hook.remove()


def _masked(gradient: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A gradient as (rows, tokens, width) in float64 with its padding zeroed; a 2-D one (a
    pooled state per row) as one token per row."""
    gradient = gradient.detach().double()
    if gradient.dim() == 2:
        return gradient.unsqueeze(1)
    rows_mask = mask.reshape(-1, mask.shape[-1]).to(gradient)
    if rows_mask.shape == gradient.shape[:2]:  # an mT5 decoder's states have their own length
        gradient = gradient * rows_mask.unsqueeze(-1)
    return gradient


def _distinct(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The captured activations less any that is the very tensor of an earlier one: a head that
    reads the last layer's output as it is (XLM-R's sentence head, every token and span head of
    BERT and XLM-R) gives no `pooled` apart from that layer's `output`."""
    kept, seen = {}, set()
    for name, tensor in tensors.items():
        key = (tensor.data_ptr(), tuple(tensor.shape), tensor.stride())
        if key not in seen:
            seen.add(key)
            kept[name] = tensor
    return kept


def matching_parameters(
    model: torch.nn.Module, patterns: tuple[str, ...]
) -> dict[str, torch.nn.Parameter]:
    """The parameters whose names (the base model's without its prefix, as the reference names
    them: `encoder.layer.0.output.dense.weight`; the head's as they are) match a glob pattern.
    A pattern that matches nothing is refused, naming it and a few names it could match."""
    prefix = f"{model.base_model_prefix}."
    named = {name.removeprefix(prefix): p for name, p in model.named_parameters()}
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in named):
            examples = ", ".join(list(named)[:3])
            raise ValueError(
                f"taskemb_parameters: {pattern!r} matches no parameter of "
                f"{type(model).__name__} (names look like {examples}, ...)"
            )
    return {
        name: p for name, p in named.items() if any(fnmatch.fnmatchcase(name, x) for x in patterns)
    }


def _sampled_losses(kind, out, batch: dict, generator, draws: int, device):
    """The losses at `draws` labels per example drawn from the model, averaged inside the
    gradient as the reference averages its `num_trials_for_FIM` draws (100): each example's
    loss is the mean over its draws, the batch loss their batch mean."""
    per_example = batch_loss = 0
    for _ in range(draws):
        drawn = kind.sample_fisher_labels(out, batch, generator)
        targets = {key: value.to(device) for key, value in drawn.items()}
        example_losses, mean_loss = kind.fisher_losses(out, targets)
        per_example, batch_loss = per_example + example_losses, batch_loss + mean_loss
    return per_example / draws, batch_loss / draws


def fisher_components(
    checkpoint: str,
    frame: pd.DataFrame,
    *,
    n_examples: int | None = 1000,
    max_length: int = 128,
    batch_size: int = 32,
    seed: int = 0,
    labels: str = "gold",
    estimator: str = "batch",
    label_draws: int = REFERENCE_LABEL_DRAWS,
    parameters: tuple[str, ...] = (),
    device: str | None = None,
) -> dict[str, np.ndarray]:
    """Vu et al.'s TaskEmb of the task a checkpoint was fine-tuned on: the diagonal Fisher at
    each encoder layer's attention context and output, at the pooled state the head reads and at
    the head's own input (see the module docstring), one float64 vector per component, and the
    squared gradients of the parameters `parameters` names (components `param.<name>`)."""
    if labels not in LABELS:
        raise ValueError(f"labels must be one of {LABELS}, not {labels!r}")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, not {estimator!r}")
    if label_draws < 1:
        raise ValueError(f"label_draws must be at least 1, not {label_draws}")
    if parameters and estimator != "batch":
        raise ValueError(
            "parameter components (taskemb_parameters) need the batch estimator: an example's "
            "own parameter gradient would take one backward pass per example"
        )
    tokenizer = load_tokenizer(checkpoint)
    with checked_checkpoint(checkpoint):
        model = checkpoint_head_class(checkpoint).from_pretrained(checkpoint).eval()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    kind = checkpoint_kind(model)
    captured = _Captured(model)  # before any data: an unknown layout fails fast
    weights = matching_parameters(model, parameters)
    sample = sample_frame(frame, n_examples, seed)
    examples = kind.encode(sample, tokenizer, max_length, max(1, max_length // 4))
    generator = torch.Generator().manual_seed(seed)
    sums: dict[str, torch.Tensor] = {}
    count = 0
    try:
        loader = kind.loader(examples, tokenizer, batch_size, shuffle=False, seed=seed)
        for batch in loader:
            batch = {key: value.to(device) for key, value in batch.items()}
            gold = {key: batch.pop(key) for key in kind.fisher_label_keys}
            captured.tensors.clear()
            out = model(**batch)
            if labels == "sampled":
                per_example, batch_loss = _sampled_losses(
                    kind, out, {**batch, **gold}, generator, label_draws, device
                )
            else:
                per_example, batch_loss = kind.fisher_losses(out, gold)
            model.zero_grad(set_to_none=True)
            (per_example.sum() if estimator == "per_example" else batch_loss).backward()
            n = len(per_example)
            mask = batch["attention_mask"]
            for name, tensor in _distinct(captured.tensors).items():
                if tensor.grad is None:
                    raise ValueError(f"{type(model).__name__}: {name} takes no part in the loss")
                gradient = _masked(tensor.grad, mask)
                if estimator == "per_example":  # every example's own gradient, token by token
                    squared = gradient.pow(2).sum((0, 1))
                else:  # the reference: square the batch's sum, divide by its real tokens
                    squared = gradient.sum((0, 1)).pow(2) / mask.sum().double()
                sums[name] = squared.cpu() if name not in sums else sums[name] + squared.cpu()
            for name, weight in weights.items():  # the reference: each batch's gradient squared
                if weight.grad is None:
                    raise ValueError(f"taskemb_parameters: {name} takes no part in the loss")
                squared = weight.grad.detach().double().pow(2).flatten().cpu()
                key = f"param.{name}"
                sums[key] = squared if key not in sums else sums[key] + squared
            count += n
    finally:
        captured.remove()
    return {name: (total / count).numpy() for name, total in sums.items()}
