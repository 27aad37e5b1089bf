"""Damaged Parquet outputs found from their structure (cheap) or their recorded checksum."""

from __future__ import annotations

import hashlib
import os

import pandas as pd
import pytest

from xltransfer.integrity import heal, lost, parquet_problem, recorded_checksum, verify
from xltransfer.io import write_parquet_atomic


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "results" / "run"
    for name in ("scores/a/shard0.parquet", "scores/b/shard0.parquet", "gains.parquet"):
        write_parquet_atomic(pd.DataFrame({"value": range(50)}), folder / name)
    return folder


def test_a_written_file_records_its_checksum(results):
    path = results / "gains.parquet"
    assert recorded_checksum(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (results / "gains.parquet.sha256").read_text().endswith("  gains.parquet\n")


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda data: data[: len(data) // 2], "cut short (no Parquet footer)"),
        (lambda data: b"", "0 bytes, shorter than any Parquet file"),
        (lambda data: b"XXXX" + data[4:], "no Parquet header"),
        (lambda data: data[:-8] + (10**6).to_bytes(4, "little") + b"PAR1", "footer longer"),
    ],
)
def test_structure_tells_a_file_cut_short(results, damage, problem):
    path = results / "scores" / "a" / "shard0.parquet"
    assert parquet_problem(path) is None
    path.write_bytes(damage(path.read_bytes()))
    found = parquet_problem(path)
    assert problem in found
    assert heal(results) == [(path, found, "moved to shard0.parquet.corrupt")]
    assert lost(results) == [path]  # a target of the run until it is rebuilt
    assert not path.exists() and not (results / "scores/a/shard0.parquet.sha256").exists()
    assert heal(results) == []  # the other files are whole
    write_parquet_atomic(pd.DataFrame({"value": range(50)}), path)
    assert lost(results) == []


def test_only_the_checksum_tells_changed_bytes_with_the_timestamp_put_back(results):
    path = results / "scores" / "b" / "shard0.parquet"
    stamp = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert parquet_problem(path) is None and heal(results) == []
    assert verify(results) == [
        (path, "its bytes differ from the checksum recorded when it was written")
    ]
    # A file written before checksums were recorded is checked for its structure only.
    (results / "scores/b/shard0.parquet.sha256").unlink()
    assert verify(results) == []
