"""Training throughput: xltransfer's Accelerate loop against `transformers.Trainer` and a bare
PyTorch loop.

All three train the same tiny XLM-R classifier on the same standardised split with the same batch
size, learning rate, schedule, gradient clipping and dynamic padding, on one process. The bare loop
sees xltransfer's batches (the kind's collator, in the order xltransfer's sampler draws) and does
what a fine-tuning loop must and nothing else: forward, backward, clip, AdamW with xltransfer's
weight-decay groups, linear warm-up and decay, no per-step host sync. Trainer draws its own
shuffle. The variants run interleaved in each repeat; the script reports the median examples/s of
each and the ratios xltransfer / Trainer and xltransfer / bare. Run after `make demo` (it uses the
demo's model and data), e.g.

    .venv/bin/python benchmarks/train_step.py --threads 1 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from accelerate.utils import set_seed
from torch.utils.data import DataLoader, RandomSampler
from transformers import (
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)

from xltransfer.data.load import read_standard
from xltransfer.kinds import get_kind
from xltransfer.models.factory import build_classifier, load_tokenizer
from xltransfer.spec import Hyperparameters, TaskHead
from xltransfer.training.loop import (
    TrainState,
    build_accelerator,
    build_optimizer,
    build_scheduler,
    train_epoch,
)

HEAD = TaskHead("xnli", "classification", ("entailment", "neutral", "contradiction"), "accuracy")
KIND = get_kind(HEAD.head)


def hyperparameters(batch: int) -> Hyperparameters:
    return Hyperparameters(
        epochs=1,
        learning_rate=5e-4,
        weight_decay=0.01,
        warmup_ratio=0.1,
        global_batch_size=batch,
        per_device_batch_size=batch,
        max_length=64,
        max_grad_norm=1.0,
        mixed_precision="no",
        max_train_examples=None,
        eval_batch_size=128,
    )


def ours(model_dir: str, examples: list[dict], tokenizer, hp: Hyperparameters) -> float:
    """Examples per second of one epoch of xltransfer's loop."""
    set_seed(0)
    accelerator = build_accelerator(hp)
    model, _ = build_classifier(model_dir, None, HEAD, None)
    loader = KIND.loader(examples, tokenizer, hp.per_device_batch_size, shuffle=True, seed=0)
    optimizer = build_optimizer(model, hp)
    scheduler = build_scheduler(optimizer, hp, len(loader), 1)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    started = time.perf_counter()
    train_epoch(model, loader, optimizer, scheduler, accelerator, hp, TrainState())
    return len(examples) / (time.perf_counter() - started)


def bare(model_dir: str, examples: list[dict], tokenizer, hp: Hyperparameters) -> float:
    """Examples per second of one epoch of a plain PyTorch loop with the same settings."""
    set_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model, _ = build_classifier(model_dir, None, HEAD, None)
    model.to(device).train()
    source = KIND.loader(examples, tokenizer, hp.per_device_batch_size, shuffle=True, seed=0)
    # Accelerate's seedable sampler reseeds its generator when iteration starts, after the
    # DataLoader drew its base seed from the loader's (shared) one; a sampler with a generator
    # of its own draws the same order, so the bare loop sees xltransfer's batches exactly.
    sampler = RandomSampler(examples, generator=torch.Generator().manual_seed(0))
    loader = DataLoader(
        examples, hp.per_device_batch_size, sampler=sampler, collate_fn=source.collate_fn
    )
    # xltransfer's optimizer and schedule are plain torch objects: the same ones, unwrapped.
    optimizer = build_optimizer(model, hp)
    # One process, no accumulation: one optimizer step per batch.
    scheduler = build_scheduler(optimizer, hp, len(loader), 1)
    started = time.perf_counter()
    for batch in loader:
        batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), hp.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    if device.type == "cuda":
        torch.cuda.synchronize()  # stop the clock when the queued steps are done, as the others
    return len(examples) / (time.perf_counter() - started)


def trainer(model_dir: str, examples: list[dict], tokenizer, hp: Hyperparameters) -> float:
    """Examples per second of one epoch of `transformers.Trainer` with the same settings."""
    set_seed(0)
    model, _ = build_classifier(model_dir, None, HEAD, None)
    with tempfile.TemporaryDirectory() as output:
        # transformers 5 takes the warm-up ratio as a float `warmup_steps`.
        arguments = TrainingArguments(
            output_dir=output,
            per_device_train_batch_size=hp.per_device_batch_size,
            learning_rate=hp.learning_rate,
            weight_decay=hp.weight_decay,
            warmup_steps=hp.warmup_ratio,
            max_grad_norm=hp.max_grad_norm,
            num_train_epochs=1,
            lr_scheduler_type="linear",
            save_strategy="no",
            eval_strategy="no",
            report_to=[],
            logging_strategy="no",
            use_cpu=not torch.cuda.is_available(),
            disable_tqdm=True,
            seed=0,
            dataloader_num_workers=0,
        )
        run = Trainer(
            model=model,
            args=arguments,
            train_dataset=examples,
            data_collator=DataCollatorWithPadding(tokenizer),
        )
        started = time.perf_counter()
        run.train()
        return len(examples) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resources/models/tiny-xlmr")
    parser.add_argument("--train", default="results/demo/data/xnli/en/train.parquet")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tokenizer = load_tokenizer(args.model)
    examples = KIND.encode(read_standard(Path(args.train)), tokenizer, 64)
    hp = hyperparameters(args.batch)
    variants = {"xltransfer": ours, "Trainer": trainer, "bare": bare}
    rates = {name: [] for name in variants}
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits all alike
        for name, variant in variants.items():
            rates[name].append(variant(args.model, examples, tokenizer, hp))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        print(
            f"{name:>10}: median {medians[name]:7.0f} examples/s  runs {[round(v) for v in values]}"
        )
    for other in ("Trainer", "bare"):
        print(f"ratio xltransfer / {other}: {medians['xltransfer'] / medians[other]:.3f}")
    print(
        f"{len(examples)} examples, batch {args.batch}, {args.threads} thread(s), "
        f"torch {torch.__version__}"
    )


if __name__ == "__main__":
    main()
