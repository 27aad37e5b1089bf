"""Token and QA heads under data parallelism: 2 CPU ranks score dev exactly like 1 rank.

Their evaluation gathers sequences of different lengths from each rank (padded across processes
first), which the classification test does not exercise.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import standardised_files
from test_extractive_qa import qa_task, squad  # noqa: F401 (fixture)
from test_token_classification import NER_TAGS, ner_task, wikiann  # noqa: F401 (fixture)
from test_train import HP, free_port

from xltransfer.spec import FinetuneSpec, TaskHead
from xltransfer.train import SUMMARY_FILE, run_finetune


def without_dropout(model_dir, folder):
    shutil.copytree(model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize("head", ["token", "qa"])
def test_two_ranks_score_dev_like_one(head, wikiann, squad, tiny_model_dir, tmp_path):  # noqa: F811
    task, metric, labels = {
        "token": (ner_task(wikiann), "f1", NER_TAGS),
        "qa": (qa_task(squad), "f1", ()),
    }[head]
    files = standardised_files(task, (("en", "train"), ("en", "dev")), tmp_path)
    hp = dataclasses.replace(HP, epochs=2, learning_rate=3e-3, eval_batch_size=7, doc_stride=8)
    spec = FinetuneSpec(
        model="tiny",
        init_model=str(without_dropout(tiny_model_dir, tmp_path / "model")),
        revision=None,
        init_checkpoint=None,
        task=TaskHead(task=task.name, head=head, labels=labels, metric=metric),
        train_file=str(files["en", "train"]),
        dev_file=str(files["en", "dev"]),
        seed=1,
        hyperparameters=hp,
    )
    one = run_finetune(spec, tmp_path / "one")
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    launch += ["--master_addr", "127.0.0.1", "--master_port", str(free_port())]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [*launch, "-m", "xltransfer.cli.finetune", "--spec", spec.to_json()]
        + ["--output", str(tmp_path / "two")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    two = json.loads((tmp_path / "two" / SUMMARY_FILE).read_text())
    assert two["num_processes"] == 2
    for theirs, ours in zip(two["state"]["history"], one.history, strict=True):
        assert theirs["loss"] == pytest.approx(ours["loss"], abs=1e-4)
        # An odd dev batch size leaves ranks with batches of different lengths to gather.
        for key in ours:
            if key not in ("loss", "examples_per_s"):
                assert theirs[key] == pytest.approx(ours[key], abs=1e-6), key
