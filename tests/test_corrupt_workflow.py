"""A score shard cut short on disk heals by rerunning the same command: no file deleted by hand."""

from __future__ import annotations

import shutil
import subprocess

import pandas as pd
import pytest
from conftest import REPO
from test_workflow import SNAKEMAKE, workflow_copy

pytestmark = pytest.mark.workflow

FINAL_TABLES = ("scores", "gains", "correlations", "source_selection")
# When each evaluation ran: training and evaluation on CPU are deterministic, so this is the one
# column that may differ between two runs of the same grid.
WALL_CLOCK = ["created_at"]


def test_truncated_shard_is_recomputed(tmp_path):
    folder = workflow_copy(tmp_path / "run")
    config = folder / "tiny.yaml"
    shutil.copy(REPO / "tests" / "configs" / "tiny.yaml", config)
    command = [*SNAKEMAKE, "--cores", "2", "--keep-going", "--configfile", str(config)]
    results = folder / "results" / "tiny"
    subprocess.run(command, cwd=folder, capture_output=True, text=True, check=True)
    untouched = {name: pd.read_parquet(results / f"{name}.parquet") for name in FINAL_TABLES}

    shard = results / "scores" / "tiny-xlmr" / "seed1" / "mnli" / "xnli" / "shard1.parquet"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])

    # The reader names the shard and moves it aside; Snakemake had already planned the DAG
    # without its producer, so this run fails.
    failed = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    assert failed.returncode != 0
    log = (folder / "logs" / "tiny" / "aggregate.log").read_text()
    assert f"{shard.relative_to(folder)}: moved to shard1.parquet.corrupt" in log
    assert not shard.exists() and shard.with_name("shard1.parquet.corrupt").exists()

    # The same command again: the shard is missing, so its evaluation reruns (retraining the
    # temporary target checkpoint it reads) and every table after it follows.
    healed = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=True)
    assert "train_target" in healed.stdout + healed.stderr
    for name, table in untouched.items():
        again = pd.read_parquet(results / f"{name}.parquet")
        if name == "scores":
            table, again = table.drop(columns=WALL_CLOCK), again.drop(columns=WALL_CLOCK)
        pd.testing.assert_frame_equal(again, table, obj=name)
