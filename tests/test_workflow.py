"""Snakemake itself: dry-run job counts, config errors at DAG construction."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from snakemake.utils import validate

from xltransfer.config import expected_job_counts

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def workflow_copy(tmp_path: Path) -> Path:
    """The workflow's files in a scratch folder, so runs never touch the repo's results."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "workflow", "config", "envs"):
        source = REPO / name
        target = tmp_path / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    return tmp_path


def default_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def write_config(folder: Path, config: dict) -> Path:
    path = folder / "test-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def dry_run_counts(folder: Path, configfile: Path) -> dict[str, int]:
    result = subprocess.run(
        [*SNAKEMAKE, "-n", "--cores", "2", "--configfile", str(configfile)],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    table = result.stdout.split("Job stats:")[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}


def planned(folder: Path, configfile: Path | str, env: dict | None = None) -> dict[str, int]:
    """Jobs per rule the next run of a grid plans (nothing: an empty dict), without `total`."""
    dry = subprocess.run(
        [*SNAKEMAKE, "-n", "--cores", "2", "--configfile", str(configfile)],
        cwd=folder, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-3000:]
    if "Job stats:" not in dry.stdout:
        assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-2000:]
        return {}
    table = dry.stdout.split("Job stats:")[1]
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}
    counts.pop("total")
    return counts


@pytest.mark.parametrize("languages_per_job", [0, 1, 4])
def test_dry_run_matches_grid_arithmetic(tmp_path, languages_per_job):
    folder = workflow_copy(tmp_path)
    config = default_config()
    config["experiment"]["languages_per_job"] = languages_per_job
    config["experiment"]["seeds"] = [1, 2]
    counts = dry_run_counts(folder, write_config(folder, config))
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    assert counts == expected_job_counts(config)
    # 2 seeds x 8 runs x 5 targets x ceil(6 languages / languages_per_job)
    shards = {0: 1, 1: 6, 4: 2}[languages_per_job]
    assert counts["evaluate"] == 2 * 8 * 5 * shards
    assert counts["pretrain"] == counts["train_tokenizer"] == counts["demo_benchmark"] == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["experiment"]["sources"].append("mnlii"), "experiment.sources: unknown task"),
        (lambda c: c["experiment"].update(models=["xlmr"]), "experiment.models: unknown model"),
        (lambda c: c["tasks"]["xnli"].update(metric="bleu"), "bleu"),
        (lambda c: c["training"]["target"].update(epoch=2), "epoch"),
        (
            lambda c: c["experiment"].update(target_languages={"xnli": ["de"]}),
            "experiment.target_languages.xnli: language 'de'",
        ),
    ],
)
def test_bad_config_fails_when_the_dag_is_built(tmp_path, change, message):
    folder = workflow_copy(tmp_path)
    earlier = folder / "results" / "demo" / "scores.parquet"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("an earlier result")
    config = default_config()
    change(config)
    result = subprocess.run(
        [*SNAKEMAKE, "--cores", "2", "--configfile", str(write_config(folder, config))],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert earlier.read_text() == "an earlier result"  # nothing computed is lost


def test_configfile_replaces_the_default_instead_of_merging(tmp_path):
    # A --configfile without the demo's tasks must not see them: 'sentiment' is unknown here.
    folder = workflow_copy(tmp_path)
    config = default_config()
    del config["tasks"]["sentiment"]
    result = subprocess.run(
        [*SNAKEMAKE, "-n", "--configfile", str(write_config(folder, config))],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "experiment.targets: unknown task 'sentiment'" in result.stdout + result.stderr


def test_xtreme_config_dry_run_builds(tmp_path):
    folder = workflow_copy(tmp_path)
    config = yaml.safe_load((REPO / "config" / "xtreme.yaml").read_text())
    counts = dry_run_counts(folder, folder / "config" / "xtreme.yaml")
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    assert counts == expected_job_counts(config)
    # 5 models (mt5-base with heads and text to text) x 3 seeds x 10 sources; x 11 runs (with
    # none) x 9 trained targets; retrieval targets (tatoeba, bucc) are scored straight from each
    # of those 11 encoders.
    assert counts["train_source"] == 5 * 3 * 10
    # MLQA is scored from XQuAD's fine-tunes (the same SQuAD training): 8 fine-tuned targets.
    assert counts["train_target"] == 5 * 3 * 11 * 8
    assert counts["evaluate"] == 5 * 3 * 11 * 9
    assert counts["evaluate_retrieval"] == 5 * 3 * 11 * 2
    # mt5-base and mt5-base-t2t are one Hub repository, staged once.
    assert counts["stage_model"] == 4
    assert "pretrain" not in counts and "demo_benchmark" not in counts


@pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("XLT_CI"),  # .ci/run installs graphviz
    reason="graphviz's dot is not installed",
)
def test_dag_views_render_to_svg_with_job_counts(tmp_path):
    folder = workflow_copy(tmp_path)
    shutil.copytree(REPO / "scripts", folder / "scripts")
    shutil.copy(REPO / "tests" / "configs" / "tiny.yaml", folder / "tiny.yaml")
    result = subprocess.run(
        ["scripts/render-dag.sh", "tiny.yaml", "views"],
        cwd=folder,
        env={**os.environ, "SNAKEMAKE": " ".join(SNAKEMAKE)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rulegraph = (folder / "views" / "rulegraph.svg").read_text()
    assert rulegraph.startswith("<?xml") and "</svg>" in rulegraph
    rules = re.findall(r"<text[^>]*>(\w+)</text>", rulegraph)
    assert {"demo_benchmark", "train_source", "train_target", "evaluate", "all"} <= set(rules)
    config = yaml.safe_load((folder / "tiny.yaml").read_text())
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    expected = expected_job_counts(config)
    dag = (folder / "views" / "dag.svg").read_text()
    assert dag.count('class="node"') == expected["total"]  # one node per job
    table = (folder / "views" / "job-counts.txt").read_text()
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}
    assert counts == expected
    assert counts["evaluate"] == 9  # 3 runs x 3 language shards


@pytest.mark.parametrize(("taskemb_model", "trains"), [("task2vec", False), ("fine_tuned", True)])
def test_taskemb_needs_trained_checkpoints_only_when_fine_tuned(tmp_path, taskemb_model, trains):
    folder = workflow_copy(tmp_path)
    config = default_config()
    config["similarity"] = {"taskemb_model": taskemb_model}
    configfile = str(write_config(folder, config))
    target = "results/demo/similarity/taskemb.parquet"  # before --configfile, which takes nargs
    result = subprocess.run(
        [*SNAKEMAKE, target, "-n", "--cores", "2", "--configfile", configfile],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    table = result.stdout.split("Job stats:")[1]
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}
    assert counts["taskemb_similarity"] == 1 and counts["pretrain"] == 1
    # Fine-tuned: one source checkpoint per source, one target-only baseline per target.
    assert counts.get("train_source", 0) == (7 if trains else 0)
    assert counts.get("train_target", 0) == (5 if trains else 0)
