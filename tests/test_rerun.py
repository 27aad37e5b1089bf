"""Running the same command again after a failed shard recomputes only that shard."""

from __future__ import annotations

import os
import shutil
import subprocess

import pandas as pd
import pytest
from conftest import REPO
from test_workflow import SNAKEMAKE, dry_run_counts, workflow_copy

from xltransfer.jobs import FAIL_EVALUATE

pytestmark = pytest.mark.workflow


def test_failed_shard_alone_is_rerun(tmp_path):
    folder = workflow_copy(tmp_path)
    config = folder / "tiny.yaml"
    shutil.copy(REPO / "tests" / "configs" / "tiny.yaml", config)
    command = [*SNAKEMAKE, "--cores", "2", "--keep-going", "--configfile", str(config)]

    failing = {**os.environ, FAIL_EVALUATE: "none/xnli/1"}
    first = subprocess.run(command, cwd=folder, env=failing, capture_output=True, text=True)
    assert first.returncode != 0
    scores = folder / "results" / "tiny" / "scores" / "tiny-xlmr" / "seed1"
    assert not (scores / "none" / "xnli" / "shard1.parquet").exists()
    finished = sorted(scores.rglob("shard*.parquet"))
    assert len(finished) == 3 * 3 - 1  # 3 runs (2 sources + none) x 3 language shards
    stamps = {path: path.stat().st_mtime_ns for path in finished}
    assert not (folder / "results" / "tiny" / "scores.parquet").exists()

    counts = dry_run_counts(folder, config)
    assert counts == {
        "evaluate": 1,
        "aggregate": 1,
        "gains": 1,
        "transfer_gap": 1,
        "correlate": 1,
        "rank_sources": 1,
        "answer": 1,
        "summary_page": 1,
        "plots": 1,
        "all": 1,
        "total": 10,
    }

    subprocess.run(command, cwd=folder, capture_output=True, text=True, check=True)
    table = pd.read_parquet(folder / "results" / "tiny" / "scores.parquet")
    assert len(table) == 3 * 3 * 2  # runs x languages x (accuracy, f1_macro)
    assert {path: path.stat().st_mtime_ns for path in finished} == stamps  # nothing redone
