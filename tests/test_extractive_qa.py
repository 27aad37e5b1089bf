"""Extractive QA end to end on a SQuAD-shaped folder: load, standardise, fine-tune over context
windows, and score answers zero-shot with exact match and F1."""

from __future__ import annotations

import dataclasses
import random

import pytest
from conftest import standardised_files, write_hub_repo
from test_train import HP

from xltransfer.data.load import DatasetError, load_split, standardize
from xltransfer.data.tasks import TaskSpec
from xltransfer.spec import FinetuneSpec, TaskHead

# rajpurkar/squad's plain_text config: answers is a sequence of (text, answer_start) records.
COLUMNS = [
    ("id", "string"),
    ("title", "string"),
    ("context", "string"),
    ("question", "string"),
    ("answers", {"text": "string", "answer_start": "int32"}),
]
ANIMALS = ["dog", "cat", "bird"]
OBJECTS = ["red dog", "old cat", "small bird", "big dog"]


def example(rng: random.Random, i: int, language: str) -> dict:
    """Filler sentences and one 'X follows the Y'; the question asks what X follows."""
    animal, answer = rng.choice(ANIMALS), rng.choice(OBJECTS)
    filler = [f"the {rng.choice(ANIMALS)} sees a {rng.choice(ANIMALS)}" for _ in range(6)]
    position = rng.randrange(len(filler))
    key = f"the {animal} follows the "
    sentences = filler[:position] + [key + answer] + filler[position:]
    context = " . ".join(sentences)
    if language == "xx":
        context = context.replace("sees", "SEES")
    start = context.index(key) + len(key)
    return {
        "id": f"{language}-{i}",
        "title": "toy",
        "context": context,
        "question": f"what does the {animal} follow",
        "answers": {"text": [answer], "answer_start": [start]},
    }


@pytest.fixture(scope="module")
def squad(tmp_path_factory):
    rng = random.Random(0)
    rows = {
        language: {
            split: [example(rng, i, language) for i in range(n)]
            for split, n in (("train", 240), ("validation", 40))
        }
        for language in ("en", "xx")
    }
    repo = tmp_path_factory.mktemp("hub") / "squad"
    return write_hub_repo(repo, COLUMNS, rows, "SQuAD", "rajpurkar/squad")


def qa_task(repo) -> TaskSpec:
    return TaskSpec(
        name="squad",
        dataset=str(repo),
        type="extractive_qa",
        columns={"text_a": "question", "text_b": "context", "label": "answers"},
        splits={"train": "train", "dev": "validation", "test": "validation"},
        languages=("en", "xx"),
        metric="f1",
        config="{lang}",
    )


def test_squad_layout_loads_with_answers_and_starts(squad):
    task = qa_task(squad)
    dataset = load_split(task, "en", "dev")
    assert set(dataset.features["answers"]) == {"text", "answer_start"}
    frame = standardize(task, dataset, "en", "dev")
    row = frame.iloc[0]
    assert row["text_b"][row["answer_start"][0] :].startswith(row["label"][0])


def test_an_answer_not_in_its_context_names_the_row(squad, tmp_path):
    rows = [example(random.Random(0), 0, "en"), example(random.Random(1), 1, "en")]
    rows[1]["answers"] = {"text": ["zebra"], "answer_start": [3]}
    repo = write_hub_repo(tmp_path / "broken", COLUMNS, {"en": {"validation": rows}}, "b", "none")
    task = dataclasses.replace(qa_task(squad), dataset=str(repo), languages=("en",))
    with pytest.raises(DatasetError, match="row 1: answer 'zebra' does not occur at character 3"):
        standardize(task, load_split(task, "en", "dev"), "en", "dev")


def test_qa_model_trains_over_windows_and_scores_answers(squad, tiny_model_dir, tmp_path):
    from xltransfer.evaluation.zero_shot import evaluate_shard
    from xltransfer.training.loop import run_finetune

    task = qa_task(squad)
    files = standardised_files(task, (("en", "train"), ("en", "dev"), ("xx", "test")), tmp_path)
    # max_length 32 is shorter than a context: every example spans several windows.
    hp = dataclasses.replace(
        HP, epochs=3, learning_rate=3e-3, per_device_batch_size=16, doc_stride=8
    )
    spec = FinetuneSpec(
        model="tiny",
        init_model=str(tiny_model_dir),
        revision=None,
        init_checkpoint=None,
        task=TaskHead(task="squad", head="qa", labels=(), metric="f1"),
        train_file=str(files["en", "train"]),
        dev_file=str(files["en", "dev"]),
        seed=0,
        hyperparameters=hp,
    )
    out = tmp_path / "model"
    state = run_finetune(spec, out)
    assert state.best_score > 0.5  # the tiny model learnt to read the answer after "follows the"
    scores = evaluate_shard(
        out,
        {"en": files["en", "dev"], "xx": files["xx", "test"]},
        context={"model": "tiny", "seed": 0, "source": "none", "target": "squad"},
    ).set_index(["language", "metric"])["value"]
    assert set(scores.index.get_level_values("metric")) == {"exact_match", "f1"}
    assert scores["en", "f1"] == pytest.approx(state.best_score)
    assert 0 <= scores["xx", "exact_match"] <= scores["xx", "f1"] <= 1

    from xltransfer.kinds import get_kind
    from xltransfer.similarity.embeddings import (
        head_input_probe_embedding,
        task2vec_embedding,
        text_embedding,
    )
    from xltransfer.similarity.task_fisher import fisher_components

    train = standardize(task, load_split(task, "en", "train"), "en", "train")
    small = {"n_examples": 20, "max_length": 32}  # the tiny model has 64 positions
    qa = get_kind("qa")
    probe = head_input_probe_embedding(str(tiny_model_dir), train, kind=qa, **small)
    task2vec = task2vec_embedding(str(tiny_model_dir), train, kind=qa, **small)
    fine_tuned = fisher_components(str(out), train, **small)
    assert text_embedding(str(tiny_model_dir), train, kind=qa, **small).shape == (32,)
    assert probe.shape == (32,) and (probe >= 0).all()
    assert set(task2vec) == {"layer00"} and (task2vec["layer00"] >= 0).all()
    # A span head reads every token of the last layer: attention context and output of layer 0.
    assert set(fine_tuned) == {"layer00.attention", "layer00.output"}
    assert all(v.shape == (32,) and v.sum() > 0 for v in fine_tuned.values())


def test_mlqa_normalisation_scores_each_test_split_in_its_language(
    squad, tiny_model_dir, tmp_path, monkeypatch
):
    import xltransfer.kinds.extractive_qa
    from xltransfer.evaluation.zero_shot import evaluate_shard
    from xltransfer.training.loop import run_finetune

    files = standardised_files(qa_task(squad), (("en", "train"), ("en", "dev")), tmp_path)
    spec = FinetuneSpec(
        model="tiny",
        init_model=str(tiny_model_dir),
        revision=None,
        init_checkpoint=None,
        task=TaskHead("mlqa", "qa", (), "f1", answer_normalization="mlqa"),
        train_file=str(files["en", "train"]),
        dev_file=str(files["en", "dev"]),
        seed=0,
        hyperparameters=dataclasses.replace(HP, epochs=1, doc_stride=8),
    )
    run_finetune(spec, tmp_path / "model")
    languages = []
    real = xltransfer.kinds.extractive_qa.squad_scores

    def recording(predictions, golds, language=None):
        languages.append(language)
        return real(predictions, golds, language)

    monkeypatch.setattr(xltransfer.kinds.extractive_qa, "squad_scores", recording)
    evaluate_shard(
        tmp_path / "model",
        {"de": files["en", "dev"], "zh": files["en", "dev"]},
        context={"model": "tiny", "seed": 0, "source": "none", "target": "mlqa"},
    )
    assert languages == ["de", "zh"]  # MLQA's German articles, Chinese characters


def test_mlqa_normalisation_needs_qa_in_known_languages():
    import copy

    import yaml
    from conftest import REPO
    from snakemake.utils import validate

    from xltransfer.config import ConfigError, check_config

    config = yaml.safe_load((REPO / "config" / "xtreme.yaml").read_text())
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    check_config(config)  # MLQA's seven languages all have a normalisation
    for task, message in (
        ("xquad", r"languages \['el', 'ru', 'th', 'tr'\]"),
        ("xnli", "pair_class"),
    ):
        bad = copy.deepcopy(config)
        bad["tasks"][task]["answer_normalization"] = "mlqa"
        with pytest.raises(ConfigError, match=rf"tasks.{task}.answer_normalization: .*{message}"):
            check_config(bad)
