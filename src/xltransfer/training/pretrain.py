"""The tiny demo encoder: a trained tokenizer and a short pretraining (masked LM; mT5: span
corruption), of the architecture `models.<name>.build.architecture` names.

Both are saved with `save_pretrained`, so fine-tuning loads them through the same `Auto*`
path as a Hub id such as FacebookAI/xlm-roberta-base.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from transformers import (
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    get_linear_schedule_with_warmup,
)

from xltransfer.logs import progress
from xltransfer.models.architectures import (
    SpanCorruptionCollator,
    build_pretraining_model,
    masked_lm_loss,
    train_family_tokenizer,
)
from xltransfer.spec import PretrainSpec

log = logging.getLogger(__name__)


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, architecture: str = "xlmr"
) -> PreTrainedTokenizerFast:
    """A tokenizer with the special tokens and templates of `architecture` (default XLM-R's)."""
    return train_family_tokenizer(texts, vocab_size, architecture)


def build_model(tokenizer, spec: PretrainSpec) -> PreTrainedModel:
    """A randomly initialised pretraining model of the spec's architecture and size."""
    return build_pretraining_model(tokenizer, spec)


def _collator(tokenizer, spec: PretrainSpec):
    # mT5 is pretrained as T5 was, by span corruption (mlm_probability is the noise density);
    # the encoders by masked LM.
    if spec.architecture == "mt5":
        return SpanCorruptionCollator(tokenizer, spec.mlm_probability, spec.seed)
    return DataCollatorForLanguageModeling(tokenizer, mlm_probability=spec.mlm_probability)


def _cycle(loader: DataLoader):
    while True:
        yield from loader


def pretrain_mlm(
    texts: list[str], tokenizer_dir: Path, spec: PretrainSpec, output_dir: Path, threads: int = 1
) -> list[float]:
    """Pretraining (masked LM, or span corruption for mT5) for a fixed number of steps; returns the
    loss every 50 steps."""
    torch.set_num_threads(threads)
    set_seed(spec.seed)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    model = build_model(tokenizer, spec)
    encoded = tokenizer(texts, truncation=True, max_length=spec.max_length)
    examples = [{"input_ids": ids} for ids in encoded["input_ids"]]
    collator = _collator(tokenizer, spec)
    generator = torch.Generator().manual_seed(spec.seed)
    loader = DataLoader(
        examples, batch_size=spec.batch_size, shuffle=True, collate_fn=collator, generator=generator
    )
    accelerator = Accelerator()
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.learning_rate, weight_decay=0.01)
    total = spec.steps * accelerator.num_processes
    scheduler = get_linear_schedule_with_warmup(optimizer, total // 10, total)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    model.train()
    # The masked-rows-only loss calls the model's parts, which a DDP wrapper (several
    # processes) would not see: there the model's own forward computes it.
    whole_forward = spec.architecture == "mt5" or accelerator.num_processes > 1
    losses, running, started = [], 0.0, time.perf_counter()
    batches = _cycle(loader)
    for step in progress(
        range(1, spec.steps + 1), desc="pretrain", enabled=accelerator.is_main_process
    ):
        batch = next(batches)
        loss = model(**batch).loss if whole_forward else masked_lm_loss(model, batch)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        running += loss.item()
        if step % 50 == 0 or step == spec.steps:
            losses.append(running / (50 if step % 50 == 0 else step % 50))
            rate = step * spec.batch_size / (time.perf_counter() - started)
            log.info("step %d: pretraining loss %.4f, %.0f sequences/s", step, losses[-1], rate)
            running = 0.0
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(output_dir, safe_serialization=True)
        tokenizer.save_pretrained(output_dir)
    return losses
