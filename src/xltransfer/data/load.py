"""Loads a registry task through `datasets` and writes it in one standard shape.

The standard frame has columns text_a, text_b (None for single-sentence tasks) and label
(class id or float), so training and evaluation never see dataset-specific column names. For token
classification text_a is the list of a sentence's words and label the list of their tag ids; for
multiple choice text_a is the context, text_b the question (or None), `choices` the candidate
answers and label the gold one's index.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from xltransfer.data.dataset_files import CARD, read_split
from xltransfer.data.tasks import TaskSpec
from xltransfer.io import read_parquet_checked, unreadable_parquets

if TYPE_CHECKING:  # imported where used: a training job reads only standardised splits
    import datasets

STANDARD_COLUMNS = ["text_a", "text_b", "label"]
# Extractive QA adds the character offset of each gold answer (label holds their texts).
ANSWER_START = "answer_start"
# Multiple choice adds the list of candidate answers (label is the gold one's index).
CHOICES = "choices"


class DatasetError(ValueError):
    """A dataset that does not match its registry entry; the message names dataset, split, row."""


def load_split(
    task: TaskSpec, language: str, role: str, folder: Path | None = None
) -> datasets.Dataset:
    """Load one split of a task from a local Hub-shaped folder: the task's own, or for a Hub id
    the `folder` staging wrote (jobs run offline, so a Hub id is never downloaded here)."""
    if folder is None:
        if not task.is_local:
            raise DatasetError(
                f"task {task.name!r}: dataset {task.dataset!r} is a Hub id, and jobs read only "
                "staged files; stage it first (rule stage_dataset, `make stage`)"
            )
        folder = Path(task.dataset)
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise DatasetError(f"task {task.name!r}: local dataset folder {str(folder)!r} not found")
    config_name = task.config_name(language)
    split = task.split_name(role)
    try:
        dataset = _read(folder, config_name, split, task.dataset)
    except (ValueError, OSError, KeyError) as error:
        # pyarrow does not say which file it could not read. A dataset folder is the user's or
        # the staging cache's, so a damaged file is named here, never moved.
        damaged = unreadable_parquets(sorted(folder.rglob("*.parquet")))
        named = "".join(f"; unreadable file {path} ({why})" for path, why in damaged)
        raise DatasetError(
            f"task {task.name!r}: cannot load dataset {task.dataset!r} config {config_name!r} "
            f"split {split!r} ({role}, language {language!r}): {error}{named}"
        ) from error
    if task.language_rows is None:
        return dataset
    return _language_subset(task, dataset, language, f"config {config_name!r} split {split!r}")


def _read(folder: Path, config_name: str | None, split: str, repo: str) -> datasets.Dataset:
    """Parquet files named by the dataset card, read in memory; a local folder without a card
    (CSV, JSON) goes through `datasets` as before."""
    if (folder / CARD).exists() or any(folder.glob("*/*/*.parquet")):
        return read_split(folder, config_name, split, repo)
    import datasets

    return datasets.load_dataset(str(folder), name=config_name, split=split)


def _language_subset(
    task: TaskSpec, dataset: datasets.Dataset, language: str, where: str
) -> datasets.Dataset:
    """The rows of one language in a config that holds several (see `LanguageRows`)."""
    rows = task.language_rows
    if rows.column not in dataset.column_names:
        raise DatasetError(
            f"dataset {task.dataset!r} ({task.name}) {where}: no column {rows.column!r} to select "
            f"language rows by; it has {dataset.column_names}. Fix tasks.{task.name}.language_rows"
        )
    keep = [rows.keeps(cell, language) for cell in dataset[rows.column]]
    if not any(keep):
        raise DatasetError(
            f"dataset {task.dataset!r} ({task.name}) {where}: no row of language {language!r} "
            f"({rows.describe(language)})"
        )
    return dataset.select([i for i, kept in enumerate(keep) if kept])


def _label_names(dataset: datasets.Dataset, column: str) -> list[str] | None:
    import datasets

    feature = dataset.features[column]
    # A token task's tags are a list feature of ClassLabel (Sequence or List in datasets 4+).
    feature = getattr(feature, "feature", feature)
    return list(feature.names) if isinstance(feature, datasets.ClassLabel) else None


def _checked_label_names(task: TaskSpec, dataset: datasets.Dataset, where: str) -> None:
    names = _label_names(dataset, task.columns["label"])
    if names is not None and names != list(task.labels):
        raise DatasetError(
            f"{where}: ClassLabel names {names} differ from the registry's {list(task.labels)}"
        )


def _class_id(task: TaskSpec, lookup: dict[str, int], value, where: str) -> int:
    """One label as an id in the registry's order, whether stored as an id or a name."""
    label = lookup.get(value) if isinstance(value, str) else value
    if label is None or not 0 <= int(label) < len(task.labels):
        raise DatasetError(f"{where}: label {value!r} is outside the label set {list(task.labels)}")
    return int(label)


def _class_ids(task: TaskSpec, dataset: datasets.Dataset, where: str) -> np.ndarray:
    """Map labels to the registry's label order, whether the dataset stores ids or strings."""
    _checked_label_names(task, dataset, where)
    lookup = {name: i for i, name in enumerate(task.labels)}
    values = dataset[task.columns["label"]]
    return np.array(
        [_class_id(task, lookup, value, f"{where} row {row}") for row, value in enumerate(values)],
        dtype=np.int64,
    )


def _tag_ids(task: TaskSpec, dataset: datasets.Dataset, where: str) -> list[list[int]]:
    """Per sentence, one tag id per word; a sentence without words or with a tag per word
    missing is refused, naming the row."""
    _checked_label_names(task, dataset, where)
    lookup = {name: i for i, name in enumerate(task.labels)}
    words, tags = dataset[task.columns["text_a"]], dataset[task.columns["label"]]
    out = []
    for row, (sentence, sentence_tags) in enumerate(zip(words, tags, strict=True)):
        if not sentence:
            raise DatasetError(f"{where} row {row}: a sentence without words")
        if len(sentence) != len(sentence_tags):
            raise DatasetError(
                f"{where} row {row}: {len(sentence)} words but {len(sentence_tags)} tags"
            )
        out.append([_class_id(task, lookup, tag, f"{where} row {row}") for tag in sentence_tags])
    return out


def _qa_frame(task: TaskSpec, dataset: datasets.Dataset, where: str) -> pd.DataFrame:
    """Question, context, answer texts and starts; an answer not found at its start in the
    context is refused, naming the row (an empty answer list is SQuAD v2's unanswerable)."""
    questions = dataset[task.columns["text_a"]]
    contexts = dataset[task.columns["text_b"]]
    texts, starts = [], []
    for row, (context, answers) in enumerate(
        zip(contexts, dataset[task.columns["label"]], strict=True)
    ):
        if not isinstance(answers, dict) or not {"text", "answer_start"} <= set(answers):
            raise DatasetError(
                f"{where} row {row}: answers must hold 'text' and 'answer_start' lists, "
                f"got {answers!r}"
            )
        for text, start in zip(answers["text"], answers["answer_start"], strict=True):
            if context[start : start + len(text)] != text:
                raise DatasetError(
                    f"{where} row {row}: answer {text!r} does not occur at character {start} "
                    f"of its context"
                )
        texts.append(list(answers["text"]))
        starts.append([int(start) for start in answers["answer_start"]])
    return pd.DataFrame(
        {"text_a": questions, "text_b": contexts, "label": texts, ANSWER_START: starts}
    )


def _bitext_frame(task: TaskSpec, dataset: datasets.Dataset, where: str) -> pd.DataFrame:
    """Foreign sentence (text_a) and its English translation (text_b), one gold pair per row
    (label 1.0). Line ends are stripped: google/xtreme's Tatoeba keeps each file line's newline."""
    pairs = {}
    for standard in ("text_a", "text_b"):
        texts = [str(text).strip() for text in dataset[task.columns[standard]]]
        empty = [row for row, text in enumerate(texts) if not text]
        if empty:
            raise DatasetError(f"{where} row {empty[0]}: an empty sentence in {standard}")
        pairs[standard] = texts
    return pd.DataFrame({**pairs, "label": np.ones(len(dataset))})


def standardize(
    task: TaskSpec, dataset: datasets.Dataset, language: str, role: str
) -> pd.DataFrame:
    """Rename a loaded split to text_a/text_b/label, checking columns and labels."""
    where = f"dataset {task.dataset!r} ({task.name}, {language}, split {task.split_name(role)!r})"
    missing = [c for c in task.dataset_columns if c not in dataset.column_names]
    if missing:
        raise DatasetError(
            f"{where}: missing column(s) {missing}; it has {dataset.column_names}. "
            f"Fix tasks.{task.name}.columns"
        )
    if len(dataset) == 0:
        raise DatasetError(f"{where}: the split is empty")
    if task.head == "qa":
        return _qa_frame(task, dataset, where)
    if task.head == "multiple_choice":
        from xltransfer.kinds.multiple_choice import choice_frame

        return choice_frame(task, dataset, where)
    if task.head == "retrieval":
        return _bitext_frame(task, dataset, where)
    if task.head == "token":
        labels = _tag_ids(task, dataset, where)
    elif task.head == "classification":
        labels = _class_ids(task, dataset, where)
    else:
        labels = np.asarray(dataset[task.columns["label"]], dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(labels))
        if bad.size:
            raise DatasetError(f"{where} row {bad[0]}: regression label is not a finite number")
    text_b = dataset[task.columns["text_b"]] if task.is_pair else [None] * len(dataset)
    return pd.DataFrame(
        {"text_a": dataset[task.columns["text_a"]], "text_b": text_b, "label": labels}
    )


def read_standard(path: Path) -> pd.DataFrame:
    """Read a standardised split written by prepare_data (an unreadable one is moved aside, so
    the next run prepares it again)."""
    frame = read_parquet_checked(path)
    missing = set(STANDARD_COLUMNS) - set(frame.columns)
    if missing:
        raise DatasetError(f"{path}: not a standardised split (missing {sorted(missing)})")
    return frame
