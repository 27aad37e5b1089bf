"""The whole workflow on Hub ids: staged from a local Hub server, then run with the server gone
(on the CI SLURM cluster in tests/test_slurm.py; locally, with restaging, in
tests/test_restage.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from conftest import REPO
from hub_fixtures import glue, xnli
from hub_server import LocalHub
from test_workflow import workflow_copy

from xltransfer.data.staging import read_lock

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


def test_an_unwritable_cache_is_refused_at_the_dry_run(tmp_path):
    folder = workflow_copy(tmp_path / "wf")
    (folder / "blocker").write_text("a file where the cache folder should be")
    config = hub_config()
    config["staging"]["cache"] = "blocker/cache"
    (folder / "hub.yaml").write_text(yaml.safe_dump(config))
    dry = snakemake(folder, "-n", env=os.environ)
    assert dry.returncode != 0
    assert "staging.cache: 'blocker/cache' is not a writable folder" in dry.stdout + dry.stderr
