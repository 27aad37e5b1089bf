"""Sentence-pair regression as a cross-encoder (STS-B, stsb_multi_mt): one score per pair, Pearson
and Spearman."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from xltransfer.kinds.base import DatasetError, TaskKind

if TYPE_CHECKING:
    import datasets
    import torch

    from xltransfer.data.tasks import TaskSpec


class Regression(TaskKind):
    name = "regression"
    model_class_name = "AutoModelForSequenceClassification"
    metrics = ("pearson", "spearman")
    problem_type = "regression"
    architecture_suffix = "ForSequenceClassification"
    probe_form = "ridge"

    def standard_labels(self, task: TaskSpec, dataset: datasets.Dataset, where: str):
        labels = np.asarray(dataset[task.columns["label"]], dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(labels))
        if bad.size:
            raise DatasetError(f"{where} row {bad[0]}: regression label is not a finite number")
        return labels

    def same_label_space(self, config, labels) -> bool:
        return config.problem_type == "regression"

    def is_checkpoint_head(self, model) -> bool:
        return super().is_checkpoint_head(model) and predicts_a_number(model.config)

    def score(self, model, eval_set, accelerator) -> dict[str, float]:
        from xltransfer.kinds.metrics import compute_metrics

        predictions, references = self.predict(model, eval_set.loader, accelerator)
        return compute_metrics("regression", predictions, references)

    def sample_fisher_labels(self, out, batch: dict, generator: torch.Generator) -> dict:
        import torch

        prediction = out.logits.detach().squeeze(-1).double().cpu()
        noise = torch.randn(prediction.shape, generator=generator, dtype=torch.float64)
        return {"labels": (prediction + noise).to(batch["labels"].dtype)}

    def fisher_losses(self, out, labels: dict) -> tuple[torch.Tensor, torch.Tensor]:
        logits, target = out.logits, labels["labels"]
        per_example = (logits.squeeze(-1) - target.to(logits.dtype)) ** 2
        return per_example, per_example.mean()


def predicts_a_number(config) -> bool:
    """A sequence head that outputs one score (regression) rather than class logits."""
    return config.problem_type == "regression" or config.num_labels == 1
