"""Bitext retrieval (Tatoeba, BUCC): a foreign sentence (text_a) and its English translation
(text_b) per row, scored from a frozen encoder's sentence embeddings (`xltransfer.evaluation.
retrieval`), never trained: top-1 accuracy (Tatoeba) or the F1 of margin-mined pairs (BUCC),
whose threshold is chosen on the task's dev split."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from xltransfer.kinds.base import DatasetError, Problem, TaskKind

if TYPE_CHECKING:
    import datasets

    from xltransfer.data.tasks import TaskSpec


class Retrieval(TaskKind):
    name = "retrieval"
    model_class_name = "AutoModel"
    metrics = ("accuracy", "f1")
    trainable = False
    has_fisher_head = False

    def mines_pairs(self, task: TaskSpec) -> bool:
        """Scored by mining F1, whose threshold is chosen on the task's dev split."""
        return task.metric == "f1"

    def problems(self, task: TaskSpec) -> list[Problem]:
        """It pairs foreign sentences with English ones and is never trained, so it needs no
        English split; mining needs a dev split of its own to choose its threshold on."""
        found = []
        missing = {"text_a", "text_b"} - set(task.columns)
        if missing:
            found.append(
                Problem(
                    "columns",
                    "a retrieval task needs text_a (the foreign sentence) and text_b (its "
                    f"English translation); {sorted(missing)} missing",
                )
            )
        if self.mines_pairs(task) and task.split_name("dev") == task.split_name("test"):
            found.append(
                Problem(
                    "splits",
                    "mining F1 chooses its threshold on the dev split, which must differ from "
                    f"the test split (both are {task.split_name('test')!r}); use metric accuracy "
                    "or give a separate dev split (BUCC's validation)",
                )
            )
        if task.retrieval.margin_k < 1:
            found.append(Problem("retrieval.margin_k", "must be at least 1"))
        return found

    def standardise(self, task: TaskSpec, dataset: datasets.Dataset, where: str) -> pd.DataFrame:
        """Foreign sentence (text_a) and its English translation (text_b), one gold pair per
        row (label 1.0). Line ends are stripped: google/xtreme's Tatoeba keeps each file line's
        newline."""
        pairs = {}
        for standard in ("text_a", "text_b"):
            texts = [str(text).strip() for text in dataset[task.columns[standard]]]
            empty = [row for row, text in enumerate(texts) if not text]
            if empty:
                raise DatasetError(f"{where} row {empty[0]}: an empty sentence in {standard}")
            pairs[standard] = texts
        return pd.DataFrame({**pairs, "label": np.ones(len(dataset))})

    def similarity_view(
        self, frame: pd.DataFrame, method: str, seed: int = 0
    ) -> tuple[pd.DataFrame, TaskKind]:
        """What the similarity methods read of a retrieval task, with the kind that reads it.

        TextEmb and vocabulary overlap see the English side, as they see the other tasks'
        English data. The TaskEmb probe needs labels: the task is the pairing itself, a pair
        classifier telling each gold pair (1) from the foreign sentence with another row's
        English one (0)."""
        from xltransfer.kinds.classification import Classification
        from xltransfer.kinds.regression import Regression

        english = pd.DataFrame({"text_a": frame["text_b"], "text_b": None, "label": 0.0})
        if method not in ("taskemb", "task2vec"):
            return english, Regression()
        if len(frame) < 2:
            raise ValueError("the retrieval pairing probe needs at least 2 pairs")
        shift = int(np.random.default_rng(seed).integers(1, len(frame)))
        foreign, translation = frame["text_a"].tolist(), frame["text_b"].tolist()
        other = translation[shift:] + translation[:shift]  # a rotation: no row keeps its own
        probe = pd.DataFrame(
            {
                "text_a": foreign + foreign,
                "text_b": translation + other,
                "label": [1] * len(frame) + [0] * len(frame),
            }
        )
        return probe, Classification()
