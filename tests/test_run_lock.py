"""One run per folder: a live run's record refuses a second one; a dead one's is forgotten."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from xltransfer.run_lock import RECORD, FolderBusy, check_free, claim, only_reads, release


def record(folder, pid, host=None):
    path = folder / RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = {"pid": pid, "host": host or socket.gethostname(), "started": "2026-12-07T10:00:00"}
    path.write_text(json.dumps(holder))
    return path


@pytest.mark.parametrize(
    ("argv", "reads"),
    [
        (["-n", "--cores", "2"], True),
        (["-np", "--configfile", "c.yaml"], True),
        (["--dry-run"], True),
        (["--dag"], True),
        (["--summary"], True),
        (["--profile", "profiles/slurm", "--configfile", "config/xtreme.yaml"], False),
        (["--cores", "2", "-p", "stage"], False),
        (["--unlock"], False),
    ],
)
def test_only_reads(argv, reads):
    assert only_reads(argv) is reads


def test_a_live_run_refuses_a_second_one_in_one_line(tmp_path):
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as other:
        path = record(tmp_path, other.pid)
        with pytest.raises(FolderBusy) as refused:
            check_free(tmp_path, ["--cores", "2"])
        message = str(refused.value)
        assert (
            f"another run holds this folder: pid {other.pid} on {socket.gethostname()}" in message
        )
        assert f"check it with `ps -p {other.pid}`" in message and str(path) in message
        assert "\n" not in message and "rerun-incomplete" not in message
        check_free(tmp_path, ["-n", "--cores", "2"])  # a dry run only reads
        other.kill()
    assert path.exists()


def test_a_dead_run_is_forgotten_and_another_host_is_named(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = record(tmp_path, dead.pid)
    check_free(tmp_path, ["--cores", "2"])
    assert not path.exists()
    record(tmp_path, dead.pid, host="login-7")
    with pytest.raises(FolderBusy, match=r"check it with `ps -p \d+` on login-7"):
        check_free(tmp_path, ["--cores", "2"])


def test_a_run_claims_and_releases_its_folder(tmp_path):
    claim(tmp_path, ["--cores", "2"])
    holder = json.loads((tmp_path / RECORD).read_text())
    assert holder["command"] == ["--cores", "2"] and holder["host"] == socket.gethostname()
    check_free(tmp_path, ["--cores", "2"])  # its own record
    release(tmp_path)
    assert not (tmp_path / RECORD).exists()
