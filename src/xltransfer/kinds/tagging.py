"""Token classification (PAN-X/WikiANN NER, UD-POS): a sentence's words with one tag each, the
tag predicted on each word's first sub-token; entity F1 (seqeval) for IOB tags, tag accuracy and
macro-F1 for plain tags."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from xltransfer.kinds.base import (
    DatasetError,
    ProbeExample,
    TaskKind,
    check_label_names,
    class_id,
    draw_classes,
    model_inputs,
)
from xltransfer.kinds.token_labels import IGNORED_LABEL, encode_tagged_words

if TYPE_CHECKING:
    import datasets
    import torch

    from xltransfer.data.tasks import TaskSpec

log = logging.getLogger(__name__)


def is_iob(labels: Sequence[str]) -> bool:
    """True for entity tags in the IOB scheme (O, B-X, I-X), false for plain tags such as UPOS."""
    return all(name == "O" or name[:2] in ("B-", "I-") for name in labels)


class Tagging(TaskKind):
    name = "token"
    model_class_name = "AutoModelForTokenClassification"
    metrics = ("f1", "precision", "recall", "accuracy", "f1_macro")
    labelled = True
    architecture_suffix = "ForTokenClassification"
    probe_form = "softmax"

    def standard_labels(self, task: TaskSpec, dataset: datasets.Dataset, where: str):
        """Per sentence, one tag id per word; a sentence without words or with a tag per word
        missing is refused, naming the row."""
        check_label_names(task, dataset, where)
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
            at = f"{where} row {row}"
            out.append([class_id(task, lookup, tag, at) for tag in sentence_tags])
        return out

    def encode(self, frame: pd.DataFrame, tokenizer, max_length: int, doc_stride: int = 16):
        words, tags = frame["text_a"].tolist(), frame["label"].tolist()
        batch = encode_tagged_words(tokenizer, words, tags, max_length)
        if batch.truncated_words:
            log.warning(
                "%d of %d words fall past max_length %d and are not trained on or scored",
                batch.truncated_words,
                sum(len(words) for words in frame["text_a"]),
                max_length,
            )
        return [
            {"input_ids": ids, "attention_mask": mask, "labels": labels}
            for ids, mask, labels in zip(
                batch.input_ids, batch.attention_mask, batch.labels, strict=True
            )
        ]

    def collator(self, tokenizer, pad_to_multiple_of: int | None):
        from transformers import DataCollatorForTokenClassification

        return DataCollatorForTokenClassification(
            tokenizer, pad_to_multiple_of=pad_to_multiple_of, label_pad_token_id=IGNORED_LABEL
        )

    def predict_tags(self, model, loader, accelerator):
        """Per sentence, the predicted and gold tag ids of the scored (first sub-token)
        positions."""
        import torch

        model.eval()
        predicted, gold = [], []
        with torch.inference_mode():
            for batch in loader:
                tags = model(**model_inputs(batch)).logits.argmax(dim=-1)
                labels = batch["labels"]
                # Batches differ in length across processes: pad to one width before gathering.
                tags = accelerator.pad_across_processes(tags, dim=1, pad_index=IGNORED_LABEL)
                labels = accelerator.pad_across_processes(labels, dim=1, pad_index=IGNORED_LABEL)
                tags, labels = accelerator.gather_for_metrics((tags, labels))
                for row_tags, row_labels in zip(
                    tags.cpu().numpy(), labels.cpu().numpy(), strict=True
                ):
                    scored = row_labels != IGNORED_LABEL
                    predicted.append(row_tags[scored].tolist())
                    gold.append(row_labels[scored].tolist())
        model.train()
        return predicted, gold

    def score(self, model, eval_set, accelerator) -> dict[str, float]:
        from xltransfer.kinds.tagging_metrics import entity_scores, tag_scores, word_level

        labels = eval_set.labels
        predicted, gold = self.predict_tags(model, eval_set.loader, accelerator)
        predicted, gold = word_level(predicted, labels), word_level(gold, labels)
        scores = tag_scores(predicted, gold)
        return {**scores, **entity_scores(predicted, gold)} if is_iob(labels) else scores

    def sample_fisher_labels(self, out, batch: dict, generator: torch.Generator) -> dict:
        import torch

        gold = batch["labels"].cpu()
        drawn = draw_classes(out.logits.flatten(0, 1), generator).view_as(gold)
        return {"labels": torch.where(gold == IGNORED_LABEL, gold, drawn)}

    def fisher_losses(self, out, labels: dict) -> tuple[torch.Tensor, torch.Tensor]:
        from torch.nn import functional

        logits, target = out.logits, labels["labels"]
        tokens = functional.cross_entropy(
            logits.transpose(1, 2), target, ignore_index=IGNORED_LABEL, reduction="none"
        )
        scored = (target != IGNORED_LABEL).to(tokens.dtype)
        per_example = tokens.sum(1) / scored.sum(1).clamp(min=1)
        return per_example, tokens.sum() / scored.sum().clamp(min=1)

    def probe_examples(self, frame: pd.DataFrame, tokenizer, max_length: int):
        """Each word's first sub-token, classified by its tag."""
        examples = []
        for encoded in self.encode(frame, tokenizer, max_length):
            labels = list(encoded.pop("labels"))
            positions = [t for t, label in enumerate(labels) if label != IGNORED_LABEL]
            if positions:
                examples.append(ProbeExample(encoded, positions, [labels[t] for t in positions]))
        return examples

    def head_input_features(self, states, sample: pd.DataFrame):
        return states.words(sample)
