"""GPU throughput: tokens/s and model FLOPs utilisation of XLM-R base fine-tuning and scoring.

Fine-tuning runs xltransfer's own loop (`build_accelerator`, `build_optimizer`,
`build_scheduler`, `train_epoch`) in bf16 on CUDA, with the task kind's loader (dynamic padding
to the batch's longest row, a multiple of 8 under bf16, as `run_finetune` builds it); the
zero-shot evaluation runs the kind's `eval_loader` (longest first) and `predict` (inference
mode, bf16 autocast through the prepared model), as `evaluate_shard` does. Warm-up steps and
batches are run first and left out of the timing; the timed span is bracketed by
`torch.cuda.synchronize()`. One process, one GPU.

The model is XLM-R base built from its config (vocab 250,002, hidden 768, 12 layers, 12 heads,
intermediate 3,072, 514 positions) with XNLI's 3-label head, through xltransfer's
`model_class` and head config, with random weights: FLOPs and speed do not depend on the
weights, and nothing is downloaded. The collator's padding needs only a tokenizer with XLM-R's
pad id 1: the script trains xltransfer's tiny XLM-R-style tokenizer (`train_tokenizer`, pad id
1) on a few words, so the collator is the loop's own `DataCollatorWithPadding`. Token ids are
drawn uniformly from the vocabulary with a seeded generator (`<s> A </s></s> B </s>`), labels
at random.

Sequence lengths (tokens per pair, special tokens included, capped at --max-length):
`lognormal:42,0.45` by default, median 42, mean about 46, 1% above 120 -- an assumption for
XNLI/MNLI pairs under XLM-R's sentencepiece (MNLI premises average about 22 words and
hypotheses 11, at about 1.3 pieces a word plus 4 special tokens), not measured on the staged
data. `fixed:128` is the worst case (every row at max length, no padding), `uniform:32-128` an
alternative.

Run on a GPU node (about a minute on an H100; the JSON goes into BENCHMARKS.md):

    .venv/bin/python benchmarks/gpu_throughput.py --output gpu_throughput.json
    .venv/bin/python benchmarks/gpu_throughput.py --lengths fixed:128 --output fixed128.json

and smoke-test on CPU with `--size tiny --threads 1 --warmup-steps 2 --steps 5
--eval-examples 64`.

Reading the figures. Tokens are counted two ways: real tokens (the attention mask's ones, the
text and its special tokens) and processed tokens (batch x padded length, what the GPU
multiplies). Achieved TFLOP/s is 6 x N x tokens / s for training (forward 2, backward 4 FLOPs per
parameter and token) and 2 x N x tokens / s for scoring; MFU is that over the device's peak dense
bf16 TFLOP/s (table below, or --peak-tflops). N is given twice: all parameters (278M for XLM-R
base), and the non-embedding ones (86M): the embedding tables (192M word, 0.4M position) are
looked up, not multiplied, so 6 x N(all) overstates the work about 3-fold and its "MFU" is not a
utilisation. The headline MFU is 6 x N(non-embedding) x real tokens: the useful model FLOPs, the
convention of Kaplan et al. (2020) and of `make plan`'s `compute_parameters`. The classifier head
(0.6M) is counted per token although it reads the `<s>` row only (under 1% too many). A last
row adds attention's score and value products on processed tokens (4 x layers x hidden x
padded length^2 per sequence forward, x3 to train): the closest of these figures to the work the
GPU actually did; the gap between it and the headline is padding and attention, the gap between
it and 100% is the loop (AdamW and gradient clipping over all 278M fp32 parameters, the
embedding tables' too; host syncs to read the loss; collation on the host), kernel launches and
memory-bound layers (LayerNorm, GELU, softmax). On CPU no MFU is reported unless --peak-tflops
is given.

`plan_throughput` in the JSON gives tokens/s in the unit of `make plan`'s
`plan.models.<model>.throughput.<device>` (examples/s x max length: the plan counts every
example at max length), ready to paste there.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import torch
from accelerate.utils import set_seed
from transformers import XLMRobertaConfig

from xltransfer.kinds import get_kind
from xltransfer.models.factory import model_class
from xltransfer.results import package_versions
from xltransfer.spec import Hyperparameters, TaskHead
from xltransfer.training.loop import (
    TrainState,
    build_accelerator,
    build_optimizer,
    build_scheduler,
    train_epoch,
)
from xltransfer.training.pretrain import train_tokenizer

HEAD = TaskHead("xnli", "classification", ("entailment", "neutral", "contradiction"), "accuracy")
KIND = get_kind(HEAD.head)
# XLM-R base's published config (FacebookAI/xlm-roberta-base); `tiny` only for CPU smoke tests.
SIZES = {
    "base": {
        "vocab_size": 250002,
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
    },
    "tiny": {
        "vocab_size": 1000,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 256,
    },
}
FIXED = {
    "max_position_embeddings": 514,
    "type_vocab_size": 1,
    "layer_norm_eps": 1e-5,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
}
BOS, PAD, EOS, FIRST_PLAIN_ID = 0, 1, 2, 5  # XLM-R: <s> <pad> </s> <unk>, then <mask> ... words
# Peak dense bf16 tensor TFLOP/s (no sparsity), first substring of the device name that matches.
PEAKS = (
    ("H100 PCIe", 756, "H100 PCIe datasheet: 1,513 with sparsity"),
    ("H100 NVL", 835, "H100 NVL datasheet: 1,671 with sparsity"),
    ("H100", 989, "H100 SXM datasheet: 1,979 with sparsity"),
    ("H200 NVL", 835, "H200 NVL datasheet: 1,671 with sparsity"),
    ("H200", 989, "H200 SXM datasheet: 1,979 with sparsity"),
    ("A100", 312, "A100 datasheet: 624 with sparsity"),
    ("A10G", 125, "as A10's datasheet (125, 250 with sparsity); unchecked for AWS's A10G"),
    ("L40S", 362, "L40S datasheet: 733 with sparsity"),
    ("L4", 121, "L4 datasheet: 242 with sparsity"),
    ("V100", 125, "V100 SXM2 datasheet, fp16 (no bf16: xltransfer refuses bf16 there)"),
)
MIN_LENGTH = 8
HEADLINE = "N_non_embedding x real tokens"


def peak_tflops(name: str) -> tuple[float | None, str]:
    for key, tflops, source in PEAKS:
        if key.lower() in name.lower():
            return tflops, source
    return None, f"{name!r} is not in the table: pass --peak-tflops"


def draw_lengths(spec: str, count: int, max_length: int, rng: np.random.Generator) -> np.ndarray:
    """Sequence lengths per --lengths: fixed:N, uniform:LOW-HIGH, lognormal:MEDIAN,SIGMA."""
    kind, _, value = spec.partition(":")
    if kind == "fixed":
        lengths = np.full(count, int(value))
    elif kind == "uniform":
        low, high = (int(v) for v in value.split("-"))
        lengths = rng.integers(low, high + 1, size=count)
    elif kind == "lognormal":
        median, sigma = (float(v) for v in value.split(","))
        lengths = np.rint(rng.lognormal(np.log(median), sigma, size=count))
    else:
        raise SystemExit(f"--lengths {spec!r}: use fixed:N, uniform:LOW-HIGH or lognormal:M,S")
    return np.clip(lengths, MIN_LENGTH, max_length).astype(int)


def synthetic_examples(
    count: int, lengths_spec: str, max_length: int, vocab: int, seed: int
) -> list[dict]:
    """Encoded sentence pairs as `TaskKind.encode` returns them (unpadded ids, mask, label)."""
    rng = np.random.default_rng(seed)
    lengths = draw_lengths(lengths_spec, count, max_length, rng)
    labels = torch.tensor(rng.integers(0, len(HEAD.labels), size=count), dtype=torch.long)
    examples = []
    for i, length in enumerate(lengths):
        words = rng.integers(FIRST_PLAIN_ID, vocab, size=length - 4).tolist()
        cut = (length - 4) // 2
        ids = [BOS, *words[:cut], EOS, EOS, *words[cut:], EOS]
        examples.append({"input_ids": ids, "attention_mask": [1] * length, "labels": labels[i]})
    return examples


def padding_tokenizer():
    """xltransfer's tiny XLM-R-style tokenizer: the collator needs its pad id (1) only."""
    tokenizer = train_tokenizer(["a pad token for the collator"] * 4, vocab_size=60)
    if tokenizer.pad_token_id != PAD:
        raise RuntimeError(f"tokenizer pad id {tokenizer.pad_token_id}, XLM-R's is {PAD}")
    # XLM-R's own tokenizer returns no token type ids; the ids here are made without it anyway.
    tokenizer.model_input_names = ["input_ids", "attention_mask"]
    return tokenizer


@dataclass
class Counted:
    """What the batches of a loader held."""

    batches: int = 0
    examples: int = 0
    real: int = 0  # attention-mask ones
    processed: int = 0  # batch x padded length
    square: int = 0  # sum over sequences of padded length^2 (attention's products)


class Counting:
    """The loader's collator, counting the batches it builds (a mask sum per batch)."""

    def __init__(self, collate):
        self.collate, self.counted = collate, Counted()

    def __call__(self, rows):
        batch = self.collate(rows)
        rows_, width = batch["attention_mask"].shape
        c = self.counted
        c.batches += 1
        c.examples += rows_
        c.real += int(batch["attention_mask"].sum())
        c.processed += rows_ * width
        c.square += rows_ * width * width
        return batch


def counting(loader) -> Counted:
    """Count what a prepared loader yields from now on. Accelerate's loader iterates the
    DataLoader it wraps (`base_dataloader`), whose iterators read `collate_fn` when made; the
    callers check the count, so a change of that layout fails loudly instead of counting 0."""
    inner = getattr(loader, "base_dataloader", loader)
    inner.collate_fn = Counting(inner.collate_fn)
    return inner.collate_fn.counted


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def parameter_counts(model) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    embedding = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))
    head = sum(p.numel() for n, p in model.named_parameters() if n.startswith("classifier."))
    return {
        "all": total,
        "embedding_tables": embedding,
        "non_embedding": total - embedding,
        "classifier_head": head,
    }


def figures(
    counted: Counted,
    seconds: float,
    params: dict[str, int],
    config,
    per_token: int,
    peak: float | None,
) -> dict:
    """Rates and FLOP/s of one timed phase; per_token 6 (train) or 2 (score)."""
    attention_forward = 4 * config.num_hidden_layers * config.hidden_size * counted.square
    flops = {
        "N_all x real tokens": per_token * params["all"] * counted.real,
        "N_non_embedding x real tokens": per_token * params["non_embedding"] * counted.real,
        "N_all x processed tokens": per_token * params["all"] * counted.processed,
        "N_non_embedding x processed tokens": (
            per_token * params["non_embedding"] * counted.processed
        ),
        "N_non_embedding x processed + attention": (
            per_token * params["non_embedding"] * counted.processed
            + per_token // 2 * attention_forward
        ),
    }
    tflops = {k: v / seconds / 1e12 for k, v in flops.items()}
    return {
        "seconds": seconds,
        "batches": counted.batches,
        "examples": counted.examples,
        "real_tokens": counted.real,
        "processed_tokens": counted.processed,
        "padding_fraction": 1 - counted.real / counted.processed,
        "examples_per_s": counted.examples / seconds,
        "real_tokens_per_s": counted.real / seconds,
        "processed_tokens_per_s": counted.processed / seconds,
        "flops_per_parameter_and_token": per_token,
        "tflops_per_s": tflops,
        "mfu": {k: v / peak for k, v in tflops.items()} if peak else None,
    }


def measure_training(args, model, tokenizer, precision: str):
    """Warm-up steps, then timed steps of `train_epoch`; returns the timed batches' counts, the
    seconds, the mean loss, and the prepared model and accelerator."""
    hp = Hyperparameters(
        epochs=1,
        learning_rate=2e-5,
        weight_decay=0.01,
        warmup_ratio=0.1,
        global_batch_size=args.batch,
        per_device_batch_size=args.batch,
        max_length=args.max_length,
        max_grad_norm=1.0,
        mixed_precision=precision,
        max_train_examples=None,
        eval_batch_size=args.eval_batch,
    )
    accelerator = build_accelerator(hp, seed=args.seed)
    vocab = model.config.vocab_size
    optimizer = build_optimizer(model, hp)
    scheduler = build_scheduler(optimizer, hp, args.warmup_steps + args.steps, 1)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)

    def loader(steps: int, seed: int):
        examples = synthetic_examples(
            steps * args.batch, args.lengths, args.max_length, vocab, seed
        )
        made = KIND.loader(
            examples,
            tokenizer,
            args.batch,
            shuffle=True,
            seed=args.seed,
            mixed_precision=accelerator.mixed_precision,
        )
        made = accelerator.prepare(made)
        return made, counting(made)

    state = TrainState()
    if args.warmup_steps:
        warm, _ = loader(args.warmup_steps, args.seed + 1)
        train_epoch(model, warm, optimizer, scheduler, accelerator, hp, state)
        state.end_epoch()
    timed, counted = loader(args.steps, args.seed + 2)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    synchronize()
    started = time.perf_counter()
    loss = train_epoch(model, timed, optimizer, scheduler, accelerator, hp, state)
    synchronize()
    seconds = time.perf_counter() - started
    if counted.batches != args.steps:
        raise RuntimeError(f"counted {counted.batches} batches, expected {args.steps}")
    return counted, seconds, loss, model, accelerator


def measure_evaluation(args, model, tokenizer, accelerator):
    """Warm-up batches, then timed passes of `predict` over a longest-first eval set."""
    vocab = accelerator.unwrap_model(model).config.vocab_size
    if args.eval_warmup_batches:
        examples = synthetic_examples(
            args.eval_warmup_batches * args.eval_batch, args.lengths, args.max_length, vocab, 7
        )
        warm, _ = KIND.eval_loader(examples, tokenizer, args.eval_batch, accelerator)
        KIND.predict(model, warm, accelerator)
    examples = synthetic_examples(
        args.eval_examples, args.lengths, args.max_length, vocab, args.seed + 3
    )
    timed, _ = KIND.eval_loader(examples, tokenizer, args.eval_batch, accelerator)
    counted = counting(timed)
    synchronize()
    started = time.perf_counter()
    for _ in range(args.eval_passes):
        KIND.predict(model, timed, accelerator)
    synchronize()
    seconds = time.perf_counter() - started
    expected = args.eval_passes * -(-args.eval_examples // args.eval_batch)
    if counted.batches != expected:
        raise RuntimeError(f"counted {counted.batches} batches, expected {expected}")
    return counted, seconds


def print_table(name: str, result: dict) -> None:
    print(
        f"\n{name}: {result['batches']} batches, {result['examples']} examples in "
        f"{result['seconds']:.3f} s, padding {result['padding_fraction']:.1%}"
    )
    print(
        f"  examples/s {result['examples_per_s']:,.1f}   real tokens/s "
        f"{result['real_tokens_per_s']:,.0f}   processed tokens/s "
        f"{result['processed_tokens_per_s']:,.0f}"
    )
    per = result["flops_per_parameter_and_token"]
    print(f"  {'FLOPs counted (' + str(per) + ' x ...)':<44} {'TFLOP/s':>10} {'MFU':>8}")
    for key, value in result["tflops_per_s"].items():
        mfu = f"{result['mfu'][key]:8.1%}" if result["mfu"] else f"{'-':>8}"
        mark = "  <- headline" if key == HEADLINE else ""
        print(f"  {key:<44} {value:10.3f} {mfu}{mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="base")
    for name in ("hidden", "layers", "heads", "intermediate", "vocab"):
        parser.add_argument(f"--{name}", type=int, help="override the --size preset")
    parser.add_argument(
        "--lengths",
        default="lognormal:42,0.45",
        help="fixed:N, uniform:LOW-HIGH or lognormal:MEDIAN,SIGMA (capped at --max-length)",
    )
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32, help="per-device training batch")
    parser.add_argument("--warmup-steps", type=int, default=10)
    parser.add_argument("--steps", type=int, default=100, help="timed optimizer steps")
    parser.add_argument("--eval-examples", type=int, default=5010, help="one XNLI test language")
    parser.add_argument("--eval-batch", type=int, default=128)
    parser.add_argument("--eval-warmup-batches", type=int, default=3)
    parser.add_argument("--eval-passes", type=int, default=3, help="timed passes over the set")
    parser.add_argument("--precision", choices=["auto", "bf16", "fp16", "no"], default="auto")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak dense TFLOP/s")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="gpu_throughput.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    precision = args.precision if args.precision != "auto" else ("bf16" if cuda else "no")

    sizes = dict(SIZES[args.size])
    overrides = {
        "hidden": "hidden_size",
        "layers": "num_hidden_layers",
        "heads": "num_attention_heads",
        "intermediate": "intermediate_size",
        "vocab": "vocab_size",
    }
    for option, key in overrides.items():
        if getattr(args, option) is not None:
            sizes[key] = getattr(args, option)
    set_seed(args.seed)
    config = XLMRobertaConfig(**sizes, **FIXED, **KIND.head_config(HEAD.labels))
    model = model_class(KIND).from_config(config)
    params = parameter_counts(model)
    attention = model.config._attn_implementation
    tokenizer = padding_tokenizer()

    device_name = torch.cuda.get_device_name() if cuda else platform.processor() or "cpu"
    peak, peak_source = (None, "CPU: no MFU") if not cuda else peak_tflops(device_name)
    if args.peak_tflops:
        peak, peak_source = args.peak_tflops, "--peak-tflops"
    print(
        f"{device_name}, precision {precision}, peak {peak or '-'} TFLOP/s ({peak_source})\n"
        f"model: {params['all'] / 1e6:.1f}M parameters, {params['embedding_tables'] / 1e6:.1f}M "
        f"in embedding tables, {params['non_embedding'] / 1e6:.1f}M non-embedding "
        f"({params['classifier_head'] / 1e6:.2f}M head); attention {attention}",
        flush=True,
    )

    counted, seconds, loss, model, accelerator = measure_training(args, model, tokenizer, precision)
    train = figures(counted, seconds, params, config, 6, peak)
    train |= {"optimizer_steps": args.steps, "mean_loss": loss}
    if cuda:
        train["max_memory_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
    counted, seconds = measure_evaluation(args, model, tokenizer, accelerator)
    evaluation = figures(counted, seconds, params, config, 2, peak)
    print_table(f"fine-tuning ({precision}, batch {args.batch})", train)
    print_table(f"zero-shot evaluation (batch {args.eval_batch}, longest first)", evaluation)

    plan = {
        "train_tokens_per_s": round(train["examples_per_s"] * args.max_length),
        "eval_tokens_per_s": round(evaluation["examples_per_s"] * args.max_length),
        "source": (
            f"benchmarks/gpu_throughput.py on {device_name}, {precision}, batch {args.batch} "
            f"(eval {args.eval_batch}), lengths {args.lengths} capped at {args.max_length}; "
            f"examples/s x {args.max_length}, {datetime.now(UTC):%Y-%m-%d}"
        ),
    }
    result = {
        "benchmark": "benchmarks/gpu_throughput.py",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": {
            "name": device_name,
            "cuda": cuda,
            "capability": list(torch.cuda.get_device_capability()) if cuda else None,
            "peak_dense_tflops": peak,
            "peak_source": peak_source,
        },
        "versions": {
            **package_versions(),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if cuda else None,
        },
        "settings": {
            **vars(args),
            "precision": precision,
            "threads": torch.get_num_threads(),
            "attention": attention,
            "config": {**sizes, **FIXED, "num_labels": config.num_labels},
        },
        "parameters": params,
        "train": train,
        "eval": evaluation,
        "plan_throughput": plan,
    }
    with open(args.output, "w") as handle:
        json.dump(result, handle, indent=2)
    print(f"\nplan throughput (examples/s x max length): {plan}\nwrote {args.output}")


if __name__ == "__main__":
    main()
