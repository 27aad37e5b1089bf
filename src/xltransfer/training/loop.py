"""The Accelerate fine-tuning loop: one function per step, so a CPU test can run each."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from accelerate import Accelerator, DataLoaderConfiguration, PartialState
from accelerate.logging import get_logger
from accelerate.utils import ProjectConfiguration, broadcast, parse_flag_from_env, set_seed
from torch.utils.data import DataLoader
from transformers import PreTrainedModel, get_linear_schedule_with_warmup

from xltransfer.data.load import read_standard
from xltransfer.kinds.encoding_cache import cache_beside, encode_once
from xltransfer.logs import progress
from xltransfer.models.factory import build_classifier, load_tokenizer
from xltransfer.results import package_versions
from xltransfer.spec import FinetuneSpec, Hyperparameters
from xltransfer.training.devices import DeviceFacts, check_precision
from xltransfer.training.finished import keep_finished

log = get_logger(__name__)
SUMMARY_FILE = "training_summary.json"
SPEC_FILE = "spec.json"
# Fault injection for the resume tests: fail once this many optimizer steps are done; or sleep
# this many seconds after each optimizer step, so a test can interrupt a job mid-way.
FAIL_AFTER_STEPS = "XLTRANSFER_FAIL_AFTER_STEPS"
STEP_DELAY = "XLTRANSFER_STEP_DELAY"
# Reading a loss on the host waits for the device to finish its step, so a GPU could not queue
# the next one; losses stay on the device and are read this many batches at a time (and before
# each resume state and at the epoch's end). A divergence is still found within this many
# batches, and named at the batch where it began.
LOSS_SYNC_EVERY = 50


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


def process_state() -> PartialState:
    """The process group of this job, checked against what the launcher started.

    A bare PartialState ignores ACCELERATE_USE_CPU, so on a CPU node every rank of a torchrun
    launch would train alone on all the data and write the same output; the check turns that,
    and any launcher/config mismatch, into an error.
    """
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    launched = int(os.environ.get("WORLD_SIZE", 1))
    if state.num_processes != launched:
        raise TrainingError(
            f"the launcher started {launched} processes but Accelerate formed a group of "
            f"{state.num_processes} ({state.distributed_type}); on a GPU node pass --multi_gpu, "
            "on CPU set ACCELERATE_USE_CPU=true"
        )
    return state


def build_accelerator(
    hp: Hyperparameters,
    resume_dir: Path | None = None,
    seed: int = 0,
    devices: DeviceFacts | None = None,
) -> Accelerator:
    """One Accelerator with the spec's precision and the accumulation the process count needs.

    The precision was fixed when the DAG was built; hardware that cannot run it (`devices`,
    read from torch by default) stops the job rather than change it. With a resume folder it
    also numbers checkpoints itself and seeds the sampler per epoch, so a restarted job sees
    the same batches in the same order.
    """
    processes = process_state().num_processes
    # Read after the process group has given each rank its device.
    precision = check_precision(
        hp.mixed_precision, devices or DeviceFacts.from_torch(read_capabilities=True)
    )
    project = None
    if resume_dir is not None:
        project = ProjectConfiguration(
            project_dir=str(resume_dir), automatic_checkpoint_naming=True, total_limit=2
        )
    return Accelerator(
        mixed_precision=precision,
        gradient_accumulation_steps=accumulation_steps(hp, processes),
        project_config=project,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=seed),
    )


@dataclass
class TrainState:
    """Progress of a run: what resuming and the summary need (saved with every checkpoint)."""

    epoch: int = 0
    optimizer_steps: int = 0
    batches_in_epoch: int = 0
    loss_in_epoch: float = 0.0
    seconds_in_epoch: float = 0.0
    best_score: float = -math.inf
    best_epoch: int = -1
    history: list[dict] = field(default_factory=list)

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, values: dict) -> None:
        for key, value in values.items():
            setattr(self, key, value)

    def end_epoch(self) -> None:
        self.epoch += 1
        self.batches_in_epoch, self.loss_in_epoch, self.seconds_in_epoch = 0, 0.0, 0.0

    def record_epoch(self, loss: float, dev: dict[str, float], metric: str, rate: float) -> bool:
        """Store an epoch's numbers; True when its dev score is the best so far."""
        value = dev[metric]
        self.history.append({"epoch": self.epoch, "loss": loss, "examples_per_s": rate, **dev})
        improved = math.isfinite(value) and value > self.best_score
        if improved:
            self.best_score, self.best_epoch = value, self.epoch
        return improved


def build_optimizer(model: PreTrainedModel, hp: Hyperparameters) -> torch.optim.Optimizer:
    """AdamW (or Adafactor) without weight decay on biases and LayerNorm weights (as BERT was
    trained)."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        # LayerNorm (BERT, XLM-R) and layer_norm / final_layer_norm (T5) alike.
        norm = "layernorm" in name.lower().replace("_", "")
        (no_decay if name.endswith("bias") or norm else decay).append(parameter)
    groups = [
        {"params": decay, "weight_decay": hp.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if hp.optimizer == "adafactor":
        # T5's fine-tuning optimiser at a fixed learning rate (no relative step or scaling).
        from transformers.optimization import Adafactor

        return Adafactor(
            groups,
            lr=hp.learning_rate,
            scale_parameter=False,
            relative_step=False,
            warmup_init=False,
        )
    return torch.optim.AdamW(groups, lr=hp.learning_rate)


def optimizer_steps_per_epoch(num_examples: int, hp: Hyperparameters, processes: int) -> int:
    """Optimizer steps of one process per epoch once the loader is sharded."""
    micro_batches = math.ceil(num_examples / (hp.per_device_batch_size * processes))
    return math.ceil(micro_batches / accumulation_steps(hp, processes))


def build_scheduler(optimizer, hp: Hyperparameters, steps: int, processes: int):
    """Linear warm-up and decay; Accelerate steps a prepared scheduler once per process."""
    total = steps * processes
    return get_linear_schedule_with_warmup(optimizer, int(hp.warmup_ratio * total), total)


@dataclass
class SaveClock:
    """Whether `minutes` of training passed since the last resume state; every rank agrees."""

    minutes: float
    last: float = field(default_factory=time.monotonic)

    def due(self, accelerator: Accelerator) -> bool:
        if not self.minutes:
            return False
        late = time.monotonic() - self.last >= self.minutes * 60
        if accelerator.num_processes == 1:
            return late
        # Ranks' clocks differ; one that saved alone would wait in save_state's barrier for ever.
        flag = broadcast(torch.tensor([int(late)], device=accelerator.device), from_process=0)
        return bool(flag.item())

    def restart(self) -> None:
        self.last = time.monotonic()


def save_resume_state(accelerator: Accelerator) -> None:
    """Save the Accelerate state, then drop the older ones: one resume state stays on disk
    (two only while the next is written, so a job killed mid-save still has one)."""
    accelerator.save_state()
    if accelerator.is_main_process:
        checkpoints = Path(accelerator.project_configuration.project_dir) / "checkpoints"
        newest = complete_checkpoints(checkpoints)[-1]
        for folder in checkpoints.iterdir():
            if checkpoint_number(folder) < checkpoint_number(newest):
                shutil.rmtree(folder, ignore_errors=True)
    accelerator.wait_for_everyone()


@dataclass
class PendingLoss:
    """A batch's loss still on the device, with where it was computed (for the error)."""

    loss: torch.Tensor
    step: int
    batch: int
    rate: float


def read_losses(pending: list[PendingLoss], state: TrainState, hp: Hyperparameters) -> None:
    """Add the pending losses to the epoch's sum in one device sync, in batch order (the same
    float sum as reading each); stop at the first non-finite one."""
    if not pending:
        return
    values = torch.stack([entry.loss for entry in pending]).tolist()
    for value, entry in zip(values, pending, strict=True):
        if not math.isfinite(value):
            # Name where and at which rate: a diverging run is mostly a learning rate too high
            # for the model or precision, and the step says how soon it went.
            raise TrainingError(
                f"non-finite loss {value} at optimizer step {entry.step} (epoch {state.epoch}, "
                f"batch {entry.batch}), learning rate {entry.rate:.3g} (configured "
                f"{hp.learning_rate:g}); lower the learning rate or use fp32/bf16 instead of fp16"
            )
        state.loss_in_epoch += value
    pending.clear()


def train_epoch(
    model: PreTrainedModel,
    loader: DataLoader,
    optimizer,
    scheduler,
    accelerator: Accelerator,
    hp: Hyperparameters,
    state: TrainState,
) -> float:
    """The rest of the current epoch (all of it unless resumed mid-way); returns its mean loss."""
    model.train()
    loader.set_epoch(state.epoch)  # the seedable sampler's order depends on the epoch alone
    done = state.batches_in_epoch
    batches = accelerator.skip_first_batches(loader, done) if done else loader
    fail_after = int(os.environ.get(FAIL_AFTER_STEPS, 0))
    delay = float(os.environ.get(STEP_DELAY, 0))
    started = time.perf_counter() - state.seconds_in_epoch
    saves = SaveClock(hp.checkpoint_minutes)
    bar = progress(batches, desc=f"epoch {state.epoch}", enabled=accelerator.is_local_main_process)
    pending: list[PendingLoss] = []  # losses not read yet: reading one syncs the device

    def read() -> None:
        read_losses(pending, state, hp)
        bar.set_postfix(loss=f"{state.loss_in_epoch / max(state.batches_in_epoch, 1):.4f}")

    for batch in bar:
        with accelerator.accumulate(model):
            loss = model(**batch).loss
            pending.append(
                PendingLoss(
                    loss.detach(),
                    state.optimizer_steps + 1,
                    state.batches_in_epoch + 1,
                    scheduler.get_last_lr()[0],
                )
            )
            accelerator.backward(loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(model.parameters(), hp.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        state.batches_in_epoch += 1
        if len(pending) >= LOSS_SYNC_EVERY:
            read()
        if accelerator.sync_gradients:
            state.optimizer_steps += 1
            state.seconds_in_epoch = time.perf_counter() - started
            # The epoch's last step is saved by run_finetune after the dev evaluation.
            last = accelerator.gradient_state.end_of_dataloader
            by_steps = hp.checkpoint_steps and state.optimizer_steps % hp.checkpoint_steps == 0
            if not last and (by_steps or saves.due(accelerator)):
                read()  # a resume state holds the loss sum as a float, and no diverged weights
                save_resume_state(accelerator)
                saves.restart()
            if fail_after and state.optimizer_steps >= fail_after:
                raise TrainingError(f"{FAIL_AFTER_STEPS}={fail_after}: failing as asked")
            if delay:
                time.sleep(delay)
    read()
    state.seconds_in_epoch = time.perf_counter() - started
    # Each rank saw its own share of the batches: report the mean over all of them.
    local = torch.tensor(
        state.loss_in_epoch / max(state.batches_in_epoch, 1), device=accelerator.device
    )
    return accelerator.reduce(local, reduction="mean").item()


def save_model(accelerator: Accelerator, model: PreTrainedModel, tokenizer, path: Path) -> None:
    """Safetensors weights and the tokenizer, written by the main process."""
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(
            path, save_function=accelerator.save, safe_serialization=True
        )
        tokenizer.save_pretrained(path)


def prepare_staging(output_dir: Path, accelerator: Accelerator, resuming: bool) -> Path:
    """The `<output>.partial` folder (the same on every rank) that becomes the output.

    A resumed run keeps it: it holds the best epoch saved before the interruption.
    """
    staging = output_dir.with_name(output_dir.name + ".partial")
    if accelerator.is_main_process:
        if staging.exists() and not resuming:
            shutil.rmtree(staging)
        staging.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    return staging


def resume_folder(output_dir: Path) -> Path:
    """Where a job keeps its Accelerate checkpoints until its output is complete."""
    return output_dir.with_name(output_dir.name + ".resume")


# Accelerate writes a checkpoint's files one by one and registered objects (TrainState) last:
# a folder without that file was cut off mid-save and is skipped.
LAST_CHECKPOINT_FILE = "custom_checkpoint_0.pkl"


def checkpoint_number(folder: Path) -> int:
    """N of Accelerate's automatically named `checkpoint_N` folder."""
    return int(folder.name.rsplit("_", 1)[-1])


def complete_checkpoints(checkpoints: Path) -> list[Path]:
    """Finished checkpoint folders, oldest first."""
    if not checkpoints.is_dir():
        return []
    found = [p for p in checkpoints.iterdir() if (p / LAST_CHECKPOINT_FILE).exists()]
    return sorted(found, key=checkpoint_number)


def restore_checkpoint(accelerator: Accelerator, resume_dir: Path, spec: FinetuneSpec) -> bool:
    """Load the newest complete checkpoint of an interrupted run of the same spec.

    Returns True if one was loaded. Checkpoints of a different spec (changed hyperparameters,
    data or seed) are discarded.
    """
    checkpoints = resume_dir / "checkpoints"
    spec_file = resume_dir / SPEC_FILE
    same_spec = spec_file.exists() and spec_file.read_text() == spec.to_json()
    usable = complete_checkpoints(checkpoints) if same_spec else []
    if spec_file.exists() and not same_spec:
        log.warning(f"{resume_dir}: checkpoints of another run spec, starting afresh")
    if accelerator.is_main_process and not usable:
        shutil.rmtree(resume_dir, ignore_errors=True)
        resume_dir.mkdir(parents=True)
        spec_file.write_text(spec.to_json())
    accelerator.wait_for_everyone()
    if not usable:
        return False
    newest = usable[-1]
    numbers = [checkpoint_number(p) for p in checkpoints.iterdir()]
    # New checkpoints are numbered after every folder there, the cut-off ones included.
    accelerator.project_configuration.iteration = max(numbers) + 1
    accelerator.load_state(str(newest))
    return True


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
        # The main process encodes (or maps) first: the others then find its cache entry.
        train = encode_once(
            spec.task.kind,
            train,
            tokenizer,
            hp.max_length,
            hp.doc_stride,
            cache_beside(spec.train_file),
        )
        return train, dev


def pinned_to_commit(spec: FinetuneSpec) -> FinetuneSpec:
    """A staged Hub model's spec with the commit it resolved to as its revision, so the
    checkpoint's summary and every score row record the exact weights."""
    if spec.staged is None:
        return spec
    from xltransfer.data.staging import commit_of, require_staged

    require_staged(spec.staged)
    return replace(spec, revision=commit_of(spec.staged))


def run_finetune(spec: FinetuneSpec, output_dir: Path) -> TrainState:
    """Fine-tune per the spec, keep the best English-dev epoch, write it atomically."""
    spec = pinned_to_commit(spec)
    hp = spec.hyperparameters
    torch.set_num_threads(spec.threads)
    resume_dir = resume_folder(output_dir)
    accelerator = build_accelerator(hp, resume_dir, spec.seed)
    set_seed(spec.seed)  # before the model is built, so the new head is seeded too
    tokenizer = load_tokenizer(spec.init_checkpoint or spec.init_model, spec.revision)
    model, head_carried = build_classifier(
        spec.init_model, spec.revision, spec.task, spec.init_checkpoint
    )
    train_examples, dev_frame = _load_examples(spec, tokenizer, accelerator)
    precision = accelerator.mixed_precision
    kind = spec.task.kind
    train_loader = kind.loader(
        train_examples,
        tokenizer,
        hp.per_device_batch_size,
        shuffle=True,
        seed=spec.seed,
        mixed_precision=precision,
    )
    processes = accelerator.num_processes
    steps = optimizer_steps_per_epoch(len(train_examples), hp, processes) * hp.epochs
    optimizer = build_optimizer(model, hp)
    scheduler = build_scheduler(optimizer, hp, steps, processes)
    model, optimizer, train_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, scheduler
    )
    dev_set = kind.eval_set(
        dev_frame,
        tokenizer,
        accelerator,
        spec.task.labels,
        hp.max_length,
        hp.eval_batch_size,
        hp.doc_stride,
        cache=cache_beside(spec.dev_file),
    )
    state = TrainState()
    accelerator.register_for_checkpointing(state)
    resumed = restore_checkpoint(accelerator, resume_dir, spec)
    if resumed:
        log.info(
            f"resuming at epoch {state.epoch}, batch {state.batches_in_epoch} "
            f"({state.optimizer_steps} optimizer steps done)"
        )
    log.info(
        f"{spec.task.task}: {len(train_examples)} train / {len(dev_set)} dev examples, "
        f"{processes} process(es), global batch {hp.global_batch_size} "
        f"(accumulation {accelerator.gradient_accumulation_steps}), precision {precision}, "
        f"{steps} optimizer steps"
    )
    staging = prepare_staging(output_dir, accelerator, resuming=resumed)
    while state.epoch < hp.epochs:
        loss = train_epoch(model, train_loader, optimizer, scheduler, accelerator, hp, state)
        rate = len(train_examples) / max(state.seconds_in_epoch, 1e-9)
        dev = kind.score(model, dev_set, accelerator)
        if state.record_epoch(loss, dev, spec.task.metric, rate):
            save_model(accelerator, model, tokenizer, staging)
        log.info(
            f"epoch {state.epoch}: loss {loss:.4f}, dev {spec.task.metric} "
            f"{dev[spec.task.metric]:.4f}, {rate:.0f} examples/s"
        )
        state.end_epoch()
        save_resume_state(accelerator)  # an epoch boundary: a restart never redoes finished epochs
    accelerator.wait_for_everyone()
    if state.best_epoch < 0:
        raise TrainingError(f"{spec.task.task}: no epoch gave a finite dev score")
    if accelerator.is_main_process:
        summary = training_summary(spec, state, accelerator, head_carried)
        (staging / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
        publish_staging(staging, output_dir)
        keep_finished(output_dir)  # until scored: a retry of this job puts it back
        shutil.rmtree(resume_dir, ignore_errors=True)
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
