"""The workflow through `--profile profiles/slurm` on a real one-node SLURM cluster.

`.ci/run` starts the cluster with scripts/slurm-cluster.sh and sets XLT_REQUIRE_SLURM=1, so there
the test fails instead of skipping when no cluster answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pandas as pd
import pytest
from conftest import REPO
from test_workflow import SNAKEMAKE, workflow_copy

pytestmark = pytest.mark.workflow
KEY = ["source", "target", "language", "metric"]


def cluster_is_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return state.returncode == 0 and any(s in state.stdout for s in ("idle", "mixed", "allocated"))


@pytest.fixture(scope="module")
def slurm():
    if not cluster_is_up():
        if os.environ.get("XLT_REQUIRE_SLURM"):
            pytest.fail("no SLURM cluster answers; start one with scripts/slurm-cluster.sh start")
        pytest.skip("no SLURM cluster (scripts/slurm-cluster.sh start)")


def run_tiny(folder, *extra: str) -> tuple[pd.DataFrame, str]:
    config = folder / "tiny.yaml"
    shutil.copy(REPO / "tests" / "configs" / "tiny.yaml", config)
    (folder / "profiles").mkdir(exist_ok=True)
    shutil.copytree(REPO / "profiles" / "slurm", folder / "profiles" / "slurm", dirs_exist_ok=True)
    result = subprocess.run(
        [*SNAKEMAKE, "--configfile", str(config), *extra],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    scores = pd.read_parquet(folder / "results" / "tiny" / "scores.parquet")
    return scores.sort_values(KEY).reset_index(drop=True), result.stdout + result.stderr


def test_slurm_run_equals_local_run(slurm, tmp_path):
    local, _ = run_tiny(workflow_copy(tmp_path / "local"), "--cores", "2")
    on_slurm, output = run_tiny(
        workflow_copy(tmp_path / "slurm"),
        "--profile",
        "profiles/slurm",
        "--jobs",
        "4",
        "--latency-wait",
        "5",
        "--slurm-init-seconds-before-status-checks",
        "2",
    )
    assert len(on_slurm) == len(local) == 3 * 3 * 2
    assert (on_slurm[KEY] == local[KEY]).all().all()
    assert on_slurm["value"].to_numpy() == pytest.approx(local["value"].to_numpy(), abs=1e-6)
    assert output.count("submitted with SLURM jobid") >= 20  # every job went through sbatch
    assert "logs/slurm" in output  # the profile's sbatch log folder
