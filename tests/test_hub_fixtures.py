"""Every registry entry of config/xtreme.yaml loads its Hub-shaped fixture (tests/hub_fixtures.py)
through the production path (`load_split` + `standardize`), with the dataset's quirks."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from conftest import REPO
from hub_fixtures import BUILDERS, UPOS_TAGS, build_all

# The multiple-choice sources' fixtures and loading tests live in test_multiple_choice.py.
from test_multiple_choice import MULTIPLE_CHOICE_SOURCES

from xltransfer.data.load import DatasetError, load_split, standardize
from xltransfer.data.tasks import LanguageRows, TaskSpec, load_registry

XTREME = yaml.safe_load((REPO / "config" / "xtreme.yaml").read_text())
REGISTRY = load_registry(XTREME["tasks"])


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("hub"))


def local(task: TaskSpec, hub) -> TaskSpec:
    """The registry entry, reading the fixture folder in place of its Hub id."""
    return dataclasses.replace(task, dataset=str(hub[task.dataset]))


def load(task: TaskSpec, language: str, role: str):
    return standardize(task, load_split(task, language, role), language, role)


def test_every_xtreme_dataset_has_a_fixture():
    elsewhere = {REGISTRY[name].dataset for name in MULTIPLE_CHOICE_SOURCES}
    missing = {task.dataset for task in REGISTRY.values()} - set(BUILDERS) - elsewhere
    assert not missing


# (task, language, role) -> the first standardised row's text_a and label, and the row count.
KNOWN = [
    ("mnli", "en", "dev", "A man plays a guitar.", 0, 3),
    # ANLI's three rounds are one split each; `+` joins them.
    ("anli", "en", "train", "Paris is the capital of France.", 0, 6),
    ("qqp", "en", "train", "How do I learn Python?", 1, 2),
    ("sst2", "en", "dev", "a gorgeous, witty film", 1, 2),
    ("stsb", "en", "train", "A plane is taking off.", 5.0, 2),
    ("xnli", "sw", "test", "Mtu anapiga gitaa.", 0, 2),
    ("pawsx", "ja", "test", "The cat chased the dog.", 0, 2),
    # stsb_multi_mt's validation split is `dev`.
    ("stsb_multi_mt", "de", "dev", "Ein Flugzeug hebt ab.", 5.0, 2),
    ("stsb_multi_mt_bi", "de", "test", "Ein Flugzeug hebt ab.", 5.0, 2),
    (
        "panx",
        "de",
        "test",
        ["Angela", "Merkel", "besuchte", "die", "UNO", "."],
        [1, 2, 0, 0, 3, 0],
        1,
    ),
    ("udpos", "en", "train", ["The", "dog", "barks", "."], [5, 7, 15, 12], 1),
    # udpos.Thai has a test split only; its configs are named in English.
    ("udpos", "th", "test", ["หมา", "เห่า"], [UPOS_TAGS.index("NOUN"), UPOS_TAGS.index("VERB")], 1),
    ("squad", "en", "train", "In what country is Normandy located?", ["France", "France"], 2),
    ("squad_v2", "en", "dev", "In what country is Normandy located?", ["France"], 2),
    ("xquad", "de", "test", "Wer gab der Normandie ihren Namen?", ["Die Normannen"], 1),
    # MLQA lists answer_start before text: fields are read by name.
    ("mlqa", "de", "test", "Wer gab der Normandie den Namen?", ["Die Normannen"], 1),
    # TyDiQA-GoldP: one config for all languages; the id prefix selects them.
    ("tydiqa", "en", "train", "Who gave Normandy its name?", ["The Normans"], 2),
    ("tydiqa", "sw", "test", "Mji mkuu wa Kenya ni upi?", ["Nairobi"], 1),
    # Retrieval pairs: the foreign sentence and its English side; no label (1.0 as a placeholder).
    ("tatoeba", "de", "test", "Ich habe Hunger.", 1.0, 2),
    ("bucc", "de", "test", "Satz 100 der Nachrichten.", 1.0, 3),
]


@pytest.mark.parametrize(("task", "language", "role", "text_a", "label", "rows"), KNOWN)
def test_registry_entry_loads_its_fixture(hub, task, language, role, text_a, label, rows):
    frame = load(local(REGISTRY[task], hub), language, role)
    assert len(frame) == rows
    assert (
        list(frame.text_a[0]) == list(text_a)
        if isinstance(text_a, list)
        else frame.text_a[0] == text_a
    )
    first = frame.label[0]
    assert (list(first) if isinstance(label, list) else first) == label


def test_every_registry_entry_is_exercised():
    assert {task for task, *_ in KNOWN} | set(MULTIPLE_CHOICE_SOURCES) == set(REGISTRY)


def test_squad_v2_unanswerable_question_has_no_answer(hub):
    frame = load(local(REGISTRY["squad_v2"], hub), "en", "train")
    assert list(frame.label[1]) == [] and list(frame.answer_start[1]) == []


def test_qa_answer_offsets_point_into_the_context(hub):
    for name in ("squad", "xquad", "mlqa", "tydiqa"):
        frame = load(local(REGISTRY[name], hub), "en", "test")
        for context, texts, starts in zip(
            frame.text_b, frame.label, frame.answer_start, strict=True
        ):
            assert [context[s : s + len(t)] for t, s in zip(texts, starts, strict=True)] == list(
                texts
            )


def test_missing_split_names_dataset_and_split(hub):
    with pytest.raises(DatasetError, match=r"udpos.*config 'udpos.Thai'.*split 'train'"):
        load_split(local(REGISTRY["udpos"], hub), "th", "train")


def test_language_without_rows_is_named(hub):
    task = local(REGISTRY["tydiqa"], hub)
    with pytest.raises(
        DatasetError, match=r"no row of language 'fi' \(column 'id' starts with 'finnish-'\)"
    ):
        load_split(task, "fi", "test")


def test_language_rows_column_must_exist(hub):
    task = dataclasses.replace(
        local(REGISTRY["tydiqa"], hub), language_rows=LanguageRows(column="lang")
    )
    with pytest.raises(DatasetError, match=r"no column 'lang'.*tasks.tydiqa.language_rows"):
        load_split(task, "en", "train")


# google/xtreme's own XNLI and PAWS-X copies store labels as strings: they map by name.
XTREME_XNLI = TaskSpec(
    name="xnli_xtreme",
    dataset="google/xtreme",
    type="pair_classification",
    config="XNLI",
    columns={"text_a": "sentence1", "text_b": "sentence2", "label": "gold_label"},
    splits={"train": "validation", "dev": "validation", "test": "test"},
    languages=("en", "de"),
    labels=("entailment", "neutral", "contradiction"),
    metric="accuracy",
    language_rows=LanguageRows(column="language"),
)


def test_string_labels_and_language_column_of_xtreme_xnli(hub):
    task = dataclasses.replace(XTREME_XNLI, dataset=str(hub["google/xtreme"]))
    assert load(task, "en", "test").label.tolist() == [2]
    assert load(task, "de", "test").label.tolist() == [0]


def test_string_labels_of_xtreme_pawsx(hub):
    task = dataclasses.replace(
        REGISTRY["pawsx"], dataset=str(hub["google/xtreme"]), config="PAWS-X.{lang}"
    )
    assert load(task, "de", "test").label.tolist() == [1]


def test_string_label_outside_the_set_names_the_row(hub):
    task = dataclasses.replace(
        XTREME_XNLI, dataset=str(hub["google/xtreme"]), labels=("entailment", "not_entailment")
    )
    with pytest.raises(
        DatasetError, match=r"split 'test'.*row 0: label 'contradiction' is outside"
    ):
        load(task, "en", "test")
