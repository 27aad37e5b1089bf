"""Cost plan of a grid before it is submitted: jobs per rule, tokens, device-hours and disk.

Everything comes from the validated config (grid, hyperparameters, `plan:` figures) and, where
staging has written them, the datasets' lock files: nothing runs and no GPU is needed. Every
figure is an estimate that names where it comes from, so a guess can be replaced by a measurement.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from xltransfer.config import (
    Grid,
    embedded_coverage,
    embeds_fine_tuned_checkpoints,
    expected_job_counts,
    stage_hyperparameters,
)
from xltransfer.data.dataset_files import CARD, DatasetLayoutError, read_card, split_files
from xltransfer.data.tasks import TaskSpec, load_registry

BYTES_PER_PARAMETER = 4  # checkpoints are fp32 safetensors
# An Accelerate resume state holds the model and AdamW's two moments; train.save_resume_state
# keeps one, two only while the next is written (the peak counted here), deleted on success.
STATE_COPIES = 3
STATES_KEPT = 2
DEFAULT_JOBS_IN_FLIGHT = 100  # the SLURM profile's `jobs` when it sets none
DEFAULT_STAGING_CACHE = "resources/hub"
DEMO_SIZES = {"train": "train_size", "dev": "dev_size", "test": "test_size"}
# The resource family (config `resources:`) whose GPUs each estimated rule takes.
FAMILIES = {
    "pretrain": "pretrain",
    "train_source": "train",
    "train_target": "train",
    "evaluate": "evaluate",
    "evaluate_retrieval": "evaluate",
    "task_embedding": "evaluate",
}


class PlanError(ValueError):
    """Figures the plan needs that the config does not give; the message names every key."""


@dataclass(frozen=True)
class Rows:
    """Row count of one split in one language, and where the figure comes from."""

    count: int
    origin: str


def _in_split(path: str, config_name: str | None, split: str) -> bool:
    """Whether a repository file belongs to a config's split, by the Hub's Parquet layouts:
    `<config>/[partial-]<split>/*.parquet` (refs/convert/parquet), `<config>/<split>-*.parquet`."""
    *folders, name = PurePosixPath(path).parts
    if not name.endswith(".parquet") or (config_name is not None and config_name not in folders):
        return False
    in_folder = split in folders or f"partial-{split}" in folders
    return in_folder or name.startswith((f"{split}-", f"{split}."))


def _split_paths(lock: dict[str, Any], config_name: str | None, split: str) -> list[str]:
    """A split's files: as the dataset card names them where read_locks found the card (the
    jobs' own mapping), else by folder and file names."""
    paths = [f["path"] for f in lock.get("files", [])]
    if lock.get("card") is not None:
        try:
            return split_files(lock["card"], paths, config_name, split, lock.get("repo_id", "?"))
        except DatasetLayoutError:
            return []
    return [p for part in split.split("+") for p in paths if _in_split(p, config_name, part)]


def lock_rows(lock: dict[str, Any], config_name: str | None, split: str) -> int | None:
    """Rows of a config's split in a dataset lock file (`a+b` adds splits); None when it names
    no file there or a file without a row count."""
    rows = {f["path"]: f.get("rows") for f in lock.get("files", [])}
    counts = [rows[p] for p in _split_paths(lock, config_name, split)]
    if not counts or any(c is None for c in counts):
        return None
    return sum(counts)


def lock_bytes_per_row(lock: dict[str, Any]) -> float | None:
    """Mean stored bytes per row over a lock's counted files (None when none is counted)."""
    counted = [f for f in lock.get("files", []) if f.get("rows") and f.get("size") is not None]
    rows = sum(f["rows"] for f in counted)
    return sum(f["size"] for f in counted) / rows if rows else None


def read_locks(cache: Path | str, datasets: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The lock files staging wrote (`<cache>/locks/datasets/<owner>/<name>.json`) of the given
    Hub ids, each with its staged dataset card where that is readable; datasets not staged yet
    are left out."""
    locks = {}
    for dataset in dict.fromkeys(datasets):
        path = Path(cache) / "locks" / "datasets" / f"{dataset}.json"
        if path.is_file():
            lock = json.loads(path.read_text())
            card = Path(lock.get("folder", "")) / CARD
            lock["card"] = read_card(card.read_text()) if card.is_file() else None
            locks[dataset] = lock
    return locks


def _under(path: str, folder: str) -> bool:
    return os.path.normpath(path).startswith(os.path.normpath(folder) + os.sep)


@dataclass
class RowBook:
    """Row counts looked up once each: a lock file, else `plan.rows`, else the demo's generated
    sizes. Lookups that find nothing are collected, so one error can name them all."""

    config: dict[str, Any]
    registry: dict[str, TaskSpec]
    locks: dict[str, dict[str, Any]]
    found: dict[tuple[str, str, str], Rows] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def get(self, task: str, language: str, role: str) -> Rows | None:
        key = (task, language, role)
        if key not in self.found:
            rows = self._look_up(self.registry[task], language, role)
            if rows is None:
                self.missing.append(f"plan.rows.{task}.{role} ({language})")
                return None
            self.found[key] = rows
        return self.found[key]

    def _look_up(self, task: TaskSpec, language: str, role: str) -> Rows | None:
        lock = self.locks.get(task.dataset)
        # A lock counts whole configs: a task that keeps only some rows of one (TyDiQA's
        # languages by id prefix) would be overcounted, so it takes the config hint.
        if lock and task.language_rows is None:
            count = lock_rows(lock, task.config_name(language), task.split_name(role))
            if count is not None:
                return Rows(count, "lock file")
        entry = self.config["plan"]["rows"].get(task.name) or {}
        hint = entry.get(role)
        if isinstance(hint, dict):
            hint = hint.get(language)
        if hint is not None:
            return Rows(int(hint), f"plan.rows: {entry.get('source', 'no source given')}")
        demo = self.config.get("demo_benchmark")
        if demo and _under(task.dataset, demo["output"]):
            return Rows(int(demo[DEMO_SIZES[role]]), "demo_benchmark sizes")
        return None

    def bytes_per_row(self, task: str) -> float:
        lock = self.locks.get(self.registry[task].dataset)
        measured = lock_bytes_per_row(lock) if lock else None
        return measured or self.config["plan"]["bytes_per_row"]


# Bytes AdamW moves per parameter and optimizer step, all fp32 (mixed precision keeps fp32
# weights): read weight, gradient and both moments, write weight and both moments (28), and
# the gradient clipping's norm read and rescale (8). Embedding rows count like any other:
# torch's AdamW updates the whole table every step.
OPTIMIZER_BYTES_PER_PARAMETER = 36
BOUNDS = ("low", "high")  # device-hours: the optimistic and the pessimistic end


def _bounds(value: float | dict[str, float]) -> dict[str, float]:
    """An assumed share as {low, high} (a single number is both ends)."""
    return dict(value) if isinstance(value, dict) else {"low": value, "high": value}


@dataclass(frozen=True)
class Throughput:
    """Tokens per second on one device, forward+backward when training and forward when
    scoring, at each end of the range (`low` device-hours: the fast end), and the seconds of
    each optimizer step that the token rate leaves out (0 where a measurement includes it)."""

    train: dict[str, float]
    eval: dict[str, float]
    source: str
    citations: tuple[str, ...] = ()  # what a derived figure rests on, printed once per plan
    step_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(BOUNDS, 0.0))
    measured: bool = False  # from plan.models.<model>.throughput, not the FLOPs estimate


def model_throughput(plan: dict[str, Any], model: str) -> Throughput | None:
    """A model's measured throughput on the plan's device, else one from model FLOPs (6 per
    compute parameter and token to train, 2 to score) at the assumed MFU range of the device's
    peak, plus AdamW's step over every parameter at the assumed share of the device's memory
    bandwidth where the device gives one."""
    entry = plan["models"].get(model)
    if entry is None:
        return None
    device = plan["device"]
    measured = (entry.get("throughput") or {}).get(device)
    if measured:
        return Throughput(
            _bounds(measured["train_tokens_per_s"]),
            _bounds(measured["eval_tokens_per_s"]),
            measured["source"],
            measured=True,
        )
    peak = plan["devices"].get(device)
    if peak is None:
        return None
    compute = entry.get("compute_parameters") or entry["parameters"]
    mfu = plan["mfu"]
    train, scoring = _bounds(mfu["train"]), _bounds(mfu["eval"])
    flops = peak["peak_tflops"] * 1e12
    # The fast end (low hours) takes the high MFU and the high bandwidth share.
    fast = {"low": "high", "high": "low"}
    step = dict.fromkeys(BOUNDS, 0.0)
    optimizer = ""
    if peak.get("memory_gb_per_s"):
        share = _bounds(plan["optimizer_bandwidth_share"])
        moved = OPTIMIZER_BYTES_PER_PARAMETER * entry["parameters"]
        step = {b: moved / (peak["memory_gb_per_s"] * 1e9 * share[fast[b]]) for b in BOUNDS}
        optimizer = (
            f"; AdamW {1e3 * step['low']:.1f}-{1e3 * step['high']:.1f} ms a step "
            f"({entry['parameters'] / 1e6:,.0f}M parameters x {OPTIMIZER_BYTES_PER_PARAMETER} "
            f"bytes at {share['low']:.0%}-{share['high']:.0%} of {peak['memory_gb_per_s']:g} GB/s)"
        )
    return Throughput(
        train={b: flops * train[fast[b]] / (6 * compute) for b in BOUNDS},
        eval={b: flops * scoring[fast[b]] / (2 * compute) for b in BOUNDS},
        source=(
            f"FLOPs: {compute / 1e6:,.0f}M compute parameters, {_share(train)} (train) and "
            f"{_share(scoring)} (eval) MFU of {peak['peak_tflops']:g} TFLOPS{optimizer}"
        ),
        citations=(
            f"{device} peak: {peak['source']}",
            f"MFU: {mfu['source']}",
            *([f"{model} parameters: {entry['source']}"] if entry.get("source") else []),
        ),
        step_seconds=step,
    )


def _share(bounds: dict[str, float]) -> str:
    low, high = bounds["low"], bounds["high"]
    return f"{low:.0%}" if low == high else f"{low:.0%}-{high:.0%}"


@dataclass(frozen=True)
class Workload:
    """Alike jobs of one rule, model and task: their tokens in all and how they were counted."""

    rule: str
    model: str
    task: str
    jobs: int
    train_tokens: int  # forward+backward, all jobs together
    eval_tokens: int  # forward only, all jobs together
    devices: int  # GPUs per job (one process on a CPU-only job)
    detail: str  # the count per job, for the reader
    steps: int = 0  # optimizer steps, all jobs together

    def hours(self, speed: Throughput, overhead_minutes: float, bound: str = "high") -> float:
        """Device-hours of all the jobs at one end of the range: tokens, optimizer steps (on
        each of the job's devices) and a fixed start-up per job and device."""
        compute = self.train_tokens / speed.train[bound] + self.eval_tokens / speed.eval[bound]
        compute += self.steps * self.devices * speed.step_seconds[bound]
        return compute / 3600 + self.jobs * self.devices * overhead_minutes / 60


def _sequences(config: dict[str, Any], *tasks: str) -> float:
    # One sequence per choice (multiple choice) or per sentence (bi-encoder, retrieval): data,
    # not a branch on the task type.
    hints = config["plan"]["sequences_per_example"]
    return next((hints[t] for t in tasks if t in hints), 1)


def _devices(config: dict[str, Any], rule: str) -> int:
    return max(1, int(config["resources"][FAMILIES[rule]]["gpu"]))


def training_workloads(config: dict[str, Any], grid: Grid, book: RowBook) -> list[Workload]:
    """Fine-tuning: examples x epochs x max length (x sequences per example) per job, plus the
    English dev split scored at every epoch end."""
    runs = len(grid.sources_with_baseline)
    stages = (
        ("source", "train_source", grid.sources, len(grid.seeds)),
        ("target", "train_target", grid.fine_tuned_targets, len(grid.seeds) * runs),
    )
    workloads = []
    for stage, rule, tasks, jobs in stages:
        for model in grid.models:
            for task in tasks:
                data = grid.train_data[task]
                train = book.get(data, grid.source_language, "train")
                dev = book.get(data, grid.source_language, "dev")
                if train is None or dev is None:
                    continue
                hp = stage_hyperparameters(config, stage, task, model)
                examples = min(train.count, hp["max_train_examples"] or train.count)
                per_pass = hp["epochs"] * hp["max_length"] * _sequences(config, task, data)
                steps = -(-examples // hp["global_batch_size"]) * hp["epochs"]
                workloads.append(
                    Workload(
                        rule=rule,
                        model=model,
                        task=task,
                        jobs=jobs,
                        train_tokens=round(jobs * examples * per_pass),
                        eval_tokens=round(jobs * dev.count * per_pass),
                        devices=_devices(config, rule),
                        detail=(
                            f"{examples:,} examples x {hp['epochs']} epochs x "
                            f"{hp['max_length']} tokens x {_sequences(config, task, data):g}"
                        ),
                        steps=jobs * steps,
                    )
                )
    return workloads


def evaluation_workloads(config: dict[str, Any], grid: Grid, book: RowBook) -> list[Workload]:
    """Zero-shot scoring: every language's test rows (and a mining target's dev rows) at the
    target's max length, once per run."""
    runs = len(grid.seeds) * len(grid.sources_with_baseline)
    workloads = []
    for model in grid.models:
        for target in grid.targets:
            roles = grid.retrieval_roles.get(target, ("test",))
            rows = [
                book.get(target, lang, r) for lang in grid.target_languages[target] for r in roles
            ]
            shards = len(grid.shards(target))
            if target in grid.aligned_targets:
                # The alignment is fit on the English test translations, embedded once per shard.
                rows += [book.get(target, grid.source_language, "test")] * shards
            if None in rows:
                continue
            hp = stage_hyperparameters(config, "target", target, model)
            count = sum(r.count for r in rows)
            per_run = count * hp["max_length"] * _sequences(config, target)
            rule = "evaluate_retrieval" if target in grid.retrieval_roles else "evaluate"
            workloads.append(
                Workload(
                    rule=rule,
                    model=model,
                    task=target,
                    jobs=runs * shards,
                    train_tokens=0,
                    eval_tokens=round(runs * per_run),
                    devices=_devices(config, rule),
                    detail=f"{count:,} rows x {hp['max_length']} tokens x "
                    f"{_sequences(config, target):g} per run",
                )
            )
    return workloads


def other_workloads(config: dict[str, Any], grid: Grid) -> list[Workload]:
    """Masked-LM pretraining of built models, and the embedding similarities (one forward pass
    over `embedding_examples` per task and model)."""
    workloads = []
    for model in grid.models:
        build = config["models"][model].get("build")
        if build:
            tokens = build["steps"] * build["batch_size"] * build["max_length"]
            detail = f"{build['steps']:,} steps x {build['batch_size']} x {build['max_length']}"
            workloads.append(
                Workload(
                    "pretrain", model, "corpus", 1, tokens, 0, _devices(config, "pretrain"), detail
                )
            )
    examples = config["similarity"]["embedding_examples"]
    length = config["training"]["source"]["max_length"]
    for method, (models, targets) in embedded_coverage(config).items():
        tasks = len(dict.fromkeys((*grid.sources, *targets)))
        # Fine-tuned TaskEmb backpropagates every batch (forward and backward, like training);
        # TextEmb reads forward only, and Task2Vec's probe on frozen features is counted so.
        backward = embeds_fine_tuned_checkpoints(config, method)
        tokens = tasks * examples * length
        for model in models:
            workloads.append(
                Workload(
                    rule="task_embedding",
                    model=model,
                    task=f"{method}: {tasks} tasks",
                    jobs=tasks,  # one job (and model load) per task
                    train_tokens=tokens if backward else 0,
                    eval_tokens=0 if backward else tokens,
                    devices=_devices(config, "task_embedding"),
                    detail=f"{examples:,} examples x {length} tokens",
                )
            )
    return workloads


@dataclass(frozen=True)
class DiskItem:
    """Something the grid stores: how many, their size in all, and whether it stays."""

    what: str
    count: int
    total: float  # bytes
    kept: bool  # still there when the grid is done (otherwise counted at the peak only)


def disk_items(
    grid: Grid,
    book: RowBook,
    parameters: dict[str, int],
    jobs_in_flight: int,
    keep_targets: bool,
) -> list[DiskItem]:
    """Checkpoints, resume states of the training jobs in flight, data shards, staged datasets."""
    size = {model: count * BYTES_PER_PARAMETER for model, count in parameters.items()}
    largest = max(size.values())
    seeds, runs = len(grid.seeds), len(grid.sources_with_baseline)
    items = []
    for model in grid.models:
        items.append(DiskItem(f"pretrained weights, {model}", 1, size[model], True))
        count = seeds * len(grid.sources)
        items.append(DiskItem(f"source checkpoints, {model}", count, count * size[model], True))
        if keep_targets:
            count = seeds * runs * len(grid.fine_tuned_targets)
            items.append(DiskItem(f"target checkpoints, {model}", count, count * size[model], True))
    training_jobs = (
        len(grid.models) * seeds * (len(grid.sources) + runs * len(grid.fine_tuned_targets))
    )
    in_flight = min(jobs_in_flight, training_jobs)
    if not keep_targets:
        # Temporary target checkpoints live from training until their shards are scored.
        count = min(jobs_in_flight, len(grid.models) * seeds * runs * len(grid.fine_tuned_targets))
        items.append(
            DiskItem("target checkpoints in flight (largest model)", count, count * largest, False)
        )
    states = in_flight * STATES_KEPT
    items.append(
        DiskItem(
            f"resume states, at most {STATES_KEPT} per training job in flight (largest model)",
            states,
            states * STATE_COPIES * largest,
            False,
        )
    )
    needs = grid.data_needs()
    data = 0.0
    for task, language, role in needs:
        rows = book.get(task, language, role)
        data += rows.count * book.bytes_per_row(task) if rows else 0
    items.append(DiskItem("prepared data shards", len(needs), data, True))
    staged = [f.get("size") or 0 for lock in book.locks.values() for f in lock.get("files", [])]
    if book.locks:
        items.append(
            DiskItem("staged Hub datasets (lock files)", len(book.locks), sum(staged), True)
        )
    return items


@dataclass(frozen=True)
class Plan:
    """A grid's cost: jobs, workloads with their throughput, rows read and disk."""

    run: str
    device: str
    jobs_in_flight: int
    overhead_minutes: float
    job_counts: dict[str, int]
    workloads: list[Workload]
    speeds: dict[str, Throughput]
    parameters: dict[str, int]
    rows: dict[tuple[str, str, str], Rows]
    disk: list[DiskItem]
    keep_target_checkpoints: bool

    def hours(self, workload: Workload, bound: str = "high") -> float:
        return workload.hours(self.speeds[workload.model], self.overhead_minutes, bound)

    def rule_hours(self, bound: str = "high") -> dict[str, float]:
        """Device-hours per estimated rule, at one end of the range (`high` by default: what
        to budget)."""
        out: dict[str, float] = {}
        for workload in self.workloads:
            out[workload.rule] = out.get(workload.rule, 0.0) + self.hours(workload, bound)
        return out

    @property
    def total_hours(self) -> float:
        return sum(self.rule_hours().values())

    @property
    def hours_range(self) -> tuple[float, float]:
        """Total device-hours at the fast and the slow end of the assumptions (equal where
        every throughput is measured)."""
        return tuple(sum(self.rule_hours(bound).values()) for bound in BOUNDS)

    @property
    def measured(self) -> bool:
        return all(speed.measured for speed in self.speeds.values())

    @property
    def overhead_hours(self) -> float:
        """The share of `total_hours` that is per-job start-up rather than tokens."""
        return sum(w.jobs * w.devices for w in self.workloads) * self.overhead_minutes / 60

    @property
    def final_bytes(self) -> float:
        return sum(item.total for item in self.disk if item.kept)

    @property
    def peak_bytes(self) -> float:
        return sum(item.total for item in self.disk)


def build_plan(
    config: dict[str, Any],
    locks: dict[str, dict[str, Any]] | None = None,
    jobs_in_flight: int = DEFAULT_JOBS_IN_FLIGHT,
) -> Plan:
    """The cost plan of a validated, cross-checked config; PlanError names every missing figure."""
    if "published" in config:
        raise PlanError("a published-results run trains nothing; `make dag` shows its jobs")
    grid = Grid.from_config(config)
    book = RowBook(config, load_registry(config["tasks"]), locks or {})
    plan_config = config["plan"]
    workloads = [
        *training_workloads(config, grid, book),
        *evaluation_workloads(config, grid, book),
        *other_workloads(config, grid),
    ]
    missing = list(dict.fromkeys(book.missing))
    speeds, parameters = {}, {}
    for model in grid.models:
        entry = plan_config["models"].get(model)
        speed = model_throughput(plan_config, model)
        if entry is None:
            missing.append(f"plan.models.{model}.parameters")
        elif speed is None:
            missing.append(
                f"plan.models.{model}.throughput.{plan_config['device']} "
                f"(or plan.devices.{plan_config['device']})"
            )
        if entry is not None:
            parameters[model] = int(entry["parameters"])
        if speed is not None:
            speeds[model] = speed
    if missing:
        raise PlanError(f"the plan needs figures the config does not give: {', '.join(missing)}")
    # Another change makes target checkpoints temporary behind this key; kept until then.
    keep_targets = (config.get("keep") or {}).get("target_checkpoints", False)
    return Plan(
        run=config["run"],
        device=plan_config["device"],
        jobs_in_flight=jobs_in_flight,
        overhead_minutes=plan_config["overhead_minutes"],
        job_counts=expected_job_counts(config),
        workloads=workloads,
        speeds=speeds,
        parameters=parameters,
        rows=dict(book.found),
        disk=disk_items(grid, book, parameters, jobs_in_flight, keep_targets),
        keep_target_checkpoints=keep_targets,
    )
