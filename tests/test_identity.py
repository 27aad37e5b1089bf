"""What a job carries as its identity: canonical params and a split's own part of a task entry."""

from __future__ import annotations

import pandas as pd
import pytest
from test_data import hub  # noqa: F401 (a fixture)

from xltransfer.data.load import load_split, standardize
from xltransfer.data.tasks import TaskSpec
from xltransfer.identity import canonical, split_entry, taskemb_fisher_options

XNLI = {
    "dataset": "facebook/xnli",
    "config": "{lang}",
    "splits": {"train": "train", "dev": "validation", "test": "test"},
    "columns": {"text_a": "premise", "text_b": "hypothesis", "label": "label"},
    "type": "pair_classification",
    "labels": ["entailment", "neutral", "contradiction"],
    "metric": "accuracy",
    "languages": ["en", "de"],
    "taxonomy": {"family": "inference", "format": "classification"},
}


def test_canonical_sorts_keys_at_every_depth_and_keeps_list_order():
    value = {"b": {"y": 1, "x": [3, {"d": 1, "c": 2}]}, "a": (2, 1)}
    assert repr(canonical(value)) == "{'a': [2, 1], 'b': {'x': [3, {'c': 2, 'd': 1}], 'y': 1}}"
    assert repr(canonical({"x": 1, "y": 2})) == repr(canonical({"y": 2, "x": 1}))


def test_a_split_entry_ignores_what_decides_no_split():
    base = split_entry(XNLI, "de", "test")
    assert base == {
        "columns": {"label": "label", "text_a": "premise", "text_b": "hypothesis"},
        "configs": {"de": "de"},
        "dataset": "facebook/xnli",
        "labels": ["entailment", "neutral", "contradiction"],
        "languages": ["de"],
        "splits": {"test": "test"},
        "type": "pair_classification",
    }
    unrelated = {
        "languages": ["en", "de", "sw"],  # a language added to the task
        "metric": "f1_macro",
        "taxonomy": {"family": "nli"},
        "hyperparameters": {"learning_rate": 1e-5},
        "splits": {**XNLI["splits"], "train": "train_v2"},  # another role's split
    }
    for key, value in unrelated.items():
        assert split_entry({**XNLI, key: value}, "de", "test") == base, key
    reordered = dict(reversed(list(XNLI.items())))
    assert repr(split_entry(reordered, "de", "test")) == repr(base)


@pytest.mark.parametrize(
    "change",
    [
        {"labels": ["entailment", "contradiction", "neutral"]},
        {"columns": {"text_a": "hypothesis", "text_b": "premise", "label": "label"}},
        {"configs": {"de": "de_v2"}},
        {"splits": {**XNLI["splits"], "test": "validation"}},
        {"dataset": "google/xtreme"},
        {"revision": "refs/pr/1"},
    ],
)
def test_a_split_entry_changes_with_what_decides_the_split(change):
    assert split_entry({**XNLI, **change}, "de", "test") != split_entry(XNLI, "de", "test")


def test_language_rows_keep_only_the_split_language():
    entry = {
        **XNLI,
        "language_rows": {"column": "id", "match": "prefix", "values": {"de": "german-"}},
    }
    assert split_entry(entry, "de", "dev")["language_rows"] == {
        "column": "id",
        "match": "prefix",
        "values": {"de": "german-"},
    }
    grown = {
        **entry,
        "language_rows": {**entry["language_rows"], "values": {"de": "german-", "sw": "sw-"}},
    }
    assert split_entry(grown, "de", "dev") == split_entry(entry, "de", "dev")


def test_a_split_entry_prepares_the_same_split_as_the_whole_entry(hub):  # noqa: F811
    entry = {**XNLI, "dataset": str(hub / "xnli"), "languages": ["en", "ov60", "cy0"]}
    whole = TaskSpec.from_config("xnli", entry)
    narrowed = TaskSpec.from_config("xnli", split_entry(entry, "cy0", "test"))
    frames = [
        standardize(task, load_split(task, "cy0", "test"), "cy0", "test")
        for task in (whole, narrowed)
    ]
    pd.testing.assert_frame_equal(*frames)
    assert len(frames[0]) > 0


def test_taskemb_options_enter_the_job_only_where_they_decide_its_vectors():
    gold = {"taskemb_labels": "gold", "taskemb_label_draws": 100, "taskemb_parameters": []}
    assert taskemb_fisher_options(gold) == {}  # a finished gold-label grid keeps its vectors
    sampled = gold | {"taskemb_labels": "sampled", "taskemb_parameters": ["classifier.*"]}
    assert taskemb_fisher_options(sampled) == {
        "taskemb_label_draws": 100,
        "taskemb_parameters": ["classifier.*"],
    }
