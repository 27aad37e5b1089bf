"""mT5 fine-tuned text to text: verbalisers, reading generations back, the run spec, and tiny mT5
trained through run_finetune on toys it must learn."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from test_model_families import corpus, tiny_spec, toy_frame
from test_train import HP

from xltransfer.data.tasks import TaskSpec
from xltransfer.kinds import KINDS, kind_for
from xltransfer.kinds.text_to_text import Verbaliser, number_text, read_number
from xltransfer.spec import FinetuneSpec, TaskHead, finetune_spec, task_head


def spec_of(**changes) -> TaskSpec:
    entry = {
        "dataset": "resources/demo_hub/xnli",
        "type": "pair_classification",
        "columns": {"text_a": "premise", "text_b": "hypothesis", "label": "label"},
        "splits": {"train": "train", "dev": "validation", "test": "test"},
        "languages": ["en", "de"],
        "metric": "accuracy",
        "config": "{lang}",
        "labels": ["entailment", "neutral", "contradiction"],
    }
    return TaskSpec.from_config("xnli", {**entry, **changes})


# -- verbalisers and reading back ---------------------------------------------------------------
def test_default_verbaliser_writes_the_pair_and_names_labels_by_their_names():
    kind = kind_for("pair_classification", text_to_text=True)
    verbaliser = kind.default_verbaliser(spec_of())
    assert verbaliser.label_words == ("entailment", "neutral", "contradiction")
    frame = __import__("pandas").DataFrame({"text_a": ["a cat"], "text_b": ["a pet"], "label": [0]})
    assert verbaliser.inputs(frame) == ["sentence1: a cat sentence2: a pet"]
    assert kind.bound(verbaliser).targets(frame) == ["entailment"]
    qa = kind_for("extractive_qa", text_to_text=True)
    assert qa.default_verbaliser(spec_of(type="extractive_qa", labels=[])).max_target_tokens == 32


def test_a_verbaliser_that_cannot_name_one_label_is_refused():
    kind = kind_for("pair_classification", text_to_text=True)
    same = spec_of(text_to_text={"label_words": {"entailment": "yes", "neutral": "yes"}})
    assert [p.key for p in kind.problems(same)] == ["text_to_text.label_words"]
    stray = spec_of(text_to_text={"label_words": {"maybe": "perhaps"}})
    assert "['maybe'] are not among the labels" in kind.problems(stray)[0].message
    unknown = spec_of(text_to_text={"template": "premise: {premise}"})
    assert "names ['premise']" in kind.problems(unknown)[0].message
    assert kind.problems(spec_of()) == []


def test_generations_are_read_back_as_the_base_kinds_predictions():
    words = Verbaliser("sentence: {text_a}", ("no", "yes"), 4)
    classes = kind_for("single_classification", text_to_text=True).bound(words)
    ids, invalid = classes.read(["yes", " no ", "maybe"])
    assert ids.tolist() == [1, 0, -1] and invalid == pytest.approx(1 / 3)
    numbers = kind_for("single_regression", text_to_text=True).bound(words)
    values, invalid = numbers.read(["3.2", "five", "-1.0"])
    assert values.tolist() == [3.2, -1.0, -1.0] and invalid == pytest.approx(1 / 3)
    answers = kind_for("extractive_qa", text_to_text=True).bound(words)
    assert answers.read(["the dog", ""]) == (["the dog", ""], 0.5)


def test_scores_are_written_as_t5_writes_sts_b():
    assert [number_text(v) for v in (3.14, 0.0, 4.99, 2.7)] == ["3.2", "0.0", "5.0", "2.8"]
    assert read_number(" 2.4 ") == (2.4, True)
    assert read_number("nan") == (-1.0, False)


def test_every_trained_kind_has_a_text_form_and_retrieval_none():
    with pytest.raises(ValueError, match="'retrieval' has no text-to-text form"):
        kind_for("retrieval", text_to_text=True)
    assert {k for k in KINDS if k.startswith("text_to_text_")} == {
        "text_to_text_classification",
        "text_to_text_regression",
        "text_to_text_qa",
        "text_to_text_multiple_choice",
        "text_to_text_token",
    }
    # A bi-encoder STS task is written as text as a cross-encoder reads it: both sentences.
    assert kind_for("pair_regression", "bi_encoder", True).name == "text_to_text_regression"


def test_choices_and_tags_are_written_out_and_read_back():
    import pandas as pd

    choice = kind_for("multiple_choice", text_to_text=True)
    words = Verbaliser("context: {text_a} question: {text_b} options: {choices}", ("A", "B"), 4)
    frame = pd.DataFrame(
        {"text_a": ["a dog"], "text_b": ["does it"], "label": [1], "choices": [["sit", "run"]]}
    )
    bound = choice.bound(words)
    assert words.inputs(frame) == ["context: a dog question: does it options: (A) sit (B) run"]
    assert bound.targets(frame) == ["B"]
    tags = kind_for("token_classification", text_to_text=True).bound(
        Verbaliser("sentence: {text_a}", ("O", "B-X", "I-X"), 16)
    )
    frame = pd.DataFrame({"text_a": [["a", "big", "dog"]], "text_b": [None], "label": [[0, 1, 2]]})
    assert tags.targets(frame) == ["O B-X I-X"]
    assert tags.bound(tags.verbaliser).verbaliser.inputs(frame) == ["sentence: a big dog"]
    gold = [[0, 1, 2], [0, 0], [1]]
    read, invalid = tags.read(["O B-X I-X", "O", "B-X Y"], gold)
    # Too few tags: the untagged word reads O; an unknown tag or a stray one marks the sentence.
    assert read == [[0, 1, 2], [0, 0], [1]] and invalid == pytest.approx(2 / 3)


# -- the run spec ----------------------------------------------------------------------------
def test_a_head_runs_spec_is_unchanged_and_a_text_runs_spec_round_trips():
    common = dict(
        model="m",
        init_model="resources/models/m",
        revision=None,
        init_checkpoint=None,
        task=spec_of(),
        train_file="t",
        dev_file="d",
        seed=1,
        hyperparameters=dataclasses.asdict(HP),
        threads=1,
    )
    heads = json.loads(finetune_spec(**common).to_json())
    assert "text_to_text" not in heads["task"] and "optimizer" not in heads["hyperparameters"]
    assert heads["task"]["head"] == "classification"
    text = finetune_spec(**common, text_to_text=True)
    assert text.task.head == "text_to_text_classification"
    assert FinetuneSpec.from_json(text.to_json()) == text
    assert text.task.kind.verbaliser.label_words == ("entailment", "neutral", "contradiction")
    assert task_head(spec_of(), True).as_dict()["text_to_text"]["template"].startswith("sentence1")


# -- tiny mT5, trained ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_mt5(tmp_path_factory) -> Path:
    from transformers import set_seed

    from xltransfer.training.pretrain import build_model, train_tokenizer

    folder = tmp_path_factory.mktemp("tiny-mt5")
    tokenizer = train_tokenizer(corpus(), 200, "mt5")
    set_seed(0)
    build_model(tokenizer, tiny_spec("mt5")).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


NOUNS = ("dog", "cat", "bird")


def run(model_dir: Path, head: TaskHead, kind: str, folder: Path, init=None, **changes):
    from xltransfer.training.loop import run_finetune

    for role, (n, seed) in {"train": (192, 0), "dev": (48, 1)}.items():
        toy_frame(kind, n, seed).to_parquet(folder / f"{kind}-{role}.parquet")
    values = dict(epochs=6, learning_rate=5e-3, warmup_ratio=0.0, per_device_batch_size=16)
    hp = dataclasses.replace(HP, **{**values, **changes})
    spec = FinetuneSpec(
        model="tiny-mt5",
        init_model=str(model_dir),
        revision=None,
        init_checkpoint=init,
        task=head,
        train_file=str(folder / f"{kind}-train.parquet"),
        dev_file=str(folder / f"{kind}-dev.parquet"),
        seed=0,
        hyperparameters=hp,
    )
    return run_finetune(spec, folder / "out"), spec


def best_epoch(state) -> dict:
    return next(entry for entry in state.history if entry["epoch"] == state.best_epoch)


def text_head(kind: str, verbaliser: Verbaliser, labels=(), metric="accuracy") -> TaskHead:
    return TaskHead("toy", kind, tuple(labels), metric, text_to_text=verbaliser.as_dict())


def test_tiny_mt5_learns_to_write_the_label_word(tiny_mt5, tmp_path):
    """'the <noun> sees ...': the class is the noun, written as the noun itself."""
    words = Verbaliser("sentence: {text_a}", NOUNS, 4)
    head = text_head("text_to_text_classification", words, NOUNS)
    state, _ = run(tiny_mt5, head, "classification", tmp_path, optimizer="adafactor")
    best = best_epoch(state)
    assert best["accuracy"] >= 0.9 and best["invalid_rate"] <= 0.1, best


def test_tiny_mt5_generates_answers_and_carries_its_whole_model_on(tiny_mt5, tmp_path):
    """QA as text from a text-to-text classification checkpoint: the LM head carries over."""
    words = Verbaliser("sentence: {text_a}", NOUNS, 4)
    source_dir = tmp_path / "source"
    source_dir.mkdir()
    run(
        tiny_mt5,
        text_head("text_to_text_classification", words, NOUNS),
        "classification",
        source_dir,
    )
    qa = Verbaliser("question: {text_a} context: {text_b}", (), 6)
    target_dir = tmp_path / "target"
    target_dir.mkdir()
    head = text_head("text_to_text_qa", qa, metric="f1")
    state, _ = run(tiny_mt5, head, "qa", target_dir, init=str(source_dir / "out"), max_length=64)
    summary = json.loads((target_dir / "out" / "training_summary.json").read_text())
    assert summary["head_carried_over"] is True
    best = best_epoch(state)
    assert {"f1", "exact_match", "invalid_rate"} <= set(best)
    assert 0.0 <= best["f1"] <= 1.0


def test_zero_shot_scores_a_text_checkpoint_per_language(tiny_mt5, tmp_path):
    from xltransfer.evaluation.zero_shot import evaluate_shard

    words = Verbaliser("sentence: {text_a}", NOUNS, 4)
    head = text_head("text_to_text_classification", words, NOUNS)
    run(tiny_mt5, head, "classification", tmp_path, epochs=1)
    tests = {}
    for language, seed in (("en", 2), ("xx", 3)):
        tests[language] = tmp_path / f"test-{language}.parquet"
        toy_frame("classification", 20, seed).to_parquet(tests[language])
    rows = evaluate_shard(tmp_path / "out", tests, context={"target": "toy"})
    assert set(rows["language"]) == {"en", "xx"}
    assert {"accuracy", "f1_macro", "invalid_rate"} <= set(rows["metric"])
    assert np.isfinite(rows["value"]).all()


# -- configuration -----------------------------------------------------------------------------
@pytest.fixture
def text_config() -> dict:
    """The demo with a text-to-text tiny mT5 beside its XLM-R, and TaskEmb by Task2Vec (a
    text-to-text checkpoint has no head to take a Fisher at)."""
    import yaml
    from conftest import REPO
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["models"]["tiny-mt5-t2t"] = {
        "build": {"architecture": "mt5"},
        "fine_tuning": "text_to_text",
        "hyperparameters": {"optimizer": "adafactor", "learning_rate": 1e-3},
    }
    config["experiment"]["models"] = ["tiny-xlmr", "tiny-mt5-t2t"]
    config.setdefault("similarity", {})["taskemb_model"] = "task2vec"
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def test_a_text_to_text_grid_is_valid(text_config):
    from xltransfer.config import Grid, check_config, fine_tunes_text_to_text

    check_config(text_config)
    assert Grid.from_config(text_config).models == ("tiny-xlmr", "tiny-mt5-t2t")
    assert fine_tunes_text_to_text(text_config, "tiny-mt5-t2t")
    assert not fine_tunes_text_to_text(text_config, "tiny-xlmr")


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda c: c["models"]["tiny-mt5-t2t"]["build"].update(architecture="xlmr"),
            "models.tiny-mt5-t2t.fine_tuning: text_to_text needs an encoder-decoder",
        ),
        (
            lambda c: c["tasks"]["conll2003"].update(text_to_text={"label_words": {"O": "no tag"}}),
            "tasks.conll2003.text_to_text.label_words: tags are written one word per input word",
        ),
        (
            # Only the text-to-text model: no model has a head for Vu et al.'s TaskEmb.
            lambda c: (
                c["similarity"].update(taskemb_model="fine_tuned"),
                c["experiment"].update(models=["tiny-mt5-t2t"]),
            ),
            "no model of this grid has one",
        ),
        (
            lambda c: c["tasks"]["xnli"].update(
                text_to_text={"label_words": {"entailment": "yes", "neutral": "yes"}}
            ),
            "tasks.xnli.text_to_text.label_words: the labels' words",
        ),
    ],
)
def test_a_text_to_text_grid_that_cannot_run_is_refused(text_config, change, message):
    from xltransfer.config import ConfigError, check_config

    change(text_config)
    with pytest.raises(ConfigError) as refused:
        check_config(text_config)
    assert message in str(refused.value)


def test_tiny_mt5_writes_one_tag_per_word(tiny_mt5, tmp_path):
    """'the dog sees ...' tagged N on its nouns, O elsewhere, written in words the toy
    vocabulary holds ('small' for O, 'big' for N); a word it lacks is refused."""
    unknown = Verbaliser("sentence: {text_a}", ("O", "N"), 24)
    with pytest.raises(ValueError, match="label word 'O' is not in the tokenizer's vocabulary"):
        run(tiny_mt5, text_head("text_to_text_token", unknown, ("O", "N")), "token", tmp_path)
    words = Verbaliser("sentence: {text_a}", ("small", "big"), 24)
    head = text_head("text_to_text_token", words, ("O", "N"))
    state, _ = run(tiny_mt5, head, "token", tmp_path, optimizer="adafactor")
    best = best_epoch(state)
    dev_tags = np.concatenate(toy_frame("token", 48, 1)["label"].tolist())
    majority = max(np.mean(dev_tags == 0), np.mean(dev_tags == 1))
    # The toy model writes the tags but has too little depth to learn where to stop, so every
    # sentence gets stray tags (invalid); the words it tags are still read and scored.
    assert best["accuracy"] > majority + 0.05, (best, majority)
    assert 0.0 <= best["invalid_rate"] <= 1.0


# -- the workflow ----------------------------------------------------------------------------------
@pytest.mark.workflow
def test_the_tiny_grid_runs_with_a_text_to_text_mt5(tmp_path):
    """tests/configs/tiny.yaml with its model swapped for a text-to-text tiny mT5: every run is
    trained and scored as text, and the analysis reads its scores like any model's."""
    import subprocess

    import pandas as pd
    import yaml
    from conftest import REPO
    from test_workflow import SNAKEMAKE, workflow_copy

    folder = workflow_copy(tmp_path)
    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    build = dict(config["models"].pop("tiny-xlmr")["build"], architecture="mt5")
    config["models"]["tiny-mt5-t2t"] = {
        "build": build,
        "fine_tuning": "text_to_text",
        "hyperparameters": {"optimizer": "adafactor", "learning_rate": 1.0e-3},
    }
    config["experiment"]["models"] = ["tiny-mt5-t2t"]
    config["similarity"] = {"taskemb_model": "task2vec"}
    path = folder / "t2t.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [*SNAKEMAKE, "--cores", "2", "--configfile", str(path)]
    run = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    results = folder / "results" / "tiny"
    scores = pd.read_parquet(results / "scores.parquet")
    assert set(scores["metric"]) == {"accuracy", "f1_macro", "invalid_rate"}
    assert set(scores["language"]) == {"en", "ov60", "cy0"}
    checkpoint = next((folder / "results" / "tiny" / "models").rglob("training_summary.json"))
    summary = json.loads(checkpoint.read_text())
    assert summary["spec"]["task"]["head"] == "text_to_text_classification"
    assert summary["spec"]["hyperparameters"]["optimizer"] == "adafactor"
    gains = pd.read_parquet(results / "gains.parquet")
    assert set(gains["source"]) == {"mnli", "sst2"} and gains["gain"].notna().all()
