"""Targets whose English fine-tuning is identical share one fine-tune per (model, seed, source)."""

from __future__ import annotations

import copy
import re
import subprocess

import pytest
import yaml
from conftest import REPO
from snakemake.utils import validate
from test_workflow import SNAKEMAKE, workflow_copy

from xltransfer.config import Grid, expected_job_counts

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def load(name: str) -> dict:
    config = yaml.safe_load((REPO / "config" / name).read_text())
    validate(config, str(SCHEMA))
    return config


def with_copy_of_xnli(config: dict, **changes) -> dict:
    """The demo with a second XNLI target, `xnli_copy`, identical unless `changes` say."""
    config = copy.deepcopy(config)
    config["tasks"]["xnli_copy"] = {**copy.deepcopy(config["tasks"]["xnli"]), **changes}
    config["experiment"]["targets"].append("xnli_copy")
    validate(config, str(SCHEMA))
    return config


def test_xquad_and_mlqa_share_their_squad_fine_tunes():
    config = load("xtreme.yaml")
    grid = Grid.from_config(config)
    assert {t: s for t, s in grid.fine_tunes.items() if t != s} == {"mlqa": "xquad"}
    runs = len(grid.models) * len(grid.seeds) * len(grid.sources_with_baseline)
    assert grid.job_counts()["train_target"] == runs * (len(grid.trained_targets) - 1)
    assert runs == 165  # 5 models (mt5-base twice: heads and text to text) x 3 seeds x 11


def test_a_different_hyperparameter_or_answer_set_keeps_fine_tunes_apart():
    demo = load("config.yaml")
    assert Grid.from_config(with_copy_of_xnli(demo)).fine_tunes["xnli_copy"] == "xnli"
    faster = with_copy_of_xnli(demo, hyperparameters={"learning_rate": 1e-3})
    assert Grid.from_config(faster).fine_tunes["xnli_copy"] == "xnli_copy"
    relabelled = with_copy_of_xnli(demo, labels=["entailment", "contradiction", "neutral"])
    assert Grid.from_config(relabelled).fine_tunes["xnli_copy"] == "xnli_copy"


def test_the_dry_run_scores_the_copy_from_the_shared_checkpoint(tmp_path):
    folder = workflow_copy(tmp_path)
    config = with_copy_of_xnli(load("config.yaml"))
    (folder / "shared.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [*SNAKEMAKE, "-n", "--cores", "2", "--configfile", "shared.yaml"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "xnli_copy is scored from xnli's fine-tunes" in result.stderr
    table = result.stdout.split("Job stats:")[1]
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}
    assert counts == expected_job_counts(config)
    # Every xnli_copy shard reads the xnli checkpoint of the same run.
    jobs = result.stdout.split("\n\n")
    copies = [j for j in jobs if "rule evaluate:" in j and "/xnli_copy/shard" in j]
    assert copies
    for job in copies:
        run = re.search(r"scores/(\S+?)/(seed\d+)/(\S+?)/xnli_copy/", job)
        assert f"models/{run[1]}/{run[2]}/target/{run[3]}/xnli," in job + "," or (
            f"models/{run[1]}/{run[2]}/target/{run[3]}/xnli\n" in job + "\n"
        )


@pytest.mark.parametrize("head", ["token"])
def test_a_checkpoint_cannot_score_a_task_of_another_head(
    head, tiny_model_dir, toy_splits, tmp_path
):
    from xltransfer.data.tasks import TaskSpec
    from xltransfer.evaluation.zero_shot import evaluate_shard
    from xltransfer.spec import Hyperparameters, TaskHead, finetune_spec
    from xltransfer.training.loop import run_finetune

    task = TaskSpec.from_config(
        "pairs",
        {
            "dataset": "unused",
            "splits": {"train": "train", "dev": "dev", "test": "test"},
            "columns": {"text_a": "a", "text_b": "b", "label": "label"},
            "type": "pair_classification",
            "labels": ["no", "yes"],
            "metric": "accuracy",
            "languages": ["en"],
        },
    )
    hp = Hyperparameters.from_dict(
        {"epochs": 1, "learning_rate": 1e-3, "global_batch_size": 32, "per_device_batch_size": 32,
         "max_length": 32, "mixed_precision": "no", "warmup_ratio": 0.0, "weight_decay": 0.0,
         "max_grad_norm": 1.0, "eval_batch_size": 64, "doc_stride": 8, "checkpoint_steps": 0,
         "max_train_examples": None}
    )  # fmt: skip
    spec = finetune_spec(
        model="tiny", init_model=str(tiny_model_dir), revision=None, init_checkpoint=None,
        task=task, train_file=toy_splits["train"], dev_file=toy_splits["dev"], seed=0,
        hyperparameters=vars(hp), threads=1,
    )  # fmt: skip
    run_finetune(spec, tmp_path / "ckpt")
    other = TaskHead(task="tags", head=head, labels=("O", "B-X"), metric="f1")
    with pytest.raises(ValueError, match=r"fine-tuned for pairs .* cannot score tags"):
        evaluate_shard(tmp_path / "ckpt", {"en": toy_splits["dev"]}, context={}, task=other)
