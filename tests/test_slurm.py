"""The workflow through `--profile profiles/slurm` on a real one-node SLURM cluster.

`.ci/run` starts the cluster with scripts/slurm-cluster.sh and sets XLT_CI=1, so there
the tests fail instead of skipping when no cluster answers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO
from test_growth import ANSWER, SCORES, table
from test_staged_workflow import snakemake, staged_workflow
from test_workflow import SNAKEMAKE, planned, workflow_copy

from xltransfer.jobs import FAIL_EVALUATE
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


def tiny_workflow(folder: Path, change=None) -> list[str]:
    """The workflow, the slurm profile and the tiny config (checkpoints every 2 steps) in folder,
    changed by `change` (which edits the config in place) where given."""
    workflow_copy(folder)
    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    config["training"]["source"]["checkpoint_steps"] = 2
    if change:
        change(config)
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


def growable(config: dict) -> None:
    # A language added later is scored with the kept fine-tunes, not trained again. One
    # similarity method: the embeddings' jobs grow with a grid as tests/test_growth.py checks.
    config["keep"] = {"target_checkpoints": True}
    config["similarity"] = {"methods": ["taxonomy"]}


def without_cy0(config: dict) -> None:
    growable(config)
    config["tasks"]["xnli"]["languages"].remove("cy0")


def grid_status(folder: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "xltransfer.cli.status", "--config", "tiny.yaml", "--json"],
        cwd=folder, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def test_a_grid_lives_on_slurm_cancelled_retried_grown_and_equal_to_local(slurm, tmp_path):
    """The first run of the tiny grid without cy0, a training cancelled and resumed on retry;
    then cy0 added (scored with the kept fine-tunes), one of its evaluations cancelled and seen
    by `make status`, the rerun finishing it; the tables equal a local from-scratch run."""
    # The local from-scratch run goes alongside the SLURM run, which mostly waits on polling.
    local_folder = tmp_path / "local"
    local_run = subprocess.Popen(
        [*tiny_workflow(local_folder, growable), "--cores", "1"],
        cwd=local_folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    folder = tmp_path / "slurm"
    command = tiny_workflow(folder, without_cy0)
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
    assert local_run.wait(timeout=900) == 0
    local = read_scores(local_folder)

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
    assert len(on_slurm) == 3 * 2 * 2
    expected = local[local["language"] != "cy0"].reset_index(drop=True)
    assert (on_slurm[KEY] == expected[KEY]).all().all()
    assert on_slurm["value"].to_numpy() == pytest.approx(expected["value"].to_numpy(), abs=1e-6)

    # The same grid with its keys in another order and a comment plans nothing; one more
    # language plans its split and one evaluation per run, and no training.
    config = yaml.safe_load((folder / "tiny.yaml").read_text())
    reordered = dict(reversed(list(config.items())))
    (folder / "tiny.yaml").write_text(
        "# the same grid\n" + yaml.safe_dump(reordered, sort_keys=False)
    )
    assert planned(folder, "tiny.yaml") == {}
    config["tasks"]["xnli"]["languages"].append("cy0")
    (folder / "tiny.yaml").write_text(yaml.safe_dump(config))
    assert planned(folder, "tiny.yaml") == {
        "prepare_data": 1, "split_checksums": 1, "evaluate": 3, **SCORES, **ANSWER
    }  # fmt: skip

    # One of cy0's evaluations is cancelled: the run fails, `make status` says which and why.
    before = newest_job_id()
    cy0 = "rule_evaluate_wildcards_tiny_tiny-xlmr_1_"
    with open(tmp_path / "grown.log", "w") as output:
        run = subprocess.Popen(
            [*command, *SLURM, "--retries", "0"], cwd=folder, stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        cancelled = []

        def cancel_a_cy0_evaluation():
            jobs = [j for j in slurm_jobs(before) if j["comment"].startswith(cy0)]
            if jobs and jobs[0]["state"] in ("PENDING", "RUNNING"):
                subprocess.run(["scancel", str(jobs[0]["id"])], check=True)
                cancelled.append(jobs[0])
            return bool(jobs)

        wait_for(cancel_a_cy0_evaluation, 600, "an evaluation of cy0 in the queue")
        assert run.wait(timeout=900) != 0
    assert len(cancelled) == 1, "the evaluation ended before it could be cancelled"
    source = cancelled[0]["comment"].removeprefix(cy0).split("_")[0]
    status = grid_status(folder)
    assert status["grids"][0]["cells"][source] == {"xnli": "cancelled"}
    (failure,) = status["failed"]
    assert (failure["rule"], failure["wildcards"]["shard"]) == ("evaluate", "2")
    assert (failure["state"], failure["slurm_job"]) == ("cancelled", str(cancelled[0]["id"]))
    slurm_log = (
        f"logs/slurm/rule_evaluate/tiny_tiny-xlmr_1_{source}_xnli_2/{cancelled[0]['id']}.log"
    )
    assert failure["log"] in (None, slurm_log)  # a job cancelled before it started has none
    assert status["counts"]["cancelled"] == 1

    # Running again finishes the grid: the cancelled evaluation and what reads it.
    rerun = subprocess.run([*command, *SLURM], cwd=folder, capture_output=True, text=True)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    assert planned(folder, "tiny.yaml") == {}
    assert grid_status(folder)["counts"] == {"done": 3, "running": 0, "failed": 0, "pending": 0}
    for name in ("scores", "gains", "similarity", "correlations", "source_selection"):
        pd.testing.assert_frame_equal(
            table(folder, name), table(local_folder, name), obj=name, check_exact=False
        )


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


@pytest.mark.usefixtures("slurm")
def test_staged_target_runs_on_slurm_are_one_job_each_and_a_failed_shard_reruns_alone(
    tmp_path, tiny_model_dir
):
    folder, env, commit = staged_workflow(tmp_path, tiny_model_dir, "profiles")
    # One evaluation shard per run (languages_per_job 0, the default) makes a run one group.
    config = yaml.safe_load((folder / "hub.yaml").read_text())
    config["experiment"]["languages_per_job"] = 0
    (folder / "hub.yaml").write_text(yaml.safe_dump(config))
    # The target runs only (the local test above runs the analysis): none, mnli, sst2 -> xnli.
    runs = "results/staged/scores/tiny-xlmr/seed1/{}/xnli/shard0.parquet"
    shards = [runs.format(source) for source in ("none", "mnli", "sst2")]
    before = newest_job_id()
    failing = {**env, FAIL_EVALUATE: "mnli/xnli/0"}
    # The profile's retry resubmits the failed group whole; its training job puts back the
    # fine-tune the first attempt finished instead of training again.
    assert snakemake(folder, *shards, *SLURM, "--retries", "1", env=failing).returncode != 0
    log = folder / "logs/staged/train_target/tiny-xlmr/seed1/mnli/xnli.log"
    assert "this run finished it before" in log.read_text()
    assert "optimizer steps" not in log.read_text()  # the retry's log: nothing trained
    # A group job's comment names its cell and rules:
    # rule_target_run_tiny-xlmr_seed1_mnli_xnli_evaluate_train_target.
    comments = [job["comment"] for job in slurm_jobs(before)]
    runs = [c for c in comments if c.endswith("_xnli_evaluate_train_target")]
    # Each target run is one group job holding its training and its evaluation (the failed one
    # twice); neither is submitted on its own.
    assert sorted(runs) == sorted(
        f"rule_target_run_tiny-xlmr_seed1_{source}_xnli_evaluate_train_target"
        for source in ("none", "mnli", "mnli", "sst2")
    ), comments
    assert not [c for c in comments if c.startswith(("rule_train_target", "rule_evaluate"))]
    # `make status` finds the failed target run by its group: its cell, log and error line.
    status = subprocess.run(
        [sys.executable, "-m", "xltransfer.cli.status", "--config", "hub.yaml", "--json"],
        cwd=folder, capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = json.loads(status.stdout)
    assert found["grids"][0]["cells"]["mnli"] == {"xnli": "failed"}
    assert found["grids"][0]["cells"]["none"] == {"xnli": "done"}
    (failure,) = found["failed"]
    assert failure["rule"] == "evaluate" and "InjectedFailure" in failure["error"]
    # The failed evaluation's checkpoint survives (the others, scored, are gone), and the
    # rerun plans that evaluation alone.
    assert [path for path in shards if not (folder / path).exists()] == [shards[1]]
    targets = folder / "results/staged/models/tiny-xlmr/seed1/target"
    assert sorted(p.name for p in targets.iterdir()) == ["mnli"]
    dry = snakemake(folder, *shards, "-n", "--rerun-incomplete", env=env)
    assert re.search(r"^evaluate\s+1$", dry.stdout, re.MULTILINE), dry.stdout
    assert not re.search(r"^train_target\s", dry.stdout, re.MULTILINE)
    rerun = snakemake(folder, *shards, *SLURM, env=env)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    scores = pd.concat([pd.read_parquet(folder / path) for path in shards])
    assert set(scores["model_revision"]) == {commit}
    assert set(scores["language"]) == {"en", "de"}
    assert not (targets / "mnli").exists()
