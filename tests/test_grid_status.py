"""Grid status on a fake working directory: done, failed, running (squeue and local) and
pending cells, and the failed jobs' logs with their last error line."""

from __future__ import annotations

import json
import os
import re
from base64 import urlsafe_b64encode
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from xltransfer.cli.status import main
from xltransfer.cli.workflow_config import load_workflow_config
from xltransfer.planning.grid_status import incomplete_outputs, last_error, parse_squeue

TRACEBACK_LOG = """\
INFO mnli: 200 train / 100 dev examples, 1 process(es)
Traceback (most recent call last):
  File "/x/xltransfer/cli/finetune.py", line 30, in <module>
    main()
RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB
"""
TIME_LIMIT_LOG = """\
Building DAG of jobs...
slurmstepd: error: *** JOB 456 ON node1 CANCELLED AT 2026-12-04T10:00:00 DUE TO TIME LIMIT ***
"""
# Lines as `squeue --me --noheader --states=all --format=%i|%T|%Z|%k` prints them ({root} is the
# workflow's folder): the second is another run's, the third the same run's in another folder,
# the fourth an attempt the retry (123) replaced.
FAKE_SQUEUE = """\
#!/bin/sh
[ "$1 $2 $3" = "--me --noheader --states=all" ] || exit 2
echo "123|RUNNING|{root}|rule_train_target_wildcards_tiny_tiny-xlmr_1_sst2_xnli"
echo "124|PENDING|{root}|rule_evaluate_wildcards_other_tiny-xlmr_1_sst2_xnli_0"
echo "125|CANCELLED|/elsewhere|rule_evaluate_wildcards_tiny_tiny-xlmr_2_sst2_xnli_0"
echo "120|CANCELLED|{root}|rule_train_target_wildcards_tiny_tiny-xlmr_1_sst2_xnli"
"""
FAILED_TARGET_LOG = "logs/tiny/train_target/tiny-xlmr/seed1/mnli/xnli.log"
# The SLURM plugin's log of one job: <slurm-logdir>/rule_<rule>/<wildcard values>/<job id>.log.
FAILED_SOURCE_LOG = "logs/slurm/rule_train_source/tiny_tiny-xlmr_2_sst2/456.log"


def touch(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """tests/configs/tiny.yaml with two seeds (3 language shards per cell), its outputs and
    logs part-way through, and an squeue that lists one of its jobs."""
    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    config["experiment"]["seeds"] = [1, 2]
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    scores = tmp_path / "results/tiny/scores/tiny-xlmr"
    models = tmp_path / "results/tiny/models/tiny-xlmr"
    # Seed 1: both sources trained; none/xnli scored, mnli/xnli's target training failed,
    # sst2/xnli's is in SLURM's queue.
    for shard in range(3):
        touch(scores / f"seed1/none/xnli/shard{shard}.parquet")
    (models / "seed1/source/mnli").mkdir(parents=True)
    (models / "seed1/source/sst2").mkdir(parents=True)
    touch(tmp_path / FAILED_TARGET_LOG, TRACEBACK_LOG)
    touch(tmp_path / "logs/tiny/train_target/tiny-xlmr/seed1/sst2/xnli.log", "INFO epoch 1\n")
    # Seed 2: one shard of none/xnli; mnli trains under a local Snakemake (marker and lock);
    # sst2's SLURM job hit its time limit before the rule wrote a log.
    touch(scores / "seed2/none/xnli/shard0.parquet")
    marker = urlsafe_b64encode(b"results/tiny/models/tiny-xlmr/seed2/source/mnli").decode()
    touch(tmp_path / ".snakemake/incomplete" / marker, "{}")
    touch(tmp_path / ".snakemake/locks/0.output.lock", "results/tiny/scores.parquet\n")
    touch(tmp_path / FAILED_SOURCE_LOG, TIME_LIMIT_LOG)
    squeue = tmp_path / "bin" / "squeue"
    touch(squeue, FAKE_SQUEUE.format(root=tmp_path))
    squeue.chmod(0o755)
    monkeypatch.setenv("PATH", f"{squeue.parent}:{os.environ['PATH']}")
    return tmp_path


def run_status(workdir, capsys, *extra):
    main(["--config", str(workdir / "tiny.yaml"), "--root", str(workdir), *extra])
    return capsys.readouterr().out


def test_grid_cells_and_source_trainings(workdir, capsys):
    status = json.loads(run_status(workdir, capsys, "--json"))
    first, second = status["grids"]
    assert (first["seed"], second["seed"]) == (1, 2)
    assert first["cells"] == {
        "none": {"xnli": "done"},
        "mnli": {"xnli": "failed"},
        "sst2": {"xnli": "running"},
    }
    assert first["source_training"] == {"mnli": "done", "sst2": "done"}
    # 1 of 3 shards is not a done cell; the sources' states do not leak into their cells.
    assert second["cells"] == {
        "none": {"xnli": "pending"},
        "mnli": {"xnli": "pending"},
        "sst2": {"xnli": "pending"},
    }
    assert second["source_training"] == {"mnli": "running", "sst2": "timed out"}
    assert status["counts"] == {"done": 1, "running": 1, "failed": 1, "pending": 3}
    running = {
        (job["rule"], job["wildcards"]["seed"], job["slurm_job"]) for job in status["running"]
    }
    assert running == {("train_target", "1", "123"), ("train_source", "2", None)}


def test_failed_jobs_name_their_log_and_last_error(workdir, capsys):
    status = json.loads(run_status(workdir, capsys, "--json"))
    failed = {(job["rule"], job["state"], job["log"], job["error"]) for job in status["failed"]}
    assert failed == {
        (
            "train_target",
            "failed",
            FAILED_TARGET_LOG,
            "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
        ),
        (
            "train_source",
            "timed out",
            FAILED_SOURCE_LOG,
            "slurmstepd: error: *** JOB 456 ON node1 CANCELLED AT 2026-12-04T10:00:00 DUE TO "
            "TIME LIMIT ***",
        ),
    }


def test_text_output(workdir, capsys):
    text = run_status(workdir, capsys)
    assert "Run tiny: 6 cells - 1 done, 1 running, 1 failed, 3 pending" in text
    assert re.search(r"^  mnli\s+done\s+failed$", text, re.MULTILINE)
    assert re.search(r"^  sst2\s+timed out\s+pending$", text, re.MULTILINE)
    assert f"    log:   {FAILED_TARGET_LOG}\n    error: RuntimeError: CUDA out of memory." in text
    assert "(SLURM job 123 RUNNING)" in text


def test_without_squeue_the_queued_cell_is_pending(workdir, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(workdir / "nothing"))
    status = json.loads(run_status(workdir, capsys, "--json"))
    assert status["slurm"] == "no squeue on PATH"
    assert status["grids"][0]["cells"]["sst2"]["xnli"] == "pending"  # its log holds no error
    assert status["grids"][1]["source_training"]["mnli"] == "running"  # the local marker


def test_stale_marker_without_snakemake_is_not_running(workdir, capsys):
    (workdir / ".snakemake/locks/0.output.lock").unlink()
    status = json.loads(run_status(workdir, capsys, "--json"))
    assert status["grids"][1]["source_training"]["mnli"] == "pending"


def test_long_marker_names_are_joined(tmp_path):
    path = "results/run/" + "x" * 300
    encoded = urlsafe_b64encode(path.encode()).decode()
    chunks = [encoded[i : i + 254] for i in range(0, len(encoded), 254)]
    touch(
        tmp_path / ".snakemake/incomplete" / "/".join([*("@" + c for c in chunks[:-1]), chunks[-1]])
    )
    assert incomplete_outputs(tmp_path) == {path}


def test_log_and_squeue_parsing():
    assert last_error(["INFO epoch 1", "INFO epoch 2: dev accuracy 0.8"]) is None
    assert last_error(["Traceback (most recent call last):", '  File "x.py"']) == (
        "Traceback (most recent call last)"
    )
    # The exception a traceback ends with, whatever its class is called.
    traceback = ["Traceback (most recent call last):", '  File "x.py"', "    fail()"]
    assert last_error([*traceback, "xltransfer.jobs.InjectedFailure: shard 0", "", "done"]) == (
        "xltransfer.jobs.InjectedFailure: shard 0"
    )
    listing = (
        "7|RUNNING|/w|rule_x_wildcards_a_b\nbad line\n8|CANCELLED by 0|/w|rule_y_wildcards_a\n"
        "9|RUNNING|/w/other|rule_y_wildcards_a\n6|TIMEOUT|/w|rule_y_wildcards_a\n"
    )
    assert parse_squeue(listing, Path("/w")) == {
        "rule_x_wildcards_a_b": ("7", "RUNNING"),
        "rule_y_wildcards_a": ("8", "CANCELLED"),
    }


def test_config_is_validated(tmp_path):
    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    config["experiment"]["sedes"] = [1]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(Exception, match="sedes"):
        load_workflow_config(tmp_path / "bad.yaml")


CANCELLED_LOG = """\
Building DAG of jobs...
slurmstepd: error: *** JOB 131 ON node1 CANCELLED AT 2026-12-07T10:00:00 ***
"""
OOM_LOG = """\
slurmstepd: error: Detected 1 oom_kill event in StepId=132.batch. Some of the step tasks have \
been OOM Killed.
"""
# The retry of seed 2's none/xnli (135) has only its evaluation left to run; the cancelled first
# attempt (134) is history. Seed 2's mnli/xnli was cancelled before it started: no log.
GROUP_SQUEUE = """\
#!/bin/sh
echo "130|RUNNING|{root}|rule_target_run_tiny-xlmr_seed1_none_xnli_evaluate_train_target"
echo "134|CANCELLED|{root}|rule_target_run_tiny-xlmr_seed2_none_xnli_evaluate_train_target"
echo "135|PENDING|{root}|rule_target_run_tiny-xlmr_seed2_none_xnli_evaluate"
echo "136|CANCELLED|{root}|rule_target_run_tiny-xlmr_seed2_mnli_xnli_evaluate_train_target"
"""


def test_target_runs_in_one_slurm_job_are_found_by_their_group(tmp_path, capsys, monkeypatch):
    # One evaluation shard per run: each target run is one SLURM group job named by its cell.
    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    config["experiment"].update(seeds=[1, 2], languages_per_job=0)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    slurm = tmp_path / "logs/slurm"
    touch(slurm / "group_target_run_tiny-xlmr_seed1_mnli_xnli_evaluate_train_target/131.log",
          CANCELLED_LOG)  # fmt: skip
    touch(slurm / "group_target_run_tiny-xlmr_seed1_sst2_xnli_evaluate/132.log", OOM_LOG)
    squeue = tmp_path / "bin" / "squeue"
    touch(squeue, GROUP_SQUEUE.format(root=tmp_path))
    squeue.chmod(0o755)
    monkeypatch.setenv("PATH", f"{squeue.parent}:{os.environ['PATH']}")
    status = json.loads(run_status(tmp_path, capsys, "--json"))
    first, second = status["grids"]
    assert first["cells"] == {
        "none": {"xnli": "running"},
        "mnli": {"xnli": "cancelled"},
        "sst2": {"xnli": "out of memory"},
    }
    assert second["cells"] == {
        "none": {"xnli": "pending"},
        "mnli": {"xnli": "cancelled"},
        "sst2": {"xnli": "pending"},
    }
    assert status["counts"] == {
        "done": 0, "running": 1, "failed": 0, "cancelled": 2, "out of memory": 1, "pending": 2,
    }  # fmt: skip
    running = {(job["rule"], job["slurm_job"], job["slurm_state"]) for job in status["running"]}
    assert running == {("train_target", "130", "RUNNING"), ("evaluate", "130", "RUNNING")}
    failed = {(job["wildcards"]["source"], job["state"], job["log"]) for job in status["failed"]}
    assert ("mnli", "cancelled", str(next(slurm.glob("group_*mnli*/131.log")).relative_to(
        tmp_path))) in failed  # fmt: skip
    assert {state for _, state, _ in failed} == {"cancelled", "out of memory"}
    # Cancelled while pending: squeue says so though no log exists.
    never_ran = [job for job in status["failed"] if job["wildcards"]["seed"] == "2"]
    assert {(job["state"], job["slurm_job"], job["log"]) for job in never_ran} == {
        ("cancelled", "136", None)
    }
