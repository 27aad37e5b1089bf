"""LocalHub (tests/hub_server.py) against the real, unpatched huggingface_hub client.

Besides checking the stand-in, these tests pin down how huggingface_hub 2.4.0 itself reacts to
rate limits, server errors and interrupted downloads, which staging code has to account for.
"""

from __future__ import annotations

import hashlib
import time

import huggingface_hub.constants as hf_constants
import pytest
from hub_server import LocalHub
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

FILES = {
    "config.json": b'{"hidden_size": 32}',
    "model.safetensors": bytes(range(256)) * 8,  # 2 KiB: an LFS file under lfs_threshold=1024
    "tokenizer/vocab.txt": b"[PAD]\n[UNK]\nthe\n",
    "README.md": b"# tiny\n",
}


@pytest.fixture(autouse=True)
def online(monkeypatch):
    """conftest (and CI) export HF_HUB_OFFLINE=1, which huggingface_hub reads once at import
    into `constants.HF_HUB_OFFLINE`; every request then checks that constant (through
    `constants.is_offline_mode()`) and raises OfflineModeIsEnabled, so flip it for these tests."""
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def hub():
    with LocalHub(lfs_threshold=1024) as hub:
        yield hub


def write_tree(folder, files):
    for path, data in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    return folder


def download(hub, tmp_path, repo_id, filename, **kwargs):
    """hf_hub_download from the stand-in, anonymously, caching under tmp_path."""
    kwargs.setdefault("token", False)
    return hf_hub_download(
        repo_id, filename, endpoint=hub.endpoint, cache_dir=tmp_path / "cache", **kwargs
    )


def seen(hub, part=""):
    return [(r["method"], r["status"]) for r in hub.requests if part in r["path"]]


def test_repo_info_for_models_datasets_and_the_parquet_branch(hub, tmp_path):
    sha = hub.add_repo("org/tiny", write_tree(tmp_path / "model", FILES))
    api = HfApi(endpoint=hub.endpoint, token=False)

    info = api.model_info("org/tiny", files_metadata=True)
    assert info.sha == sha and info.id == "org/tiny" and info.gated is False
    assert {s.rfilename: s.size for s in info.siblings} == {p: len(d) for p, d in FILES.items()}
    lfs = {s.rfilename: s.lfs for s in info.siblings if s.lfs}
    assert lfs["model.safetensors"].sha256 == hashlib.sha256(FILES["model.safetensors"]).hexdigest()
    assert list(lfs) == ["model.safetensors"]
    assert api.model_info("org/tiny", revision=sha).sha == sha
    assert sorted(api.list_repo_files("org/tiny")) == sorted(FILES)

    data_sha = hub.add_files("org/data", {"data/train.jsonl": b'{"a": 1}\n'}, repo_type="dataset")
    parquet = {"default/train/0000.parquet": b"PAR1...PAR1"}
    parquet_sha = hub.add_files("org/data", parquet, "dataset", branch="refs/convert/parquet")
    info = api.dataset_info("org/data", files_metadata=True)
    assert info.sha == data_sha and [(s.rfilename, s.size) for s in info.siblings] == [
        ("data/train.jsonl", 9)
    ]
    assert api.dataset_info("org/data", revision="refs/convert/parquet").sha == parquet_sha
    files = api.list_repo_files("org/data", repo_type="dataset", revision="refs/convert/parquet")
    assert files == list(parquet)
    kwargs = {"repo_type": "dataset", "revision": "refs/convert/parquet"}
    path = download(hub, tmp_path, "org/data", "default/train/0000.parquet", **kwargs)
    assert open(path, "rb").read() == b"PAR1...PAR1"
    assert any("refs%2Fconvert%2Fparquet" in r["path"] for r in hub.requests)


def test_tree_listing_follows_pagination(tmp_path):
    with LocalHub(tree_page_size=2) as hub:
        hub.add_files("org/many", {f"shard-{i}.txt": b"%d" % i for i in range(5)})
        files = HfApi(endpoint=hub.endpoint, token=False).list_repo_files("org/many")
    assert files == [f"shard-{i}.txt" for i in range(5)]
    assert [r["path"].rsplit("cursor=", 1)[-1] for r in hub.requests][1:] == ["2", "4"]


def test_snapshot_with_patterns_into_local_dir_and_download_into_cache(hub, tmp_path):
    sha = hub.add_repo("org/tiny", write_tree(tmp_path / "model", FILES))
    local = tmp_path / "local"
    out = snapshot_download(
        "org/tiny",
        endpoint=hub.endpoint,
        cache_dir=tmp_path / "cache",
        local_dir=local,
        allow_patterns=["*.json", "tokenizer/*"],
        token=False,
    )
    paths = [p for p in local.rglob("*") if p.is_file() and ".cache" not in p.parts]
    got = {p.relative_to(local).as_posix(): p.read_bytes() for p in paths}
    assert out == str(local)
    assert got == {p: FILES[p] for p in ("config.json", "tokenizer/vocab.txt")}
    assert not any("model.safetensors" in r["path"] for r in hub.requests)

    path = download(hub, tmp_path, "org/tiny", "model.safetensors")
    assert str(tmp_path / "cache") in path and sha in path
    assert open(path, "rb").read() == FILES["model.safetensors"]


def test_old_commits_stay_resolvable_after_the_branch_moves(hub, tmp_path):
    folder = write_tree(tmp_path / "model", {"config.json": b"v1"})
    old = hub.add_repo("org/tiny", folder)
    (folder / "config.json").write_bytes(b"v2")  # read at add time: this must not leak into `old`
    new = hub.add_repo("org/tiny", folder)
    assert old != new and len(new) == 40
    with LocalHub() as other:  # deterministic: same history, same shas
        assert other.add_files("org/tiny", {"config.json": b"v1"}) == old

    old_path = download(hub, tmp_path, "org/tiny", "config.json", revision=old)
    assert open(old_path, "rb").read() == b"v1"
    assert open(download(hub, tmp_path, "org/tiny", "config.json"), "rb").read() == b"v2"
    api = HfApi(endpoint=hub.endpoint, token=False)
    assert api.model_info("org/tiny").sha == new
    assert api.model_info("org/tiny", revision=old).sha == old


def test_errors_are_the_clients_own_exceptions(hub, tmp_path):
    hub.add_files("org/tiny", {"config.json": b"{}"})
    api = HfApi(endpoint=hub.endpoint, token=False)
    for call in (
        lambda: api.model_info("org/missing"),
        lambda: api.dataset_info("org/tiny"),  # a model, not a dataset
        lambda: download(hub, tmp_path, "org/missing", "config.json"),
        lambda: download(hub, tmp_path, "org/missing", "config.json", token="hf_other"),
    ):
        with pytest.raises(RepositoryNotFoundError) as error:
            call()
        assert not isinstance(error.value, GatedRepoError)
    with pytest.raises(RevisionNotFoundError):
        api.model_info("org/tiny", revision="nope")
    with pytest.raises(RevisionNotFoundError):
        download(hub, tmp_path, "org/tiny", "config.json", revision="nope")
    with pytest.raises(EntryNotFoundError):
        download(hub, tmp_path, "org/tiny", "missing.json")
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree("org/tiny", path_in_repo="no/such/folder"))


def test_gated_repo_needs_the_token(hub, tmp_path):
    hub.add_files("org/gated", {"config.json": b"{}"})
    hub.set_gated("org/gated")
    api = HfApi(endpoint=hub.endpoint, token=False)
    assert api.model_info("org/gated").gated == "manual"  # metadata stays public, as on the Hub
    with pytest.raises(GatedRepoError):
        download(hub, tmp_path, "org/gated", "config.json")
    with pytest.raises(GatedRepoError):
        snapshot_download("org/gated", endpoint=hub.endpoint, cache_dir=tmp_path, token=False)

    path = download(hub, tmp_path, "org/gated", "config.json", token="hf_test_token")
    assert open(path, "rb").read() == b"{}"
    assert hub.requests[-1]["headers"]["authorization"] == "Bearer hf_test_token"

    hub.set_gated("org/gated", files_only=False)
    with pytest.raises(GatedRepoError):
        api.model_info("org/gated")


def test_repo_info_does_not_retry_429_or_5xx(hub, tmp_path):
    """model_info/dataset_info/repo_info make one plain request: a 429 or 503 is raised as is."""
    hub.add_files("org/tiny", {"config.json": b"{}"})
    api = HfApi(endpoint=hub.endpoint, token=False)
    for status in (429, 503):
        hub.fail_next(status, path_contains="/api/models/", retry_after=0)
        with pytest.raises(HfHubHTTPError) as error:
            api.model_info("org/tiny")
        assert error.value.response.status_code == status
    assert seen(hub) == [("GET", 429), ("GET", 503)]
    # snapshot_download starts with repo_info and turns its 429 into "not in the local cache".
    hub.fail_next(429, path_contains="/api/models/")
    with pytest.raises(LocalEntryNotFoundError):
        snapshot_download("org/tiny", endpoint=hub.endpoint, cache_dir=tmp_path, token=False)


def test_download_retries_a_429_or_500_on_head_at_once(hub, tmp_path):
    """hf_hub_download's first HEAD has no retries; on 408/429/5xx with nothing cached it makes
    a second metadata lookup with backoff, whose first try goes out without sleeping."""
    hub.add_files("org/tiny", {"config.json": b"{}"})
    for status in (429, 500):
        hub.fail_next(status, path_contains="/resolve/", method="HEAD")
        start = time.monotonic()
        path = download(hub, tmp_path / str(status), "org/tiny", "config.json")
        assert open(path, "rb").read() == b"{}" and time.monotonic() - start < 0.5
    retried = [[("HEAD", status), ("HEAD", 200), ("GET", 200)] for status in (429, 500)]
    assert seen(hub, "/resolve/") == retried[0] + retried[1]


def test_tree_listing_retries_429_after_retry_after_plus_one_second(hub):
    hub.add_files("org/tiny", {"config.json": b"{}"})
    hub.fail_next(429, path_contains="/tree/", retry_after=0)
    start = time.monotonic()
    assert HfApi(endpoint=hub.endpoint, token=False).list_repo_files("org/tiny") == ["config.json"]
    assert seen(hub) == [("GET", 429), ("GET", 200)] and time.monotonic() - start >= 1


def test_file_get_retries_429_but_not_500(hub, tmp_path):
    hub.add_files("org/tiny", {"config.json": b"{}"})
    hub.fail_next(429, path_contains="/resolve/", method="GET", retry_after=0)
    path = download(hub, tmp_path / "a", "org/tiny", "config.json")
    assert open(path, "rb").read() == b"{}"
    hub.fail_next(500, path_contains="/resolve/", method="GET")
    with pytest.raises(HfHubHTTPError) as error:
        download(hub, tmp_path / "b", "org/tiny", "config.json")
    assert error.value.response.status_code == 500
    gets = [status for method, status in seen(hub, "/resolve/") if method == "GET"]
    assert gets == [429, 200, 500]


def test_interrupted_download_resumes_with_a_range_request(hub, tmp_path):
    """http_get catches the dropped connection and, a second later, asks for the rest with
    `Range: bytes=N-`, all inside the same hf_hub_download call. N counts only whole chunks of
    DOWNLOAD_CHUNK_SIZE (10 MiB): httpx buffers the partial chunk and drops it with the error."""
    chunk = hf_constants.DOWNLOAD_CHUNK_SIZE
    data = hashlib.sha256(b"seed").digest() * ((chunk + 4096) // 32)
    hub.add_files("org/big", {"weights.bin": data})
    hub.truncate_next("weights.bin", chunk + 1000)
    local = tmp_path / "local"
    path = download(hub, tmp_path, "org/big", "weights.bin", local_dir=local)
    assert open(path, "rb").read() == data
    gets = [r for r in hub.requests if r["method"] == "GET"]
    assert [(r["headers"].get("range"), r["status"]) for r in gets] == [
        (None, 200),
        (f"bytes={chunk}-", 206),
    ]
    assert not list((local / ".cache").rglob("*.incomplete"))


def test_interrupted_small_download_starts_over(hub, tmp_path):
    hub.add_files("org/tiny", {"vocab.txt": b"word\n" * 100})
    hub.truncate_next("vocab.txt", 10)
    path = download(hub, tmp_path, "org/tiny", "vocab.txt", local_dir=tmp_path / "local")
    assert open(path, "rb").read() == b"word\n" * 100
    gets = [r["headers"].get("range") for r in hub.requests if r["method"] == "GET"]
    assert gets == [None, None]  # nothing reached the file before the cut: no Range to ask
