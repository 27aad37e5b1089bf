"""Sentence and sentence-pair classification (XNLI, PAWS-X, MNLI, SST-2): one label per row,
accuracy and macro-F1."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from xltransfer.kinds.base import TaskKind, check_label_names, class_id
from xltransfer.kinds.regression import predicts_a_number

if TYPE_CHECKING:
    import datasets
    import torch

    from xltransfer.data.tasks import TaskSpec


class Classification(TaskKind):
    name = "classification"
    model_class_name = "AutoModelForSequenceClassification"
    metrics = ("accuracy", "f1_macro")
    labelled = True
    problem_type = "single_label_classification"
    architecture_suffix = "ForSequenceClassification"
    probe_form = "softmax"
    label_dtype = "long"

    def standard_labels(self, task: TaskSpec, dataset: datasets.Dataset, where: str):
        """Labels as ids in the registry's order, whether the dataset stores ids or names."""
        check_label_names(task, dataset, where)
        lookup = {name: i for i, name in enumerate(task.labels)}
        values = dataset[task.columns["label"]]
        return np.array(
            [
                class_id(task, lookup, value, f"{where} row {row}")
                for row, value in enumerate(values)
            ],
            dtype=np.int64,
        )

    def is_checkpoint_head(self, model) -> bool:
        return super().is_checkpoint_head(model) and not predicts_a_number(model.config)

    def predict_rows(self, output: torch.Tensor) -> torch.Tensor:
        return output.argmax(dim=-1)

    def score(self, model, eval_set, accelerator) -> dict[str, float]:
        from xltransfer.kinds.metrics import compute_metrics

        predictions, references = self.predict(model, eval_set.loader, accelerator)
        return compute_metrics("classification", predictions, references)
