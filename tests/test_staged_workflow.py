"""The whole workflow on Hub ids: staged from a local Hub server, then run with the server gone
(on the CI SLURM cluster here; locally, with restaging, in tests/test_restage.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from conftest import REPO
from hub_fixtures import glue, xnli
from hub_server import LocalHub
from test_slurm import SLURM, newest_job_id, slurm, slurm_jobs  # noqa: F401 (a fixture)
from test_workflow import workflow_copy

from xltransfer.data.staging import read_lock
from xltransfer.jobs import FAIL_EVALUATE

pytestmark = pytest.mark.workflow
TOKEN = "hf_secret_workflow_token"
MODEL = "xlt-test/tiny-xlmr"


def hub_config() -> dict:
    """tests/configs/tiny.yaml with every model and dataset a Hub id."""
    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    del config["demo_benchmark"]
    config["run"] = "staged"
    config["models"] = {"tiny-xlmr": {"path": MODEL}}
    config["tasks"]["mnli"]["dataset"] = "nyu-mll/glue"
    config["tasks"]["sst2"]["dataset"] = "nyu-mll/glue"
    config["tasks"]["xnli"].update(dataset="facebook/xnli", languages=["en", "de"])
    config["similarity"] = {"methods": ["taxonomy"]}
    config["staging"] = {"cache": "hub-cache"}
    return config


def snakemake(folder, *targets, env):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *targets, "--cores", "2", "--configfile", "hub.yaml"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )


def staged_workflow(tmp_path, tiny_model_dir, *extra_files):
    """A workflow folder whose Hub repositories were staged from a local Hub, now gone."""
    folder = workflow_copy(tmp_path / "wf")
    for name in extra_files:
        shutil.copytree(REPO / name, folder / name, dirs_exist_ok=True)
    (folder / "hub.yaml").write_text(yaml.safe_dump(hub_config()))
    # The venv's tools (accelerate) must be found by the jobs, as `make test` arranges.
    path = f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": path, "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_TELEMETRY": "1"}
    with LocalHub() as hub:
        commit = hub.add_repo(MODEL, tiny_model_dir)
        hub.add_repo("nyu-mll/glue", glue(tmp_path / "glue"), repo_type="dataset")
        hub.add_repo("facebook/xnli", xnli(tmp_path / "xnli"), repo_type="dataset")
        hub.set_gated(MODEL, token=TOKEN)
        env["HF_ENDPOINT"] = hub.endpoint
        staged = snakemake(folder, "stage", env=env)
        assert staged.returncode == 0, staged.stderr[-3000:]
    check_manifest(folder, commit)
    # The server is gone: every remaining job must run from staged files alone.
    return folder, {**env, "HF_ENDPOINT": "http://127.0.0.1:9"}, commit


def check_manifest(folder, commit):
    """The run's manifest: the model at `commit`, and of XNLI only what the grid reads."""
    manifest = read_lock(folder / "results/staged/staged/manifest.json")
    assert {r["repo_id"]: r["commit"] for r in manifest["repositories"]}[MODEL] == commit
    xnli_files = next(r for r in manifest["repositories"] if r["repo_id"] == "facebook/xnli")
    # Only the configs and splits the grid reads: English train/dev/test, German test.
    assert sorted(f["path"].split("-")[0] for f in xnli_files["files"]) == [
        "README.md", "de/test", "en/test", "en/train", "en/validation",
    ]  # fmt: skip


def check_offline_run(folder, run, commit):
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    scores = pd.read_parquet(folder / "results/staged/scores.parquet")
    assert set(scores["model_revision"]) == {commit}
    assert set(scores["language"]) == {"en", "de"}
    for path in folder.rglob("*"):
        if path.is_file() and "hub-cache" not in path.parts:
            assert TOKEN.encode() not in path.read_bytes(), path


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


def test_an_unwritable_cache_is_refused_at_the_dry_run(tmp_path):
    folder = workflow_copy(tmp_path / "wf")
    (folder / "blocker").write_text("a file where the cache folder should be")
    config = hub_config()
    config["staging"]["cache"] = "blocker/cache"
    (folder / "hub.yaml").write_text(yaml.safe_dump(config))
    dry = snakemake(folder, "-n", env=os.environ)
    assert dry.returncode != 0
    assert "staging.cache: 'blocker/cache' is not a writable folder" in dry.stdout + dry.stderr
