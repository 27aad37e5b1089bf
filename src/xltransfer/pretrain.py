"""The tiny demo encoder: a trained Unigram tokenizer and a short masked-LM pretraining.

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
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from torch.utils.data import DataLoader
from transformers import (
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    PreTrainedTokenizerFast,
    XLMRobertaConfig,
    XLMRobertaForMaskedLM,
    get_linear_schedule_with_warmup,
)

from xltransfer.logs import progress
from xltransfer.spec import PretrainSpec

log = logging.getLogger(__name__)
# XLM-R's special tokens, in XLM-R's id order.
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A SentencePiece-style BPE tokenizer with XLM-R's special tokens and templates.

    XLM-R itself uses a Unigram model, but the `tokenizers` Unigram trainer splits even frequent
    words ("is" -> "i", "s") on a corpus as small and repetitive as the demo's; BPE merges them.
    """
    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.normalizer = normalizers.NFKC()
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    backend.train_from_iterator(texts, trainer=trainer)
    bos, eos = backend.token_to_id("<s>"), backend.token_to_id("</s>")
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    )


def build_model(tokenizer, spec: PretrainSpec) -> XLMRobertaForMaskedLM:
    """A randomly initialised XLM-R-architecture masked LM of the spec's size."""
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        intermediate_size=spec.intermediate_size,
        max_position_embeddings=spec.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return XLMRobertaForMaskedLM(config)


def _cycle(loader: DataLoader):
    while True:
        yield from loader


def pretrain_mlm(
    texts: list[str], tokenizer_dir: Path, spec: PretrainSpec, output_dir: Path, threads: int = 1
) -> list[float]:
    """Masked-LM pretraining for a fixed number of steps; returns the loss every 50 steps."""
    torch.set_num_threads(threads)
    set_seed(spec.seed)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    model = build_model(tokenizer, spec)
    encoded = tokenizer(texts, truncation=True, max_length=spec.max_length)
    examples = [{"input_ids": ids} for ids in encoded["input_ids"]]
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=spec.mlm_probability)
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
    losses, running, started = [], 0.0, time.perf_counter()
    batches = _cycle(loader)
    for step in progress(range(1, spec.steps + 1), desc="mlm", enabled=accelerator.is_main_process):
        loss = model(**next(batches)).loss
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        running += loss.item()
        if step % 50 == 0 or step == spec.steps:
            losses.append(running / (50 if step % 50 == 0 else step % 50))
            rate = step * spec.batch_size / (time.perf_counter() - started)
            log.info("step %d: mlm loss %.4f, %.0f sequences/s", step, losses[-1], rate)
            running = 0.0
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(output_dir, safe_serialization=True)
        tokenizer.save_pretrained(output_dir)
    return losses
