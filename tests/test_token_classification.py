"""Token classification end to end on a WikiANN-shaped folder: load, standardise, fine-tune,
evaluate zero-shot, and embed (TextEmb, TaskEmb probe and fine-tuned)."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
from conftest import standardised_files, write_hub_repo
from test_train import HP

from xltransfer.data.load import DatasetError, load_split, standardize
from xltransfer.data.tasks import TaskSpec
from xltransfer.spec import FinetuneSpec, TaskHead

# WikiANN's (unimelb-nlp/wikiann) seven tags in their ClassLabel order.
NER_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
COLUMNS = [
    ("tokens", ["string"]),
    ("ner_tags", [NER_TAGS]),
    ("langs", ["string"]),
    ("spans", ["string"]),
]
# Words of the tiny test tokenizer's vocabulary, so every word is one token a 1-layer model reads.
ENTITIES = {"PER": ["old cat", "cat"], "LOC": ["big dog", "dog"], "ORG": ["red bird"]}
FILLER = "the a sees likes follows not does small".split()


def sentence(rng: random.Random, language: str) -> dict[str, list]:
    """Filler words with one or two entities; `xx` writes the filler in upper case."""
    tokens, tags, spans = [], [], []
    for _ in range(rng.choice([1, 2])):
        tokens += rng.sample(FILLER, 3)
        tags += [0] * 3
        kind = rng.choice(sorted(ENTITIES))
        words = rng.choice(ENTITIES[kind]).split()
        tokens += words
        tags += [NER_TAGS.index(f"B-{kind}")] + [NER_TAGS.index(f"I-{kind}")] * (len(words) - 1)
        spans.append(f"{kind}: {' '.join(words)}")
    if language == "xx":
        tokens = [t.upper() if tag == 0 else t for t, tag in zip(tokens, tags, strict=True)]
    return {"tokens": tokens, "ner_tags": tags, "langs": [language] * len(tokens), "spans": spans}


@pytest.fixture(scope="module")
def wikiann(tmp_path_factory):
    sizes = {"train": 480, "validation": 40, "test": 40}
    rows = {
        language: {
            split: [sentence(random.Random(f"{language}/{split}/{i}"), language) for i in range(n)]
            for split, n in sizes.items()
        }
        for language in ("en", "xx")
    }
    repo = tmp_path_factory.mktemp("hub") / "wikiann"
    return write_hub_repo(repo, COLUMNS, rows, "WikiANN", "unimelb-nlp/wikiann")


def ner_task(repo) -> TaskSpec:
    return TaskSpec(
        name="panx",
        dataset=str(repo),
        type="token_classification",
        columns={"text_a": "tokens", "label": "ner_tags"},
        splits={"train": "train", "dev": "validation", "test": "test"},
        languages=("en", "xx"),
        metric="f1",
        config="{lang}",
        labels=NER_TAGS,
    )


def test_wikiann_layout_loads_as_words_and_tag_ids(wikiann):
    task = ner_task(wikiann)
    dataset = load_split(task, "xx", "test")
    assert dataset.features["ner_tags"].feature.names == list(NER_TAGS)
    frame = standardize(task, dataset, "xx", "test")
    assert len(frame) == 40 and frame["text_b"].isna().all()
    first = frame.iloc[0]
    assert len(first["text_a"]) == len(first["label"]) and set(first["label"]) <= set(range(7))


def test_tag_names_must_match_and_tags_must_be_in_the_label_set(wikiann, tmp_path):
    task = ner_task(wikiann)
    dataset = load_split(task, "en", "dev")
    short = dataclasses.replace(task, labels=NER_TAGS[:3])
    with pytest.raises(DatasetError, match="ClassLabel names .* differ from the registry"):
        standardize(short, dataset, "en", "dev")
    # Plain integer tags (no ClassLabel), one of them out of range, or one tag short.
    columns = [("tokens", ["string"]), ("ner_tags", ["int64"])]
    splits = {
        "test": [{"tokens": ["a", "b"], "ner_tags": [0, 1]}, {"tokens": ["c"], "ner_tags": [9]}],
        "validation": [{"tokens": ["a", "b"], "ner_tags": [0]}],  # one tag short
    }
    repo = write_hub_repo(tmp_path / "plain", columns, {"en": splits}, "plain", "none")
    plain = dataclasses.replace(task, dataset=str(repo), languages=("en",))
    with pytest.raises(DatasetError, match=r"row 1: label 9 is outside the label set"):
        standardize(plain, load_split(plain, "en", "test"), "en", "test")
    with pytest.raises(DatasetError, match="row 0: 2 words but 1 tags"):
        standardize(plain, load_split(plain, "en", "dev"), "en", "dev")


def test_tagger_trains_and_scores_entities_zero_shot(wikiann, tiny_model_dir, tmp_path):
    from xltransfer.evaluation.zero_shot import evaluate_shard
    from xltransfer.kinds import get_kind
    from xltransfer.similarity.embeddings import head_input_probe_embedding, text_embedding
    from xltransfer.similarity.task_fisher import fisher_components
    from xltransfer.training.loop import run_finetune

    task = ner_task(wikiann)
    roles = (("en", "train"), ("en", "dev"), ("en", "test"), ("xx", "test"))
    files = standardised_files(task, roles, tmp_path)
    hp = dataclasses.replace(
        HP, epochs=8, learning_rate=3e-3, warmup_ratio=0.0, per_device_batch_size=16
    )
    spec = FinetuneSpec(
        model="tiny",
        init_model=str(tiny_model_dir),
        revision=None,
        init_checkpoint=None,
        task=TaskHead(task="panx", head="token", labels=NER_TAGS, metric="f1"),
        train_file=str(files["en", "train"]),
        dev_file=str(files["en", "dev"]),
        seed=0,
        hyperparameters=hp,
    )
    out = tmp_path / "model"
    state = run_finetune(spec, out)
    assert state.best_score > 0.5  # entity F1 on English dev: the tagger learnt the entities
    scores = evaluate_shard(
        out,
        {"en": files["en", "test"], "xx": files["xx", "test"]},
        context={"model": "tiny", "seed": 0, "source": "none", "target": "panx"},
    ).set_index(["language", "metric"])["value"]
    assert set(scores.index.get_level_values("metric")) == {
        "f1",
        "precision",
        "recall",
        "accuracy",
        "f1_macro",
    }
    assert scores["en", "f1"] > 0.5
    assert 0 <= scores["xx", "f1"] <= 1

    train = standardize(task, load_split(task, "en", "train"), "en", "train")
    assert text_embedding(str(tiny_model_dir), train, n_examples=20).shape == (32,)
    probe = head_input_probe_embedding(
        str(tiny_model_dir), train, kind=get_kind("token"), n_examples=20
    )
    fine_tuned = fisher_components(str(out), train, n_examples=20)
    assert probe.shape == (32,) and np.all(probe >= 0)
    assert set(fine_tuned) == {"layer00.attention", "layer00.output"}
    assert all(np.all(v >= 0) and v.sum() > 0 for v in fine_tuned.values())
