"""Staging through the real huggingface_hub client against a local Hub (tests/hub_server.py)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from hub_fixtures import glue, xnli
from hub_server import LocalHub

from xltransfer.data.load import load_split, standardize
from xltransfer.data.staging import (
    StageRequest,
    StagingError,
    check_staged,
    check_update,
    damaged_files,
    lock_path,
    pin,
    read_lock,
    require_staged,
    stage,
    staged_folder,
)
from xltransfer.data.tasks import TaskSpec

GLUE = "nyu-mll/glue"
MODEL = "xlt-test/tiny-xlmr"


@pytest.fixture(autouse=True)
def online(monkeypatch):
    # The suite runs with HF_HUB_OFFLINE=1; the client reads this constant on every request.
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)


@pytest.fixture
def hub():
    with LocalHub() as server:
        yield server


def model_request(revision="main"):
    return StageRequest(MODEL, "model", revision, "models.tiny")


def glue_request(splits=None):
    return StageRequest(GLUE, "dataset", "main", "tasks.mnli", splits or {"mnli": ["train"]})


def test_a_model_is_staged_at_its_commit_with_safetensors_only(hub, tiny_model_dir, tmp_path):
    (tiny_model_dir / "pytorch_model.bin").write_bytes(b"pickled weights we never load")
    commit = hub.add_repo(MODEL, tiny_model_dir)
    lock = stage(model_request(), tmp_path / "cache", endpoint=hub.endpoint)
    names = {f["path"] for f in lock["files"]}
    assert lock["commit"] == commit and lock["revision"] == "main"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= names
    assert "pytorch_model.bin" not in names
    folder = staged_folder(tmp_path / "cache", "model", MODEL)
    for entry in lock["files"]:
        assert (folder / entry["path"]).stat().st_size == entry["size"]
    assert read_lock(lock_path(tmp_path / "cache", "model", MODEL)) == lock


def test_a_moved_branch_is_not_picked_up_until_asked(hub, tiny_model_dir, tmp_path):
    first = hub.add_repo(MODEL, tiny_model_dir)
    stage(model_request(), tmp_path, endpoint=hub.endpoint)
    (tiny_model_dir / "README.md").write_text("a new commit on main")
    moved = hub.add_repo(MODEL, tiny_model_dir)
    assert stage(model_request(), tmp_path, endpoint=hub.endpoint)["commit"] == first
    assert stage(model_request(), tmp_path, endpoint=hub.endpoint, update=True)["commit"] == moved
    with pytest.raises(StagingError, match=r"models.tiny: revision 'v2' .* pins 'main'.*explicit"):
        stage(model_request("v2"), tmp_path, endpoint=hub.endpoint)


def test_a_dataset_stages_only_the_configs_and_splits_asked(hub, tmp_path):
    commit = hub.add_repo(GLUE, glue(tmp_path / "glue"), repo_type="dataset")
    request = glue_request({"mnli": ["train", "validation_matched"], "sst2": ["validation"]})
    lock = stage(request, tmp_path / "cache", endpoint=hub.endpoint)
    names = sorted(f["path"] for f in lock["files"])
    assert lock["commit"] == commit
    assert names == [
        "README.md",
        *sorted(
            n
            for n in names
            if n.startswith(("mnli/train-", "mnli/validation_matched-", "sst2/val"))
        ),
    ]
    assert len(names) == 4 and all(f.get("rows", 1) > 0 for f in lock["files"])
    # The job side reads the staged folder with the Hub off, through the card's features.
    task = TaskSpec.from_config(
        "mnli",
        {
            "dataset": GLUE,
            "config": "mnli",
            "splits": {"train": "train", "dev": "validation_matched", "test": "validation_matched"},
            "columns": {"text_a": "premise", "text_b": "hypothesis", "label": "label"},
            "type": "pair_classification",
            "labels": ["entailment", "neutral", "contradiction"],
            "metric": "accuracy",
            "languages": ["en"],
        },
    )
    folder = staged_folder(tmp_path / "cache", "dataset", GLUE)
    frame = standardize(task, load_split(task, "en", "train", folder), "en", "train")
    assert frame["label"].tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match="Hub id, and jobs read only staged files"):
        load_split(task, "en", "train")


def test_a_missing_config_split_or_repository_names_it(hub, tmp_path):
    hub.add_repo(GLUE, glue(tmp_path / "glue"), repo_type="dataset")
    with pytest.raises(StagingError, match=r"tasks.mnli: .*'nyu-mll/glue' has no config 'mnlx'"):
        stage(glue_request({"mnlx": ["train"]}), tmp_path / "c", endpoint=hub.endpoint)
    with pytest.raises(StagingError, match=r"config 'mnli' has no split 'nonexistent'"):
        stage(glue_request({"mnli": ["nonexistent"]}), tmp_path / "c", endpoint=hub.endpoint)
    missing = StageRequest("nobody/nothing", "model", "main", "models.ghost")
    with pytest.raises(StagingError, match=r"'nobody/nothing' \(models.ghost\) not found"):
        stage(missing, tmp_path / "c", endpoint=hub.endpoint)
    with pytest.raises(StagingError, match=r"revision 'v9' does not exist"):
        stage(
            StageRequest(GLUE, "dataset", "v9", "tasks.mnli", {"mnli": ["train"]}),
            tmp_path / "d",
            endpoint=hub.endpoint,
        )
    # Nothing staged before is removed by a refused request.
    assert not lock_path(tmp_path / "c", "dataset", GLUE).exists()


def test_weights_without_safetensors_are_refused(hub, tmp_path):
    hub.add_files(MODEL, {"config.json": b"{}", "pytorch_model.bin": b"pickle"})
    with pytest.raises(StagingError, match="no safetensors weights"):
        stage(model_request(), tmp_path, endpoint=hub.endpoint)


def test_a_gated_repository_needs_the_token_which_is_written_nowhere(
    hub, tiny_model_dir, tmp_path, monkeypatch
):
    hub.add_repo(MODEL, tiny_model_dir)
    hub.set_gated(MODEL, token="hf_secret_staging_token")
    with pytest.raises(StagingError, match=r"is gated: .*HF_TOKEN"):
        stage(model_request(), tmp_path / "a", endpoint=hub.endpoint)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_staging_token")
    stage(model_request(), tmp_path / "b", endpoint=hub.endpoint)
    assert any(
        "hf_secret_staging_token" in r["headers"].get("authorization", "") for r in hub.requests
    )
    for path in (tmp_path / "b").rglob("*"):
        if path.is_file():
            assert b"hf_secret_staging_token" not in path.read_bytes(), path


def test_rate_limits_are_retried_with_backoff_then_reported(hub, tiny_model_dir, tmp_path):
    commit = hub.add_repo(MODEL, tiny_model_dir)
    hub.fail_next(429, count=2, path_contains="/api/models", retry_after=0)
    lock = stage(model_request(), tmp_path / "a", endpoint=hub.endpoint, wait=0.01)
    assert lock["commit"] == commit
    hub.fail_next(429, count=10, path_contains="/api/models", retry_after=0)
    with pytest.raises(StagingError, match=r"'xlt-test/tiny-xlmr' .*HTTP 429, also after retries"):
        stage(model_request(), tmp_path / "b", endpoint=hub.endpoint, retries=2, wait=0.01)


def test_an_unwritable_cache_fails_before_any_request(hub, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StagingError, match="staging.cache: .* is not a writable folder"):
        stage(model_request(), blocker / "cache", endpoint=hub.endpoint)
    assert hub.requests == []


def test_a_job_refuses_a_staged_folder_whose_files_are_gone(hub, tiny_model_dir, tmp_path):
    hub.add_repo(MODEL, tiny_model_dir)
    lock = stage(model_request(), tmp_path, endpoint=hub.endpoint)
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps(lock))
    assert require_staged(receipt) == staged_folder(tmp_path, "model", MODEL)
    os.remove(staged_folder(tmp_path, "model", MODEL) / "model.safetensors")
    with pytest.raises(StagingError, match=r"model.safetensors is missing .* rerun the stage rule"):
        require_staged(receipt)


def test_xnli_fixture_serves_per_language_configs(hub, tmp_path):
    hub.add_repo("facebook/xnli", xnli(tmp_path / "xnli"), repo_type="dataset")
    request = StageRequest("facebook/xnli", "dataset", "main", "tasks.xnli", {"de": ["test"]})
    lock = stage(request, tmp_path / "cache", endpoint=hub.endpoint)
    assert [f["path"] for f in lock["files"]] == ["README.md", "de/test-00000-of-00001.parquet"]


def test_a_job_given_an_unstaged_hub_model_stops_naming_it():
    from xltransfer.models.factory import load_tokenizer

    with pytest.raises(StagingError, match=r"'FacebookAI/xlm-roberta-base' is a Hub id.*stage"):
        load_tokenizer("FacebookAI/xlm-roberta-base")


def test_restaging_keeps_matching_files_and_refetches_a_damaged_one(hub, tiny_model_dir, tmp_path):
    hub.add_repo(MODEL, tiny_model_dir)
    lock = stage(model_request(), tmp_path, endpoint=hub.endpoint)
    weights = staged_folder(tmp_path, "model", MODEL) / "model.safetensors"
    good = weights.read_bytes()
    assert {f["path"]: f["sha256"] for f in lock["files"]}["model.safetensors"] == (
        hashlib.sha256(good).hexdigest()
    )
    del hub.requests[:]
    stage(model_request(), tmp_path, endpoint=hub.endpoint)
    assert not [r for r in hub.requests if "/resolve/" in r["path"]]  # every file kept
    # Same size, other bytes: only the checksum tells; the file alone is fetched again.
    weights.write_bytes(bytes(reversed(good)))
    assert damaged_files(read_lock(lock_path(tmp_path, "model", MODEL))) == []
    stage(model_request(), tmp_path, endpoint=hub.endpoint)
    fetched = [r["path"] for r in hub.requests if r["method"] == "GET" and "/resolve/" in r["path"]]
    assert [path.rsplit("/", 1)[1] for path in fetched] == ["model.safetensors"]
    assert weights.read_bytes() == good
    weights.unlink()
    assert damaged_files(read_lock(lock_path(tmp_path, "model", MODEL))) == ["model.safetensors"]


def test_check_staged_names_the_key_and_the_file_and_check_update_the_repository(
    hub, tiny_model_dir, tmp_path
):
    hub.add_repo(MODEL, tiny_model_dir)
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps(stage(model_request(), tmp_path, endpoint=hub.endpoint)))
    check_staged({"models.tiny": receipt, "tasks.xnli": tmp_path / "not-staged-yet.json"})
    (staged_folder(tmp_path, "model", MODEL) / "config.json").unlink()
    message = r"models.tiny: staged model 'xlt-test/tiny-xlmr' lacks config.json .* `make stage`"
    with pytest.raises(StagingError, match=message):
        check_staged({"models.tiny": receipt})
    check_update("", {MODEL})
    check_update(f"all,{MODEL}", {MODEL})
    with pytest.raises(StagingError, match="REPO=x/y is not a Hub repository of this grid"):
        check_update("x/y", {MODEL})


def test_pin_moves_only_when_asked(hub, tiny_model_dir, tmp_path):
    first = hub.add_repo(MODEL, tiny_model_dir)
    assert pin(model_request(), tmp_path, endpoint=hub.endpoint) == first  # no lock: asks
    stage(model_request(), tmp_path, endpoint=hub.endpoint)
    moved = hub.add_files(MODEL, {"config.json": b"{}", "model.safetensors": b"0"})
    del hub.requests[:]
    assert pin(model_request(), tmp_path, endpoint=hub.endpoint) == first
    assert hub.requests == []  # the lock answers
    assert pin(model_request(), tmp_path, endpoint=hub.endpoint, update=True) == moved
