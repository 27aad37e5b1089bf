"""The Accelerate fine-tuning loop: one function per step, so a CPU test can run each."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator, PartialState
from accelerate.logging import get_logger
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from transformers import PreTrainedModel, get_linear_schedule_with_warmup

from xltransfer.batches import encode_frame, make_loader
from xltransfer.data import read_standard
from xltransfer.evaluation import score
from xltransfer.logs import progress
from xltransfer.models import build_classifier, load_tokenizer, resolve_mixed_precision
from xltransfer.results import package_versions
from xltransfer.spec import FinetuneSpec, Hyperparameters

log = get_logger(__name__)
SUMMARY_FILE = "training_summary.json"


class TrainingError(RuntimeError):
    """Training cannot go on (bad batch arithmetic, non-finite loss)."""


def accumulation_steps(hp: Hyperparameters, num_processes: int) -> int:
    """Micro-batches per optimizer step that keep the global batch whatever the process count."""
    per_step = hp.per_device_batch_size * num_processes
    if hp.global_batch_size % per_step:
        raise TrainingError(
            f"global_batch_size {hp.global_batch_size} is not a multiple of per_device_batch_size "
            f"{hp.per_device_batch_size} x {num_processes} processes"
        )
    return hp.global_batch_size // per_step


def build_accelerator(hp: Hyperparameters) -> Accelerator:
    """One Accelerator with the spec's precision and the accumulation the process count needs."""
    processes = PartialState().num_processes
    return Accelerator(
        mixed_precision=resolve_mixed_precision(hp.mixed_precision),
        gradient_accumulation_steps=accumulation_steps(hp, processes),
    )


@dataclass
class TrainState:
    """Progress of a run: what resuming and the summary need."""

    epoch: int = 0
    optimizer_steps: int = 0
    best_score: float = -math.inf
    best_epoch: int = -1
    history: list[dict] = field(default_factory=list)

    def record_epoch(self, loss: float, dev: dict[str, float], metric: str, rate: float) -> bool:
        """Store an epoch's numbers; True when its dev score is the best so far."""
        value = dev[metric]
        self.history.append({"epoch": self.epoch, "loss": loss, "examples_per_s": rate, **dev})
        improved = math.isfinite(value) and value > self.best_score
        if improved:
            self.best_score, self.best_epoch = value, self.epoch
        return improved


def build_optimizer(model: PreTrainedModel, hp: Hyperparameters) -> torch.optim.AdamW:
    """AdamW without weight decay on biases and LayerNorm weights (as BERT was trained)."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(parameter)
    groups = [
        {"params": decay, "weight_decay": hp.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=hp.learning_rate)


def optimizer_steps_per_epoch(num_examples: int, hp: Hyperparameters, processes: int) -> int:
    """Optimizer steps of one process per epoch once the loader is sharded."""
    micro_batches = math.ceil(num_examples / (hp.per_device_batch_size * processes))
    return math.ceil(micro_batches / accumulation_steps(hp, processes))


def build_scheduler(optimizer, hp: Hyperparameters, steps: int, processes: int):
    """Linear warm-up and decay; Accelerate steps a prepared scheduler once per process."""
    total = steps * processes
    return get_linear_schedule_with_warmup(optimizer, int(hp.warmup_ratio * total), total)


def train_epoch(
    model: PreTrainedModel,
    loader: DataLoader,
    optimizer,
    scheduler,
    accelerator: Accelerator,
    hp: Hyperparameters,
    state: TrainState,
) -> float:
    """One pass over the training data; returns the mean loss."""
    model.train()
    total, batches = 0.0, 0
    bar = progress(loader, desc=f"epoch {state.epoch}", enabled=accelerator.is_local_main_process)
    for batch in bar:
        with accelerator.accumulate(model):
            loss = model(**batch).loss
            if not torch.isfinite(loss):
                raise TrainingError(f"non-finite loss {loss.item()} at epoch {state.epoch}")
            accelerator.backward(loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(model.parameters(), hp.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        if accelerator.sync_gradients:
            state.optimizer_steps += 1
        total, batches = total + loss.item(), batches + 1
        bar.set_postfix(loss=f"{total / batches:.4f}")
    return total / max(batches, 1)


def save_model(accelerator: Accelerator, model: PreTrainedModel, tokenizer, path: Path) -> None:
    """Safetensors weights and the tokenizer, written by the main process."""
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(
            path, save_function=accelerator.save, safe_serialization=True
        )
        tokenizer.save_pretrained(path)


def prepare_staging(output_dir: Path, accelerator: Accelerator) -> Path:
    """An empty `<output>.partial` folder, the same on every rank, that becomes the output."""
    staging = output_dir.with_name(output_dir.name + ".partial")
    if accelerator.is_main_process:
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
    accelerator.wait_for_everyone()
    return staging


def publish_staging(staging: Path, output_dir: Path) -> None:
    """Rename the finished staging folder onto the output, so no half-written checkpoint shows."""
    if output_dir.exists():
        shutil.rmtree(output_dir)
    os.replace(staging, output_dir)


def _load_examples(spec: FinetuneSpec, tokenizer, accelerator: Accelerator):
    hp = spec.hyperparameters
    with accelerator.main_process_first():
        train = read_standard(Path(spec.train_file))
        if hp.max_train_examples:
            train = train.sample(n=min(hp.max_train_examples, len(train)), random_state=spec.seed)
        dev = read_standard(Path(spec.dev_file))
        encode = lambda frame: encode_frame(frame, tokenizer, hp.max_length, spec.task.head)  # noqa: E731
        return encode(train), encode(dev)


def run_finetune(spec: FinetuneSpec, output_dir: Path) -> TrainState:
    """Fine-tune per the spec, keep the best English-dev epoch, write it atomically."""
    hp = spec.hyperparameters
    torch.set_num_threads(spec.threads)
    accelerator = build_accelerator(hp)
    set_seed(spec.seed)  # before the model is built, so the new head is seeded too
    tokenizer = load_tokenizer(spec.init_checkpoint or spec.init_model, spec.revision)
    model, head_carried = build_classifier(
        spec.init_model, spec.revision, spec.task, spec.init_checkpoint
    )
    train_examples, dev_examples = _load_examples(spec, tokenizer, accelerator)
    precision = accelerator.mixed_precision
    train_loader = make_loader(
        train_examples,
        tokenizer,
        hp.per_device_batch_size,
        shuffle=True,
        seed=spec.seed,
        mixed_precision=precision,
    )
    dev_loader = make_loader(
        dev_examples,
        tokenizer,
        hp.eval_batch_size,
        shuffle=False,
        seed=spec.seed,
        mixed_precision=precision,
    )
    processes = accelerator.num_processes
    steps = optimizer_steps_per_epoch(len(train_examples), hp, processes) * hp.epochs
    optimizer = build_optimizer(model, hp)
    scheduler = build_scheduler(optimizer, hp, steps, processes)
    model, optimizer, train_loader, dev_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, dev_loader, scheduler
    )
    state = TrainState()
    log.info(
        f"{spec.task.task}: {len(train_examples)} train / {len(dev_examples)} dev examples, "
        f"{processes} process(es), global batch {hp.global_batch_size} "
        f"(accumulation {accelerator.gradient_accumulation_steps}), precision {precision}, "
        f"{steps} optimizer steps"
    )
    staging = prepare_staging(output_dir, accelerator)
    for state.epoch in range(hp.epochs):
        started = time.perf_counter()
        loss = train_epoch(model, train_loader, optimizer, scheduler, accelerator, hp, state)
        rate = len(train_examples) / (time.perf_counter() - started)
        dev = score(model, dev_loader, accelerator, spec.task.head)
        if state.record_epoch(loss, dev, spec.task.metric, rate):
            save_model(accelerator, model, tokenizer, staging)
        log.info(
            f"epoch {state.epoch}: loss {loss:.4f}, dev {spec.task.metric} "
            f"{dev[spec.task.metric]:.4f}, {rate:.0f} examples/s"
        )
    accelerator.wait_for_everyone()
    if state.best_epoch < 0:
        raise TrainingError(f"{spec.task.task}: no epoch gave a finite dev score")
    if accelerator.is_main_process:
        summary = training_summary(spec, state, accelerator, head_carried)
        (staging / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
        publish_staging(staging, output_dir)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return state


def training_summary(
    spec: FinetuneSpec, state: TrainState, accelerator: Accelerator, head_carried: bool
) -> dict:
    """Provenance stored beside the weights and copied into every result row."""
    return {
        "spec": json.loads(spec.to_json()),
        "state": asdict(state),
        "num_processes": accelerator.num_processes,
        "global_batch_size": spec.hyperparameters.global_batch_size,
        "gradient_accumulation_steps": accelerator.gradient_accumulation_steps,
        "mixed_precision": accelerator.mixed_precision,
        "head_carried_over": head_carried,
        "versions": package_versions(),
    }


def read_summary(checkpoint: Path) -> dict:
    """The training summary of a checkpoint written by run_finetune."""
    return json.loads((Path(checkpoint) / SUMMARY_FILE).read_text())
