"""Token and QA heads under data parallelism: 2 CPU ranks score dev exactly like 1 rank.

Their evaluation gathers sequences of different lengths from each rank (padded across processes
first), which the classification test does not exercise.
"""

from __future__ import annotations

import dataclasses

import pytest
from conftest import standardised_files
from test_extractive_qa import qa_task, squad  # noqa: F401 (fixture)
from test_token_classification import NER_TAGS, ner_task, wikiann  # noqa: F401 (fixture)
from test_train import HP, finetune_on_two_ranks, without_dropout

from xltransfer.spec import FinetuneSpec, TaskHead
from xltransfer.training.loop import run_finetune


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
    two = finetune_on_two_ranks(spec, tmp_path / "two")
    assert two["num_processes"] == 2
    for theirs, ours in zip(two["state"]["history"], one.history, strict=True):
        assert theirs["loss"] == pytest.approx(ours["loss"], abs=1e-4)
        # An odd dev batch size leaves ranks with batches of different lengths to gather.
        for key in ours:
            if key not in ("loss", "examples_per_s"):
                assert theirs[key] == pytest.approx(ours[key], abs=1e-6), key
