"""tests/configs/retrieval.yaml through Snakemake: a retrieval target beside a trained one."""

from __future__ import annotations

import json
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import REPO
from snakemake.utils import validate
from test_workflow import SNAKEMAKE, dry_run_counts, workflow_copy, write_config

from xltransfer.config import expected_job_counts

SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")


def retrieval_config() -> dict:
    return yaml.safe_load((REPO / "tests" / "configs" / "retrieval.yaml").read_text())


def test_dry_run_matches_grid_arithmetic(tmp_path):
    folder = workflow_copy(tmp_path)
    config = retrieval_config()
    counts = dry_run_counts(folder, write_config(folder, config))
    validate(config, SCHEMA)
    assert counts == expected_job_counts(config)
    # 3 runs (none, mnli, sst2): xnli trained and evaluated per run, tatoeba only evaluated.
    assert counts["train_target"] == counts["evaluate"] == counts["evaluate_retrieval"] == 3
    # Vu et al.'s TaskEmb beside Task2Vec: the first covers the targets with a task head
    # (mnli, sst2, xnli: 3 embeddings), Task2Vec every task (4 embeddings), TextEmb too (4).
    config["similarity"]["methods"] += ["taskemb"]
    counts = dry_run_counts(folder, write_config(folder, config))
    assert counts == expected_job_counts(config)
    assert counts["task_embedding"] == 3 + 4 + 4 and counts["taskemb_similarity"] == 1


@pytest.mark.workflow
def test_real_run_scores_each_encoder_with_provenance_and_alignment_gain(tmp_path, tiny_model_dir):
    # The smallest real slice: the session's tiny encoder (no pretraining), one source, the
    # retrieval target only, up to gains.parquet.
    folder = workflow_copy(tmp_path)
    config = retrieval_config()
    config["models"] = {"tiny-xlmr": {"path": str(tiny_model_dir)}}
    config["experiment"].update(sources=["sst2"], targets=["tatoeba"])
    config["demo_benchmark"].update(train_size=100, dev_size=50, test_size=60)
    configfile = str(write_config(folder, config))
    result = subprocess.run(
        [*SNAKEMAKE, "results/retrieval/gains.parquet", "--cores", "2", "--configfile", configfile],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rule train_target" not in result.stdout + result.stderr
    results = folder / "results" / "retrieval"
    scores = pd.read_parquet(results / "scores.parquet").set_index(["source", "language", "metric"])
    # Two encoders (pretrained, sst2's) x 2 languages x plain and aligned accuracy.
    assert len(scores) == 2 * 2 * 2
    assert scores["n_examples"].eq(60).all() and scores["model_path"].eq(str(tiny_model_dir)).all()
    pretrained = scores.loc[("none", "ov60", "accuracy")]
    assert pretrained["hyperparameters"] == "{}" and pd.isna(pretrained["best_epoch"])
    trained = scores.loc[("sst2", "ov60", "accuracy")]
    assert json.loads(trained["hyperparameters"])["epochs"] == 1  # the source run's
    assert trained["global_batch_size"] == 32 and not trained["head_carried_over"]
    assert scores["value"].between(0, 1).all()
    gains = pd.read_parquet(results / "gains.parquet").set_index(["language", "metric"])
    aligned = gains.loc[("ov60", "accuracy_aligned")]
    assert aligned["alignment_gain"] == pytest.approx(
        scores.loc[("sst2", "ov60", "accuracy_aligned"), "value"] - trained["value"]
    )
    assert aligned["baseline_alignment_gain"] == pytest.approx(
        scores.loc[("none", "ov60", "accuracy_aligned"), "value"] - pretrained["value"]
    )
    assert gains.loc[("cy0", "accuracy"), "gain"] == pytest.approx(
        scores.loc[("sst2", "cy0", "accuracy"), "value"]
        - scores.loc[("none", "cy0", "accuracy"), "value"]
    )
