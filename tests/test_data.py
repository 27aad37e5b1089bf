"""Loading registry tasks through `datasets` from Hub-shaped folders, and its failure cases."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from xltransfer.data.load import DatasetError, load_split, standardize
from xltransfer.data.tasks import TaskSpec
from xltransfer.demo import build_benchmark
from xltransfer.jobs import prepare_data

LANGUAGES = {
    "ov60": {"overlap": 0.6, "script": "latin"},
    "cy0": {"overlap": 0.0, "script": "cyrillic"},
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    out = tmp_path_factory.mktemp("hub") / "demo_hub"
    build_benchmark(
        out,
        seed=5,
        languages=LANGUAGES,
        train_size=30,
        dev_size=20,
        test_size=20,
        corpus_sentences_per_language=20,
    )
    return out


def xnli(hub, **changes) -> TaskSpec:
    task = TaskSpec(
        name="xnli",
        dataset=str(hub / "xnli"),
        type="pair_classification",
        columns={"text_a": "premise", "text_b": "hypothesis", "label": "label"},
        splits={"train": "train", "dev": "validation", "test": "test"},
        languages=("en", "ov60", "cy0"),
        metric="accuracy",
        config="{lang}",
        labels=("entailment", "neutral", "contradiction"),
    )
    return dataclasses.replace(task, **changes)


def stsb_multi_mt(hub) -> TaskSpec:
    return TaskSpec(
        name="stsb_multi_mt",
        dataset=str(hub / "stsb_multi_mt"),
        type="pair_regression",
        columns={"text_a": "sentence1", "text_b": "sentence2", "label": "similarity_score"},
        splits={"train": "train", "dev": "dev", "test": "test"},
        languages=("en", "cy0"),
        metric="pearson",
        config="{lang}",
    )


def test_pair_classification_split_is_standardised(hub, tmp_path):
    out = tmp_path / "xnli" / "cy0" / "test.parquet"
    frame = prepare_data(xnli(hub), "cy0", "test", out)
    written = pd.read_parquet(out)
    assert list(written.columns) == ["text_a", "text_b", "label"]
    assert len(written) == 20 and written.equals(frame)
    assert set(written["label"]) <= {0, 1, 2}
    assert not written["text_a"].str.contains("[a-z]").any()  # Cyrillic script


def test_regression_reads_the_dev_split(hub):
    task = stsb_multi_mt(hub)
    frame = standardize(task, load_split(task, "en", "dev"), "en", "dev")
    assert frame["label"].dtype == "float64"
    assert frame["label"].between(0, 5).all()


def test_missing_column_names_dataset_and_column(hub):
    task = xnli(hub, columns={"text_a": "premise", "text_b": "hypothesis", "label": "gold"})
    with pytest.raises(DatasetError, match=r"missing column\(s\) \['gold'\].*tasks.xnli.columns"):
        standardize(task, load_split(task, "en", "dev"), "en", "dev")


def test_label_names_must_match_the_registry(hub):
    task = xnli(hub, labels=("contradiction", "neutral", "entailment"))
    with pytest.raises(DatasetError, match="ClassLabel names"):
        standardize(task, load_split(task, "en", "dev"), "en", "dev")


def test_label_outside_the_label_set_names_the_row(hub):
    task = xnli(hub, dataset=str(hub / "glue"), config="mnli")
    # GLUE's test splits carry label -1, as on the Hub.
    task = dataclasses.replace(task, splits={**task.splits, "test": "test_matched"})
    with pytest.raises(DatasetError, match=r"row 0: label -1 is outside the label set"):
        standardize(task, load_split(task, "en", "test"), "en", "test")


def test_missing_local_folder(tmp_path):
    task = xnli(tmp_path, dataset=str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="local dataset folder .* not found"):
        load_split(task, "en", "test")


def test_unknown_config_names_dataset_config_and_split(hub):
    with pytest.raises(DatasetError, match=r"config 'de' split 'test'"):
        load_split(xnli(hub), "de", "test")
