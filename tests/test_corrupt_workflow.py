"""A grid heals by running the same command again: a failed shard is rerun alone, a damaged one
is rebuilt (a file cut short) or found by `make verify` (bytes changed, timestamp put back). No
file is deleted by hand. One tiny grid serves the three."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from conftest import REPO
from test_workflow import SNAKEMAKE, dry_run_counts, workflow_copy

from xltransfer.jobs import FAIL_EVALUATE

pytestmark = pytest.mark.workflow

FINAL_TABLES = ("scores", "gains", "correlations", "source_selection")
# When each evaluation ran: training and evaluation on CPU are deterministic, so this is the one
# column that may differ between two runs of the same grid.
WALL_CLOCK = ["created_at"]


def test_a_failed_shard_reruns_alone_and_a_damaged_one_is_rebuilt(tmp_path):
    folder = workflow_copy(tmp_path / "run")
    config = folder / "tiny.yaml"
    shutil.copy(REPO / "tests" / "configs" / "tiny.yaml", config)
    command = [*SNAKEMAKE, "--cores", "2", "--keep-going", "--configfile", str(config)]
    results = folder / "results" / "tiny"
    scores = results / "scores" / "tiny-xlmr" / "seed1"

    # One evaluation fails: running the same command again recomputes that shard alone.
    failing = {**os.environ, FAIL_EVALUATE: "none/xnli/1"}
    first = subprocess.run(command, cwd=folder, env=failing, capture_output=True, text=True)
    assert first.returncode != 0
    assert not (scores / "none" / "xnli" / "shard1.parquet").exists()
    finished = sorted(scores.rglob("shard*.parquet"))
    assert len(finished) == 3 * 3 - 1  # 3 runs (2 sources + none) x 3 language shards
    stamps = {path: path.stat().st_mtime_ns for path in finished}
    assert not (results / "scores.parquet").exists()
    assert dry_run_counts(folder, config) == {
        "evaluate": 1, "aggregate": 1, "gains": 1, "transfer_gap": 1, "correlate": 1,
        "rank_sources": 1, "answer": 1, "summary_page": 1, "plots": 1, "all": 1, "total": 10,
    }  # fmt: skip
    subprocess.run(command, cwd=folder, capture_output=True, text=True, check=True)
    assert len(pd.read_parquet(results / "scores.parquet")) == 3 * 3 * 2  # x (accuracy, F1)
    assert {path: path.stat().st_mtime_ns for path in finished} == stamps  # nothing redone
    untouched = {name: pd.read_parquet(results / f"{name}.parquet") for name in FINAL_TABLES}

    shard = scores / "mnli" / "xnli" / "shard1.parquet"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])

    # The next run finds the shard cut short when it builds the DAG and moves it aside; its
    # evaluation must train the temporary target checkpoint again, which a run does only when
    # told (a finished fine-tune is named with its reason before any job starts).
    refused = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    said = refused.stdout + refused.stderr
    assert (
        f"xltransfer: {shard.relative_to(folder)}: cut short (no Parquet footer); moved to "
        "shard1.parquet.corrupt, and this run rebuilds it"
    ) in said
    assert refused.returncode != 0
    assert "this run would train 1 finished fine-tune(s) again:" in said
    assert "train_target tiny-xlmr seed 1 mnli -> xnli: Missing output files" in said
    assert "XLTRANSFER_RETRAIN=1" in said
    retrain = {**os.environ, "XLTRANSFER_RETRAIN": "1"}
    healed = subprocess.run(command, cwd=folder, env=retrain, capture_output=True, text=True)
    assert healed.returncode == 0, (healed.stdout + healed.stderr)[-3000:]
    assert "train_target" in healed.stdout + healed.stderr
    assert shard.with_name("shard1.parquet.corrupt").exists()
    check_tables(results, untouched)

    # Damage with the size, the Parquet footer and the timestamp put back: only the checksum
    # recorded when the shard was written tells, and `make verify` finds it.
    other = scores / "sst2" / "xnli" / "shard0.parquet"
    stamp = other.stat()
    flipped = bytearray(other.read_bytes())
    flipped[len(flipped) // 2] ^= 0xFF
    other.write_bytes(bytes(flipped))
    os.utime(other, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    verify = [sys.executable, "-m", "xltransfer.cli.verify", "--config", str(config)]
    found = subprocess.run(verify, cwd=folder, capture_output=True, text=True)
    assert found.returncode == 1
    assert f"{other.relative_to(folder)}: its bytes differ from the checksum" in found.stdout
    assert "1 of 39 Parquet outputs damaged" in found.stdout, found.stdout
    subprocess.run(command, cwd=folder, env=retrain, capture_output=True, text=True, check=True)
    check_tables(results, untouched)
    clean = subprocess.run(verify, cwd=folder, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout


def check_tables(results, untouched) -> None:
    for name, table in untouched.items():
        again = pd.read_parquet(results / f"{name}.parquet")
        if name == "scores":
            table, again = table.drop(columns=WALL_CLOCK), again.drop(columns=WALL_CLOCK)
        pd.testing.assert_frame_equal(again, table, obj=name)
