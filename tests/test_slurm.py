"""The workflow through `--profile profiles/slurm` on a real one-node SLURM cluster.

`.ci/run` starts the cluster with scripts/slurm-cluster.sh and sets XLT_CI=1, so there
the tests fail instead of skipping when no cluster answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO
from test_workflow import SNAKEMAKE, workflow_copy

from xltransfer.training.loop import STEP_DELAY, complete_checkpoints

pytestmark = pytest.mark.workflow
KEY = ["source", "target", "language", "metric"]
# Quick status polling for a small cluster; the profile's defaults suit a real one.
FAST_POLLING = ["--latency-wait", "5", "--slurm-init-seconds-before-status-checks", "2"]
SLURM = ["--profile", "profiles/slurm", "--jobs", "4", *FAST_POLLING]


def cluster_is_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return state.returncode == 0 and any(s in state.stdout for s in ("idle", "mixed", "allocated"))


@pytest.fixture(scope="module")
def slurm():
    if not cluster_is_up():
        if os.environ.get("XLT_CI"):
            pytest.fail("no SLURM cluster answers; start one with scripts/slurm-cluster.sh start")
        pytest.skip("no SLURM cluster (scripts/slurm-cluster.sh start)")


def tiny_workflow(folder: Path) -> list[str]:
    """The workflow, the slurm profile and the tiny config (checkpoints every 2 steps) in folder."""
    workflow_copy(folder)
    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    config["training"]["source"]["checkpoint_steps"] = 2
    (folder / "tiny.yaml").write_text(yaml.safe_dump(config))
    (folder / "profiles").mkdir(exist_ok=True)
    shutil.copytree(REPO / "profiles" / "slurm", folder / "profiles" / "slurm", dirs_exist_ok=True)
    return [*SNAKEMAKE, "--configfile", "tiny.yaml"]


def read_scores(folder: Path) -> pd.DataFrame:
    scores = pd.read_parquet(folder / "results" / "tiny" / "scores.parquet")
    return scores.sort_values(KEY).reset_index(drop=True)


def slurm_jobs(after: int) -> list[dict]:
    """Jobs newer than `after`, finished ones included (the test cluster keeps them an hour)."""
    listing = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%i|%k|%T|%l"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    jobs = []
    for line in listing.splitlines():
        job_id, comment, state, limit = line.split("|")
        if int(job_id) > after:
            jobs.append({"id": int(job_id), "comment": comment, "state": state, "limit": limit})
    return sorted(jobs, key=lambda job: job["id"])


def mnli_training(after: int) -> list[dict]:
    """The source-training jobs of mnli submitted after job `after`, oldest first."""
    return [
        job
        for job in slurm_jobs(after)
        if job["comment"].startswith("rule_train_source") and job["comment"].endswith("mnli")
    ]


def newest_job_id() -> int:
    return max((job["id"] for job in slurm_jobs(after=0)), default=0)


def minutes(limit: str) -> int:
    """squeue's time limit, [days-]hours:minutes:seconds, in minutes."""
    days, _, clock = limit.rpartition("-")
    hours, mins, _ = (["0"] * 3 + clock.split(":"))[-3:]
    return int(days or 0) * 1440 + int(hours) * 60 + int(mins)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def test_scancelled_training_resumes_on_retry_and_run_equals_local(slurm, tmp_path):
    local_folder = tmp_path / "local"
    subprocess.run(
        [*tiny_workflow(local_folder), "--cores", "2"],
        cwd=local_folder,
        capture_output=True,
        check=True,
    )
    local = read_scores(local_folder)

    folder = tmp_path / "slurm"
    command = tiny_workflow(folder)
    before = newest_job_id()
    slowed = {**os.environ, STEP_DELAY: "1"}  # training slow enough to be cancelled mid-way
    with open(tmp_path / "snakemake.log", "w") as output:
        run = subprocess.Popen(
            [*command, *SLURM], cwd=folder, env=slowed, stdout=output, stderr=subprocess.STDOUT
        )
        checkpoints = folder / "results/tiny/models/tiny-xlmr/seed1/source/mnli.resume/checkpoints"
        wait_for(lambda: complete_checkpoints(checkpoints), 600, "a checkpoint of mnli")
        subprocess.run(["scancel", str(mnli_training(before)[0]["id"])], check=True)
        returncode = run.wait(timeout=900)
    log = (tmp_path / "snakemake.log").read_text()
    assert returncode == 0, log[-4000:]
    assert "SLURM status is: 'CANCELLED'" in log

    attempts = mnli_training(before)
    assert [job["state"] for job in attempts] == ["CANCELLED", "COMPLETED"]
    assert minutes(attempts[1]["limit"]) == 2 * minutes(attempts[0]["limit"])  # runtime x attempt
    training_log = (folder / "logs/tiny/train_source/tiny-xlmr/seed1/mnli.log").read_text()
    assert "resuming at epoch 0, batch 2" in training_log or "resuming at epoch 0, batch 4" in (
        training_log
    )
    assert log.count("submitted with SLURM jobid") >= 20  # every job went through sbatch

    # The interrupted and resumed run gives the local run's scores.
    on_slurm = read_scores(folder)
    assert len(on_slurm) == len(local) == 3 * 3 * 2
    assert (on_slurm[KEY] == local[KEY]).all().all()
    assert on_slurm["value"].to_numpy() == pytest.approx(local["value"].to_numpy(), abs=1e-6)


def fake_sbatch(folder: Path) -> dict:
    """An environment whose sbatch fails as an overloaded controller does."""
    bin_dir = folder / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "sbatch"
    script.write_text(
        "#!/bin/sh\necho 'sbatch: error: Batch job submission failed: "
        "Socket timed out on send/recv operation' >&2\nexit 1\n"
    )
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            ["--set-resources", "demo_benchmark:slurm_partition=nosuchpartition"],
            "invalid partition",
        ),
        (["--set-resources", "demo_benchmark:mem_mb=100000000"], "Memory specification"),
        ("fake-sbatch", "Socket timed out"),
    ],
    ids=["missing-partition", "node-rejects", "sbatch-fails"],
)
def test_rejected_submission_fails_clearly_and_keeps_finished_work(slurm, tmp_path, fault, message):
    command = tiny_workflow(tmp_path)
    env = fake_sbatch(tmp_path) if fault == "fake-sbatch" else None
    extra = [] if fault == "fake-sbatch" else fault
    if fault == "fake-sbatch":
        # Something already finished before the controller failed: the taxonomy similarity.
        subprocess.run(
            [*command, "--cores", "1", "results/tiny/similarity/taxonomy.parquet"],
            cwd=tmp_path,
            capture_output=True,
            check=True,
        )
    failed = subprocess.run(
        [*command, *SLURM, *extra], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "Error in rule demo_benchmark" in output
    assert "SLURM sbatch failed" in output and message in output
    assert not (tmp_path / "resources" / "demo_hub").exists()

    finished = tmp_path / "results" / "tiny" / "similarity" / "taxonomy.parquet"
    if fault != "fake-sbatch":  # with a working sbatch, the independent branch ran on
        assert finished.exists()
    stamp = finished.stat().st_mtime_ns
    again = subprocess.run(
        [*command, *SLURM, "-n"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert "demo_benchmark" in again.stdout
    assert "taxonomy_similarity" not in again.stdout  # finished work is not redone
    assert finished.stat().st_mtime_ns == stamp


def test_short_profile_name_works_after_make_profile(slurm, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "XDG_CONFIG_HOME"}
    env["HOME"] = str(home)
    subprocess.run(["make", "-s", "profile"], cwd=REPO, env=env, check=True, capture_output=True)
    assert (home / ".config" / "snakemake" / "slurm").resolve() == REPO / "profiles" / "slurm"

    folder = tmp_path / "workflow"
    command = tiny_workflow(folder)
    shutil.rmtree(folder / "profiles")  # only the linked user profile can answer
    result = subprocess.run(
        [*command, "--profile", "slurm", *FAST_POLLING, "results/tiny/similarity/taxonomy.parquet"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "submitted with SLURM jobid" in output
    assert (folder / "results" / "tiny" / "similarity" / "taxonomy.parquet").exists()
