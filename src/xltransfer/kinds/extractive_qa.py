"""Extractive QA (SQuAD, XQuAD, MLQA, TyDiQA-GoldP): the answer is a span of the context, read
from start and end logits over windows of a long context; SQuAD's F1 and exact match (MLQA's
per-language answer normalisation where the task asks for it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from xltransfer.kinds.base import (
    ANSWER_START,
    DatasetError,
    EvalSet,
    ProbeExample,
    Problem,
    TaskKind,
    draw_classes,
    in_example_order,
)
from xltransfer.kinds.qa_features import best_answers, make_windows
from xltransfer.kinds.qa_metrics import ARTICLES, squad_scores

if TYPE_CHECKING:
    import datasets
    import torch

    from xltransfer.data.tasks import TaskSpec


def answer_windows(frame: pd.DataFrame, tokenizer, max_length: int, doc_stride: int):
    """Training windows of a QA frame: the first gold answer gives the positions (none:
    unanswerable)."""
    starts = [int(s[0]) if len(s) else None for s in frame[ANSWER_START]]
    texts = [str(t[0]) if len(t) else "" for t in frame["label"]]
    questions, contexts = frame["text_a"].tolist(), frame["text_b"].tolist()
    return make_windows(
        tokenizer, questions, contexts, max_length, doc_stride, answers=(starts, texts)
    )


class ExtractiveQA(TaskKind):
    name = "qa"
    model_class_name = "AutoModelForQuestionAnswering"
    metrics = ("f1", "exact_match")
    label_free_head = True  # start/end logits per token mean the same for every span task
    architecture_suffix = "ForQuestionAnswering"
    probe_form = "softmax"
    fisher_label_keys = ("start_positions", "end_positions")
    # Contexts are cut into windows overlapping by `doc_stride` tokens.
    windowed = True

    def answer_problems(self, task: TaskSpec) -> list[Problem]:
        if task.answer_normalization != "mlqa":
            return []
        unknown = sorted(set(task.languages) - set(ARTICLES))
        if not unknown:
            return []
        return [
            Problem(
                "answer_normalization",
                f"mlqa normalises extractive QA answers in {sorted(ARTICLES)}; {task.type!r} "
                f"task languages {unknown} do not fit",
            )
        ]

    def standardise(self, task: TaskSpec, dataset: datasets.Dataset, where: str) -> pd.DataFrame:
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
                        f"{where} row {row}: answer {text!r} does not occur at character "
                        f"{start} of its context"
                    )
            texts.append(list(answers["text"]))
            starts.append([int(start) for start in answers["answer_start"]])
        return pd.DataFrame(
            {"text_a": questions, "text_b": contexts, "label": texts, ANSWER_START: starts}
        )

    def encode(self, frame: pd.DataFrame, tokenizer, max_length: int, doc_stride: int = 16):
        """One training window per slice of a long context, with the answer's positions."""
        windows = answer_windows(frame, tokenizer, max_length, doc_stride)
        return [
            {**windows.features(w), "start_positions": s, "end_positions": e}
            for w, (s, e) in enumerate(
                zip(windows.start_positions, windows.end_positions, strict=True)
            )
        ]

    def eval_set(
        self,
        frame,
        tokenizer,
        accelerator,
        labels,
        max_length,
        batch_size,
        doc_stride=16,
        answer_language=None,
        cache=None,
    ) -> EvalSet:
        """Every window with its offsets, so spans map back onto the context's characters
        (encoded here: the cache holds no offsets, and QA test splits are small)."""
        contexts = frame["text_b"].tolist()
        windows = make_windows(
            tokenizer, frame["text_a"].tolist(), contexts, max_length, doc_stride
        )
        examples = [windows.features(w) for w in range(len(windows.example))]
        loader, order = self.eval_loader(examples, tokenizer, batch_size, accelerator)
        answers = [[str(text) for text in texts] for texts in frame["label"]]
        return EvalSet(loader, self, (), windows, contexts, answers, answer_language, order=order)

    def predict_spans(self, model, loader, accelerator):
        """Start and end logits of every window, in window order, unpadded."""
        import torch

        model.eval()
        starts, ends = [], []
        with torch.inference_mode():
            self._spans(model, loader, accelerator, starts, ends)
        model.train()
        return starts, ends

    @staticmethod
    def _spans(model, loader, accelerator, starts: list, ends: list) -> None:
        for batch in loader:
            out = model(**batch)
            width = batch["attention_mask"].sum(dim=1)
            start = accelerator.pad_across_processes(
                out.start_logits.float(), dim=1, pad_index=-1e4
            )
            end = accelerator.pad_across_processes(out.end_logits.float(), dim=1, pad_index=-1e4)
            start, end, width = accelerator.gather_for_metrics((start, end, width))
            for s, e, w in zip(
                start.cpu().numpy(), end.cpu().numpy(), width.cpu().numpy(), strict=True
            ):
                starts.append(s[:w])
                ends.append(e[:w])

    def score(self, model, eval_set: EvalSet, accelerator) -> dict[str, float]:
        starts, ends = self.predict_spans(model, eval_set.loader, accelerator)
        # Windows were read longest first: back to window order, which maps them to examples.
        starts = in_example_order(starts, eval_set.order)
        ends = in_example_order(ends, eval_set.order)
        predicted = best_answers(eval_set.windows, starts, ends, eval_set.contexts)
        return squad_scores(predicted, eval_set.answers, eval_set.answer_language)

    def sample_fisher_labels(self, out, batch: dict, generator: torch.Generator) -> dict:
        real = batch["attention_mask"].cpu().bool()
        drawn = {}
        for key, logits in (
            ("start_positions", out.start_logits),
            ("end_positions", out.end_logits),
        ):
            drawn[key] = draw_classes(
                logits.detach().cpu().masked_fill(~real, float("-inf")), generator
            )
        return drawn

    def fisher_losses(self, out, labels: dict) -> tuple[torch.Tensor, torch.Tensor]:
        from torch.nn import functional

        start = functional.cross_entropy(
            out.start_logits, labels["start_positions"], reduction="none"
        )
        end = functional.cross_entropy(out.end_logits, labels["end_positions"], reduction="none")
        per_example = (start + end) / 2
        return per_example, per_example.mean()

    def text_states(self, states, sample: pd.DataFrame, *, windows: bool):
        # Every window of a long context, each one example, instead of one pair truncated at
        # max_length: the context is then seen whole.
        return states.windows(sample) if windows else states.sentences(sample)

    def probe_examples(self, frame: pd.DataFrame, tokenizer, max_length: int):
        """Every context token of the windows that hold the answer, as "inside the answer or
        not" (windows overlap by a quarter of `max_length`)."""
        windows = answer_windows(frame, tokenizer, max_length, max(1, max_length // 4))
        examples = []
        for w, start in enumerate(windows.start_positions):
            if start <= 0:  # the null slot: the answer is not (wholly) in this window
                continue
            end = windows.end_positions[w]
            context = [t for t, span in enumerate(windows.offsets[w]) if span is not None]
            inside = [int(start <= t <= end) for t in context]
            examples.append(ProbeExample(windows.features(w), context, inside))
        if not examples:
            raise ValueError("Task2Vec probe: no window holds a gold answer")
        return examples

    def head_input_features(self, states, sample: pd.DataFrame):
        # A span head scores every context token: probe it as "inside the answer or not".
        return states.answer_tokens(sample)
