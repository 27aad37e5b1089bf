"""Live state of a grid: which source x target cells are scored, running, failed or to do.

It reads what the workflow leaves in its working directory (score shards and checkpoints, the
rules' logs, the SLURM plugin's job logs, Snakemake's incomplete markers and locks) and, where the
command exists, `squeue`, whose job comments name each job's rule and wildcards. It never starts
or changes a job.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from base64 import urlsafe_b64decode
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xltransfer.config import BASELINE_SOURCE, Grid

DONE, RUNNING, FAILED, PENDING = "done", "running", "failed", "pending"
CANCELLED, TIMEOUT, OOM = "cancelled", "timed out", "out of memory"
FAILURES = (FAILED, CANCELLED, TIMEOUT, OOM)
STATES = (DONE, RUNNING, *FAILURES, PENDING)
# How slurmstepd ends a job's log when SLURM, not the job, stopped it.
SLURM_ENDS = (
    (re.compile(r"CANCELLED AT .* DUE TO TIME LIMIT"), TIMEOUT),
    (re.compile(r"oom[-_ ]kill|Out Of Memory|OUT_OF_MEMORY", re.IGNORECASE), OOM),
    (re.compile(r"\*\*\* (?:JOB|STEP) \S+ ON \S+ CANCELLED AT"), CANCELLED),
)
TAIL_BYTES = 16_384  # enough for the last lines of a traceback
TAIL_LINES = 40
TRACEBACK = "Traceback (most recent call last)"
# A Python exception line ("ValueError: NaN loss"), slurmstepd's and Snakemake's error lines.
ERROR_LINE = re.compile(
    r"^\s*(?:[\w.]+(?:Error|Exception|Interrupt)\b.*|.*\berror: .*|Error in rule .*)$"
)
# What the plugin's job status check asks squeue too, with the job's working directory (another
# folder's run may use the same names) and the comment that names the job. Ended jobs too: SLURM
# keeps them MinJobAge seconds (300 by default), long enough to tell a cancelled job from one
# that never ran; after that the SLURM logs tell.
SQUEUE = ["squeue", "--me", "--noheader", "--states=all", "--format=%i|%T|%Z|%k"]
# SLURM's job states (squeue --states) as grid states; COMPLETED says nothing the files do not.
SLURM_STATES = {
    **dict.fromkeys(("PENDING", "CONFIGURING", "REQUEUED", "RESIZING", "SUSPENDED"), PENDING),
    **dict.fromkeys(("RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"), RUNNING),
    "CANCELLED": CANCELLED,
    **dict.fromkeys(("TIMEOUT", "DEADLINE"), TIMEOUT),
    "OUT_OF_MEMORY": OOM,
    **dict.fromkeys(("FAILED", "NODE_FAIL", "BOOT_FAIL", "PREEMPTED", "SPECIAL_EXIT"), FAILED),
}
SLURM_LOGDIR = "logs/slurm"  # the profile's `slurm-logdir`


@dataclass(frozen=True)
class Job:
    """One Snakemake job of the grid: its rule, wildcards (in output-pattern order), files."""

    rule: str
    wildcards: tuple[tuple[str, str], ...]
    output: str
    log: str
    # The SLURM job it runs in when it is part of a target run's group (Grid.target_run_group).
    group: str | None = None

    @property
    def wildcard_string(self) -> str:
        # snakemake-executor-plugin-slurm joins the values with "_" (utils.get_job_wildcards).
        return "_".join(value for _, value in self.wildcards).replace("/", "_")

    @property
    def comment(self) -> str:
        """The `sbatch --comment` the SLURM plugin gives this job; a group job's is
        `rule_<group>_<its rules>` (which rules depends on what is left to run)."""
        if self.group:
            return f"rule_{self.group}_"
        return f"rule_{self.rule}_wildcards_{self.wildcard_string}"

    def slurm_logs(self, logdir: Path) -> list[Path]:
        """The plugin's logs of this job's SLURM jobs, oldest first."""
        if self.group:
            folders = list(logdir.glob(f"group_{self.group}_*"))
        else:  # the plugin's rule_<rule>/<wildcards>/ (rule/<wildcards>/ before its 2.x)
            folders = [
                logdir / name / self.wildcard_string for name in (f"rule_{self.rule}", self.rule)
            ]
        logs = [log for folder in folders for log in folder.glob("**/*.log")]
        return sorted(logs, key=lambda path: path.stat().st_mtime)

    def describe(self) -> str:
        return " ".join([self.rule, *(f"{k}={v}" for k, v in self.wildcards if k != "run")])


def _job(rule: str, output: str, log: str, group: str | None = None, **wildcards: Any) -> Job:
    values = {key: str(value) for key, value in wildcards.items()}
    return Job(rule, tuple(values.items()), output.format(**values), log.format(**values), group)


# Output and log paths of workflow/rules/train.smk and evaluate.smk.
SOURCE_MODEL = "results/{run}/models/{model}/seed{seed}/source/{source}"
SOURCE_LOG = "logs/{run}/train_source/{model}/seed{seed}/{source}.log"
TARGET_MODEL = "results/{run}/models/{model}/seed{seed}/target/{source}/{target}"
TARGET_LOG = "logs/{run}/train_target/{model}/seed{seed}/{source}/{target}.log"
SHARD = "results/{run}/scores/{model}/seed{seed}/{source}/{target}/shard{shard}.parquet"
SHARD_LOG = "logs/{run}/evaluate/{model}/seed{seed}/{source}/{target}/shard{shard}.log"


def source_job(run: str, model: str, seed: int, source: str) -> Job:
    return _job(
        "train_source", SOURCE_MODEL, SOURCE_LOG, run=run, model=model, seed=seed, source=source
    )


def cell_jobs(run: str, grid: Grid, model: str, seed: int, source: str, target: str) -> list[Job]:
    """A cell's own jobs: its target training (if the target is trained), then its shards."""
    names = {"run": run, "model": model, "seed": seed, "source": source, "target": target}
    trained = target in grid.trained_targets
    group = None
    if trained and grid.groups_target_runs:
        group = grid.target_run_group(model, seed, source, target)
    jobs = []
    if trained:
        fine_tuned = {**names, "target": grid.fine_tunes.get(target, target)}
        jobs.append(_job("train_target", TARGET_MODEL, TARGET_LOG, group, **fine_tuned))
    rule = "evaluate" if trained else "evaluate_retrieval"
    for shard in range(len(grid.shards(target))):
        jobs.append(_job(rule, SHARD, SHARD_LOG, group, **names, shard=shard))
    return jobs


def read_tail(path: Path) -> list[str]:
    """The last lines of a log (a training log can be long)."""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - TAIL_BYTES))
        text = handle.read().decode("utf-8", errors="replace")
    return text.splitlines()[-TAIL_LINES:]


def last_error(lines: list[str]) -> str | None:
    """The last error line of a log's tail: an error line, or the exception a traceback ends
    with (`xltransfer.jobs.InjectedFailure: ...`); its header where the tail cut that off."""
    found = {i: line.strip() for i, line in enumerate(lines) if ERROR_LINE.match(line)}
    starts = [i for i, line in enumerate(lines) if TRACEBACK in line]
    for start in starts:
        ending = next(
            (
                i
                for i in range(start + 1, len(lines))
                if lines[i].strip() and not lines[i][0].isspace()
            ),
            None,
        )
        found[ending if ending is not None else start] = (
            lines[ending].strip() if ending is not None else TRACEBACK
        )
    return found[max(found)] if found else None


def slurm_end(lines: list[str]) -> str | None:
    """Cancelled, timed out or out of memory, where slurmstepd's lines in a log say so."""
    text = "\n".join(lines)
    return next((state for pattern, state in SLURM_ENDS if pattern.search(text)), None)


def parse_squeue(text: str, root: Path) -> dict[str, tuple[str, str]]:
    """`squeue --format=%i|%T|%Z|%k` lines as job comment -> (SLURM job id, state) of the newest
    job of that comment run from `root` (a retry is a new job; older attempts are history)."""
    jobs: dict[str, tuple[str, str]] = {}
    here = root.resolve()
    for line in text.splitlines():
        parts = line.strip().split("|", 3)
        if len(parts) != 4 or not parts[0].isdigit() or Path(parts[2]).resolve() != here:
            continue
        job_id, state, _, comment = parts
        if comment not in jobs or int(job_id) > int(jobs[comment][0]):
            jobs[comment] = (job_id, state.split()[0])  # "CANCELLED by 0" -> CANCELLED
    return jobs


def query_squeue() -> tuple[str | None, str]:
    """squeue's listing of this user's jobs, or None and why there is none."""
    if shutil.which(SQUEUE[0]) is None:
        return None, "no squeue on PATH"
    try:
        done = subprocess.run(SQUEUE, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"squeue failed: {error}"
    if done.returncode != 0:
        return None, f"squeue failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}"
    return done.stdout, "squeue"


def incomplete_outputs(root: Path) -> frozenset[str]:
    """Outputs Snakemake has marked as being written: `.snakemake/incomplete/` names each one by
    its path in urlsafe base64, cut into `@`-prefixed folders when longer than a file name."""
    folder = root / ".snakemake" / "incomplete"
    paths = set()
    for marker in folder.rglob("*") if folder.is_dir() else ():
        if not marker.is_file() or marker.name == "migration_underway":
            continue
        encoded = "".join(part.removeprefix("@") for part in marker.relative_to(folder).parts)
        try:
            paths.add(urlsafe_b64decode(encoded).decode())
        except ValueError:
            continue  # not a marker
    return frozenset(paths)


@dataclass(frozen=True)
class JobState:
    """A job's state, with the log and line that show a failure and SLURM's id and state."""

    job: Job
    state: str
    log: str | None = None
    error: str | None = None
    slurm: tuple[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.job.rule,
            "wildcards": dict(self.job.wildcards),
            "state": self.state,
            "output": self.job.output,
            "log": self.log,
            "error": self.error,
            "slurm_job": self.slurm[0] if self.slurm else None,
            "slurm_state": self.slurm[1] if self.slurm else None,
        }


@dataclass(frozen=True)
class Evidence:
    """Everything the states are read from: the working directory and SLURM's queue."""

    root: Path
    slurm: dict[str, tuple[str, str]]
    incomplete: frozenset[str]
    snakemake_running: bool  # a Snakemake process holds this directory's locks
    slurm_logdir: str = SLURM_LOGDIR

    @classmethod
    def gather(cls, root: Path, squeue_text: str | None, slurm_logdir: str = SLURM_LOGDIR):
        locks = root / ".snakemake" / "locks"
        return cls(
            root=root,
            slurm=parse_squeue(squeue_text or "", root),
            incomplete=incomplete_outputs(root),
            snakemake_running=locks.is_dir() and any(locks.glob("*.lock")),
            slurm_logdir=slurm_logdir,
        )

    def failure(self, job: Job) -> tuple[str, str | None, str | None]:
        """How the job failed (failed, or cancelled, timed out, out of memory where SLURM's log
        says so), the log that shows it and its error line: the newest SLURM job log first
        when SLURM stopped the job, else the rule's own log."""
        slurm_logs = job.slurm_logs(self.root / self.slurm_logdir)[-1:]
        for path in slurm_logs:
            tail = read_tail(path)
            ended = slurm_end(tail)
            if ended:
                return ended, str(path.relative_to(self.root)), last_error(tail)
        for path in [self.root / job.log, *slurm_logs]:
            if path.is_file():
                error = last_error(read_tail(path))
                if error:
                    return FAILED, str(path.relative_to(self.root)), error
        return FAILED, None, None

    def queued(self, job: Job) -> tuple[str, str] | None:
        """SLURM's job id and state of this job's SLURM job, if squeue lists one."""
        if job.group:  # its comment ends with the rules left to run: the newest such job
            found = [
                entry for comment, entry in self.slurm.items() if comment.startswith(job.comment)
            ]
            return max(found, key=lambda entry: int(entry[0]), default=None)
        return self.slurm.get(job.comment)

    def state(self, job: Job) -> JobState:
        being_written = job.output in self.incomplete
        if (self.root / job.output).exists() and not being_written:
            return JobState(job, DONE)
        slurm = self.queued(job)
        said = SLURM_STATES.get(slurm[1]) if slurm else None
        if said in (PENDING, RUNNING):
            return JobState(job, said, slurm=slurm)
        how, log, error = self.failure(job)
        if said in FAILURES:  # SLURM says how it ended, even when it never wrote a log
            return JobState(job, how if said == FAILED else said, log, error, slurm)
        if error or how != FAILED:
            return JobState(job, how, log, error)
        if being_written and self.snakemake_running:
            return JobState(job, RUNNING)
        return JobState(job, PENDING)


@dataclass(frozen=True)
class Block:
    """One model and seed: the source trainings and the source x target cells."""

    model: str
    seed: int
    source_training: dict[str, str]  # source -> state of its train_source job
    cells: dict[tuple[str, str], str]  # (source, target) -> cell state


def cell_state(states: list[JobState]) -> str:
    """done when every shard is scored (a target checkpoint may be gone by then), else the
    most pressing job state: failed, running, pending."""
    shards = [s for s in states if s.job.rule != "train_target"]
    if all(s.state == DONE for s in shards):
        return DONE
    found = {s.state for s in states}
    return next(state for state in (*FAILURES, RUNNING, PENDING, DONE) if state in found)


@dataclass(frozen=True)
class GridStatus:
    """The whole grid's state and the jobs that need a look."""

    run: str
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    blocks: list[Block]
    failed: list[JobState]
    running: list[JobState]
    slurm_note: str
    snakemake_running: bool

    def counts(self) -> dict[str, int]:
        """Cells per state: done, running, failed and pending always, SLURM's ends (cancelled,
        timed out, out of memory) where there are any."""
        states = [state for block in self.blocks for state in block.cells.values()]
        always = (DONE, RUNNING, FAILED, PENDING)
        return {s: states.count(s) for s in STATES if s in always or states.count(s)}

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "slurm": self.slurm_note,
            "snakemake_running": self.snakemake_running,
            "counts": self.counts(),
            "grids": [
                {
                    "model": block.model,
                    "seed": block.seed,
                    "source_training": block.source_training,
                    "cells": {
                        source: {t: block.cells[(source, t)] for t in self.targets}
                        for source in self.sources
                    },
                }
                for block in self.blocks
            ],
            "failed": [state.to_json() for state in self.failed],
            "running": [state.to_json() for state in self.running],
        }


def grid_status(run: str, grid: Grid, evidence: Evidence, slurm_note: str) -> GridStatus:
    """Every cell's state per model and seed, with the failed and running jobs behind them."""
    blocks, seen = [], []
    for model in grid.models:
        for seed in grid.seeds:
            training = {}
            for source in grid.sources:
                state = evidence.state(source_job(run, model, seed, source))
                training[source] = state.state
                seen.append(state)
            cells = {}
            for source in grid.sources_with_baseline:
                for target in grid.targets:
                    states = [
                        evidence.state(j) for j in cell_jobs(run, grid, model, seed, source, target)
                    ]
                    cells[(source, target)] = cell_state(states)
                    if cells[(source, target)] != DONE:  # a scored cell needs no look
                        seen += states
            blocks.append(Block(model, seed, training, cells))
    return GridStatus(
        run=run,
        sources=grid.sources_with_baseline,
        targets=grid.targets,
        blocks=blocks,
        failed=[state for state in seen if state.state in FAILURES],
        running=[state for state in seen if state.state == RUNNING],
        slurm_note=slurm_note,
        snakemake_running=evidence.snakemake_running,
    )


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def render_text(status: GridStatus, shown: int = 20) -> str:
    """The grids and the failed jobs (log and last error line), for a terminal."""
    counts = ", ".join(f"{n} {state}" for state, n in status.counts().items())
    lines = [
        f"Run {status.run}: {sum(status.counts().values())} cells - {counts}",
        f"SLURM: {status.slurm_note}; Snakemake running here: "
        f"{'yes' if status.snakemake_running else 'no'}",
    ]
    for block in status.blocks:
        rows = [["source", "trained", *status.targets]]
        for source in status.sources:
            trained = "-" if source == BASELINE_SOURCE else block.source_training[source]
            rows.append([source, trained, *(block.cells[(source, t)] for t in status.targets)])
        lines += ["", f"{block.model}, seed {block.seed}", *_columns(rows)]
    lines += ["", f"Failed jobs ({len(status.failed)}):"]
    for state in status.failed:
        lines += [
            f"  {state.job.describe()}: {state.state}",
            f"    log:   {state.log}",
            f"    error: {state.error}",
        ]
    lines += ["", f"Running jobs ({len(status.running)}):"]
    for state in status.running[:shown]:
        where = f"SLURM job {state.slurm[0]} {state.slurm[1]}" if state.slurm else "local"
        lines.append(f"  {state.job.describe()} ({where})")
    if len(status.running) > shown:
        lines.append(f"  ... and {len(status.running) - shown} more (--json lists all)")
    return "\n".join(lines) + "\n"
