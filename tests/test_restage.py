"""Restaging a finished grid through the local Hub: one more language fetches only its file and
reruns nothing done; `make stage-update` moves one repository and the next run redoes exactly
the jobs that read it; a damaged cache is refused before any job and healed by `make stage`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import REPO
from hub_fixtures import glue, xnli
from hub_server import LocalHub
from test_staged_workflow import MODEL, TOKEN, check_manifest, check_offline_run, hub_config
from test_workflow import planned as plan_of
from test_workflow import workflow_copy

from xltransfer.data.staging import read_lock

pytestmark = pytest.mark.workflow
SCORES = {"aggregate": 1, "gains": 1, "transfer_gap": 1}
ANSWER = {"correlate": 1, "rank_sources": 1, "answer": 1, "plots": 1, "summary_page": 1, "all": 1}


def snakemake(folder, *args, env):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args, "--cores", "2", "--configfile", "hub.yaml"],
        cwd=folder, env=env, capture_output=True, text=True,
    )  # fmt: skip


def make(folder, *args, env):
    # The Makefile as a user runs it, on the venv the tests run in (never rebuilt here).
    venv = os.path.dirname(os.path.dirname(sys.executable))
    return subprocess.run(
        ["make", "-o", f"{venv}/.installed", *args, f"VENV={venv}", "CONFIG=hub.yaml"],
        cwd=folder, env=env, capture_output=True, text=True,
    )  # fmt: skip


def planned(folder, env) -> dict[str, int]:
    return plan_of(folder, "hub.yaml", env)


def write_config(folder, languages) -> None:
    config = hub_config()
    config["tasks"]["xnli"]["languages"] = languages
    config["keep"] = {"target_checkpoints": True}  # a new language is scored, not retrained
    (folder / "hub.yaml").write_text(yaml.safe_dump(config))


def downloads(hub) -> list[str]:
    # /<kind>/<repo>/resolve/<commit>/<file>: the file.
    return [r["path"].split("/resolve/")[1].split("?")[0].split("/", 1)[1] for r in hub.requests
            if r["method"] == "GET" and "/resolve/" in r["path"]]  # fmt: skip


def serve(hub, tmp_path, tiny_model_dir) -> str:
    """The grid's three repositories on a local Hub (the same files give the same commits)."""
    commit = hub.add_repo(MODEL, tiny_model_dir)
    hub.add_repo("nyu-mll/glue", glue(tmp_path / "glue"), repo_type="dataset")
    hub.add_repo("facebook/xnli", xnli(tmp_path / "xnli"), repo_type="dataset")
    hub.set_gated(MODEL, token=TOKEN)
    return commit


def test_a_staged_grid_runs_offline_and_restaging_reruns_only_what_reads_the_change(
    tmp_path, tiny_model_dir
):
    folder = workflow_copy(tmp_path / "wf")
    shutil.copy(REPO / "Makefile", folder / "Makefile")
    write_config(folder, ["en", "de"])
    path = f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": path, "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_TELEMETRY": "1"}
    with LocalHub() as hub:
        commit = serve(hub, tmp_path, tiny_model_dir)
        staged = make(folder, "stage", env={**env, "HF_ENDPOINT": hub.endpoint})
        assert staged.returncode == 0, (staged.stdout + staged.stderr)[-3000:]
    check_manifest(folder, commit)
    # The server is gone: every job must run from staged files alone.
    first = snakemake(folder, env={**env, "HF_ENDPOINT": "http://127.0.0.1:9"})
    check_offline_run(folder, first, commit)
    assert planned(folder, env) == {}
    # What the staged card says is checked at the dry run: a language it has no config for.
    write_config(folder, ["en", "de", "fr"])
    refused = snakemake(folder, "-n", env=env)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "tasks.xnli.languages: 'fr' reads config 'fr', which 'facebook/xnli' does not" in said
    write_config(folder, ["en", "de"])

    with LocalHub() as hub:
        assert serve(hub, tmp_path, tiny_model_dir) == commit
        env["HF_ENDPOINT"] = hub.endpoint
        # One more language: staging fetches its test split alone; the run scores it alone.
        write_config(folder, ["en", "de", "sw"])
        del hub.requests[:]
        staged = make(folder, "stage", env=env)
        assert staged.returncode == 0, (staged.stdout + staged.stderr)[-3000:]
        fetched = downloads(hub)
        assert fetched and all(path.startswith("sw/test") for path in fetched), fetched
        assert planned(folder, env) == {
            "prepare_data": 1, "split_checksums": 1, "evaluate": 3, **SCORES, **ANSWER,
        }  # fmt: skip
        assert snakemake(folder, env=env).returncode == 0

        # The model's branch moves: the next run redoes the jobs that read the model, and the
        # dataset's unmoved branch reruns nothing.
        moved = hub.add_files(MODEL, {
            **{p.name: p.read_bytes() for p in tiny_model_dir.iterdir() if p.is_file()},
            "README.md": b"a new commit",
        })  # fmt: skip
        update = make(folder, "stage-update", f"REPO={MODEL}", env=env)
        assert update.returncode == 0, (update.stdout + update.stderr)[-3000:]
        assert make(folder, "stage-update", "REPO=facebook/xnli", env=env).returncode == 0
        model_jobs = {"train_source": 2, "train_target": 3, "evaluate": 9, **SCORES, **ANSWER}
        assert planned(folder, env) == model_jobs
        unknown = make(folder, "stage-update", "REPO=xlt-test/other", env=env)
        assert unknown.returncode != 0
        said = unknown.stdout + unknown.stderr
        assert "REPO=xlt-test/other is not a Hub repository of this grid" in said
        manifest = read_lock(folder / "results/staged/staged/manifest.json")
        assert {r["repo_id"]: r["commit"] for r in manifest["repositories"]}[MODEL] == moved

        # A purged file: refused before any job, with one line; `make stage` fetches it again.
        (folder / "hub-cache/datasets/facebook/xnli/README.md").unlink()
        refused = snakemake(folder, "-n", env=env)
        assert refused.returncode != 0
        said = refused.stdout + refused.stderr
        assert "tasks.xnli: staged dataset 'facebook/xnli' lacks README.md" in said
        healed = make(folder, "stage", env=env)
        assert healed.returncode == 0, (healed.stdout + healed.stderr)[-3000:]
        assert downloads(hub)[-1] == "README.md"
        assert planned(folder, env) == model_jobs  # the file alone, and nothing more to run

        # A staging failure says its cause on the console, in one line.
        config = yaml.safe_load((folder / "hub.yaml").read_text())
        config["models"]["tiny-xlmr"]["path"] = "xlt-test/missing"
        (folder / "hub.yaml").write_text(yaml.safe_dump(config))
        failed = snakemake(folder, "stage", env=env)
        assert failed.returncode != 0
        said = failed.stdout + failed.stderr
        assert (
            "xltransfer: model repository 'xlt-test/missing' (models.tiny-xlmr) not found" in said
        )
