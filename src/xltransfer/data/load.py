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

import pandas as pd

from xltransfer.data.dataset_files import CARD, read_split
from xltransfer.data.tasks import TaskSpec
from xltransfer.io import read_parquet_checked, unreadable_parquets
from xltransfer.kinds.base import ANSWER_START, CHOICES, STANDARD_COLUMNS, DatasetError

if TYPE_CHECKING:  # imported where used: a training job reads only standardised splits
    import datasets

# The standard frame is the kinds' (re-exported for readers of prepared splits).
__all__ = [
    "ANSWER_START",
    "CHOICES",
    "STANDARD_COLUMNS",
    "DatasetError",
    "load_split",
    "read_standard",
    "standardize",
]


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
    return task.kind.standardise(task, dataset, where)


def read_standard(path: Path) -> pd.DataFrame:
    """Read a standardised split written by prepare_data (an unreadable one is moved aside, so
    the next run prepares it again)."""
    frame = read_parquet_checked(path)
    missing = set(STANDARD_COLUMNS) - set(frame.columns)
    if missing:
        raise DatasetError(f"{path}: not a standardised split (missing {sorted(missing)})")
    return frame
