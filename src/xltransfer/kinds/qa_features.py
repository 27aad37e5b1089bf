"""Extractive QA: contexts cut into overlapping windows, answers mapped to token positions, and
the best answer span read back from start/end logits.

A context longer than `max_length` becomes several windows that overlap by `doc_stride` tokens
(the tokenizer's overflow), each with the question in front. In training, a window that does not
hold the whole answer points both positions at the first token, as for an unanswerable
question: <s> (XLM-R) or [CLS] (BERT); T5 has no such token, so for mT5 it is the question's
first token, never a context token and so never a span. mT5's span head reads the decoder, whose
first position reads only the decoder start token (and the encoder): a null slot like [CLS].
At evaluation, every window's offset mapping (context tokens only) turns the top-n start and end
logits into character spans; the best valid span over all windows of an example is its answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class QAWindows:
    input_ids: list[list[int]]
    attention_mask: list[list[int]]
    example: list[int]  # the example each window comes from
    offsets: list[list[tuple[int, int] | None]]  # character span per context token, else None
    start_positions: list[int] | None = None  # training only
    end_positions: list[int] | None = None
    token_type_ids: list[list[int]] | None = None  # BERT: question 0, context 1

    def features(self, window: int) -> dict[str, list[int]]:
        """The model inputs of one window (token type ids where the tokenizer makes them)."""
        inputs = {
            "input_ids": self.input_ids[window],
            "attention_mask": self.attention_mask[window],
        }
        if self.token_type_ids is not None:
            inputs["token_type_ids"] = self.token_type_ids[window]
        return inputs


def check_answers(
    contexts: Sequence[str], starts: Sequence[int | None], texts: Sequence[str], where: str
) -> None:
    """Refuse an answer that is not found at its start in the context, naming the row."""
    for row, (context, start, text) in enumerate(zip(contexts, starts, texts, strict=True)):
        if start is None or start < 0:
            continue  # unanswerable (SQuAD v2)
        if context[start : start + len(text)] != text:
            found = context[start : start + len(text)]
            raise ValueError(
                f"{where}, row {row}: answer {text!r} does not occur at character {start} of its "
                f"context (found {found!r})"
            )


def make_windows(
    tokenizer,
    questions: Sequence[str],
    contexts: Sequence[str],
    max_length: int,
    doc_stride: int,
    answers: tuple[Sequence[int | None], Sequence[str]] | None = None,
) -> QAWindows:
    """Question + context windows; with `answers` (starts, texts), their token positions too."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("QA windows need a fast tokenizer (offset mappings)")
    pad_right = tokenizer.padding_side == "right"
    encoded = tokenizer(
        [q.lstrip() for q in questions] if pad_right else list(contexts),
        list(contexts) if pad_right else [q.lstrip() for q in questions],
        truncation="only_second" if pad_right else "only_first",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    context_index = 1 if pad_right else 0
    examples = list(encoded["overflow_to_sample_mapping"])
    offsets = []
    for window, mapping in enumerate(encoded["offset_mapping"]):
        sequence_ids = encoded.sequence_ids(window)
        pairs = zip(mapping, sequence_ids, strict=True)
        offsets.append([tuple(span) if sid == context_index else None for span, sid in pairs])
    starts_out = ends_out = None
    if answers is not None:
        answer_starts, answer_texts = answers
        starts_out, ends_out = [], []
        for window, example in enumerate(examples):
            start_char = answer_starts[example]
            if start_char is None or start_char < 0:
                starts_out.append(0)
                ends_out.append(0)
                continue
            end_char = start_char + len(answer_texts[example])
            tokens = [i for i, span in enumerate(offsets[window]) if span is not None]
            first, last = tokens[0], tokens[-1]
            if offsets[window][first][0] > start_char or offsets[window][last][1] < end_char:
                starts_out.append(0)  # the answer is not wholly inside this window
                ends_out.append(0)
                continue
            start = next(i for i in tokens if offsets[window][i][1] > start_char)
            end = next(i for i in reversed(tokens) if offsets[window][i][0] < end_char)
            starts_out.append(start)
            ends_out.append(end)
    return QAWindows(
        input_ids=encoded["input_ids"],
        attention_mask=encoded["attention_mask"],
        example=examples,
        offsets=offsets,
        start_positions=starts_out,
        end_positions=ends_out,
        token_type_ids=encoded.get("token_type_ids"),
    )


def best_answers(
    windows: QAWindows,
    start_logits: Sequence[np.ndarray],
    end_logits: Sequence[np.ndarray],
    contexts: Sequence[str],
    n_best: int = 20,
    max_answer_tokens: int = 30,
    allow_empty: bool = False,
) -> list[str]:
    """The highest-scoring valid span per example over its windows (start + end logit).

    A span is valid when both ends are context tokens, end ≥ start and it is at most
    `max_answer_tokens` long. With `allow_empty` (SQuAD v2), the empty answer wins when the
    first-token score of any window beats every span.
    """
    best: dict[int, tuple[float, str]] = {}
    null: dict[int, float] = {}
    for window, example in enumerate(windows.example):
        starts, ends = np.asarray(start_logits[window]), np.asarray(end_logits[window])
        spans = windows.offsets[window]
        null_score = float(starts[0] + ends[0])
        null[example] = max(null.get(example, -np.inf), null_score)
        top_starts = np.argsort(starts)[::-1][:n_best]
        top_ends = np.argsort(ends)[::-1][:n_best]
        for s in top_starts:
            for e in top_ends:
                if s >= len(spans) or e >= len(spans) or spans[s] is None or spans[e] is None:
                    continue
                if e < s or e - s + 1 > max_answer_tokens:
                    continue
                score = float(starts[s] + ends[e])
                if score > best.get(example, (-np.inf, ""))[0]:
                    best[example] = (score, contexts[example][spans[s][0] : spans[e][1]])
    answers = []
    for example in range(len(contexts)):
        score, text = best.get(example, (-np.inf, ""))
        if allow_empty and null.get(example, -np.inf) > score:
            text = ""
        answers.append(text)
    return answers
