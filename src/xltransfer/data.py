"""Loads a registry task through `datasets` and writes it in one standard shape.

The standard frame has columns text_a, text_b (None for single-sentence tasks) and label
(class id or float), so training and evaluation never see dataset-specific column names.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pandas as pd

from xltransfer.tasks import TaskSpec

STANDARD_COLUMNS = ["text_a", "text_b", "label"]


class DatasetError(ValueError):
    """A dataset that does not match its registry entry; the message names dataset, split, row."""


def load_split(task: TaskSpec, language: str, role: str) -> datasets.Dataset:
    """Load one split of a task from a Hub id or a local Hub-shaped folder."""
    reference = str(Path(task.dataset).resolve()) if task.is_local else task.dataset
    if task.is_local and not Path(reference).is_dir():
        raise DatasetError(f"task {task.name!r}: local dataset folder {task.dataset!r} not found")
    config_name = task.config_name(language)
    split = task.split_name(role)
    try:
        return datasets.load_dataset(
            reference, name=config_name, split=split, revision=task.revision
        )
    except (ValueError, FileNotFoundError, KeyError) as error:
        raise DatasetError(
            f"task {task.name!r}: cannot load dataset {task.dataset!r} config {config_name!r} "
            f"split {split!r} ({role}, language {language!r}): {error}"
        ) from error


def _label_names(dataset: datasets.Dataset, column: str) -> list[str] | None:
    feature = dataset.features[column]
    return list(feature.names) if isinstance(feature, datasets.ClassLabel) else None


def _class_ids(task: TaskSpec, dataset: datasets.Dataset, where: str) -> np.ndarray:
    """Map labels to the registry's label order, whether the dataset stores ids or strings."""
    column = task.columns["label"]
    values = dataset[column]
    names = _label_names(dataset, column)
    if names is not None and names != list(task.labels):
        raise DatasetError(
            f"{where}: ClassLabel names {names} differ from the registry's {list(task.labels)}"
        )
    lookup = {name: i for i, name in enumerate(task.labels)}
    ids = np.empty(len(values), dtype=np.int64)
    for row, value in enumerate(values):
        label = lookup.get(value) if isinstance(value, str) else value
        if label is None or not 0 <= int(label) < len(task.labels):
            raise DatasetError(
                f"{where} row {row}: label {value!r} is outside the label set {list(task.labels)}"
            )
        ids[row] = int(label)
    return ids


def standardize(
    task: TaskSpec, dataset: datasets.Dataset, language: str, role: str
) -> pd.DataFrame:
    """Rename a loaded split to text_a/text_b/label, checking columns and labels."""
    where = f"dataset {task.dataset!r} ({task.name}, {language}, split {task.split_name(role)!r})"
    missing = [c for c in task.columns.values() if c not in dataset.column_names]
    if missing:
        raise DatasetError(
            f"{where}: missing column(s) {missing}; it has {dataset.column_names}. "
            f"Fix tasks.{task.name}.columns"
        )
    if len(dataset) == 0:
        raise DatasetError(f"{where}: the split is empty")
    if task.head == "classification":
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
    """Read a standardised split written by prepare_data."""
    frame = pd.read_parquet(path)
    missing = set(STANDARD_COLUMNS) - set(frame.columns)
    if missing:
        raise DatasetError(f"{path}: not a standardised split (missing {sorted(missing)})")
    return frame
