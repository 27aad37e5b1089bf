"""Text-to-text fine-tuning of an encoder-decoder (mT5 as Xue et al. 2021 fine-tune it for their
XTREME zero-shot results): the input is written out by a template, the label is a word (a class
name), a number written as text (a regression score rounded to 0.2, as T5's STS-B) or the answer
itself (extractive QA), and the model is trained with teacher forcing on its own LM loss.

At evaluation the model generates greedily; the text is read back into the base kind's
prediction (a class id, with an unknown word as -1 and so always wrong, as T5's
`f1_score_with_invalid`; a float, with unreadable text as T5's default -1.0; an answer string)
and scored by the base kind's metrics, so text-to-text mT5 lands in the same columns as the
encoder heads, plus `invalid_rate`, the share of generations that name no label or number (QA:
empty answers). The label words are the registry's (English) for every test language, as in the
zero-shot setting no target-language words exist.

What the similarity methods read is the base kind's: the task's data does not change with the
model's output format. A text-to-text checkpoint has no task head for the fine-tuned TaskEmb.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from xltransfer.kinds.base import CHOICES, EvalSet, Problem, TaskKind, in_example_order

if TYPE_CHECKING:
    import datasets
    import torch

    from xltransfer.data.tasks import TaskSpec

# Fields a template may name: the standard frame's two texts, and a multiple-choice task's
# choices written out as `(<label word>) <choice>`.
TEMPLATE_FIELDS = ("text_a", "text_b", "choices")
# T5's postprocessors read unreadable text as this value (`string_to_float`) or id
# (`string_label_to_class_id`).
INVALID_NUMBER = -1.0
INVALID_CLASS = -1


@dataclass(frozen=True)
class Verbaliser:
    """How a task is written as text: the input template, one word per label (classification)
    and the longest target the model may generate."""

    template: str
    label_words: tuple[str, ...] = ()
    max_target_tokens: int = 8

    def as_dict(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "label_words": list(self.label_words),
            "max_target_tokens": self.max_target_tokens,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Verbaliser:
        return cls(
            template=values["template"],
            label_words=tuple(values.get("label_words") or ()),
            max_target_tokens=int(values["max_target_tokens"]),
        )

    def inputs(self, frame: pd.DataFrame) -> list[str]:
        """Each row written out by the template (a token task's words joined by spaces)."""
        missing = [None] * len(frame)
        texts_b = frame["text_b"] if "text_b" in frame else missing
        choices = frame[CHOICES] if CHOICES in frame else missing
        return [
            self.template.format(
                text_a=text_a if isinstance(text_a, str) else " ".join(text_a),
                text_b=text_b or "",
                choices=self._written_choices(options),
            )
            for text_a, text_b, options in zip(frame["text_a"], texts_b, choices, strict=True)
        ]

    def _written_choices(self, options) -> str:
        """A multiple-choice example's options as `(<label word>) <choice> ...`."""
        if options is None:
            return ""
        pairs = zip(self.label_words, options, strict=True)
        return " ".join(f"({word}) {option}" for word, option in pairs)


def template_fields(template: str) -> set[str]:
    """The fields a format string names ({text_a}, {text_b})."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def number_text(value: float) -> str:
    """A regression target as T5 writes STS-B's: rounded to the nearest 0.2, one decimal."""
    return f"{round(float(value) * 5) / 5:.1f}"


def read_number(text: str) -> tuple[float, bool]:
    """A generated number and whether it was one (T5's -1.0 stands in for text that is not)."""
    try:
        value = float(text.strip())
    except ValueError:
        return INVALID_NUMBER, False
    return (value, True) if math.isfinite(value) else (INVALID_NUMBER, False)


class TextToText(TaskKind):
    """A base kind written as text for an encoder-decoder; `bound(verbaliser)` gives the
    instance a run uses."""

    model_class_name = "AutoModelForSeq2SeqLM"
    architecture_suffix = "ForConditionalGeneration"
    label_free_head = True  # the LM head writes words for every task
    has_fisher_head = False
    label_dtype = "long"

    # What the model writes: a label's word, a number, the answer span's text, the gold
    # choice's word, or one tag word per input word.
    TARGETS = ("label", "number", "answer", "choice", "tags")
    # Per target: the default template (pair or single input) and longest target in tokens.
    DEFAULTS = {
        "label": (("sentence1: {text_a} sentence2: {text_b}", "sentence: {text_a}"), 8),
        "number": (("sentence1: {text_a} sentence2: {text_b}", "sentence: {text_a}"), 8),
        "answer": (("question: {text_a} context: {text_b}",) * 2, 32),
        "choice": (("context: {text_a} question: {text_b} options: {choices}",) * 2, 4),
        "tags": (("sentence: {text_a}",) * 2, 256),
    }

    def __init__(self, base: TaskKind, target: str, verbaliser: Verbaliser | None = None):
        if target not in self.TARGETS:
            raise ValueError(f"target {target!r} is not one of {self.TARGETS}")
        self.base, self.target, self.verbaliser = base, target, verbaliser
        self.name = f"text_to_text_{base.name}"
        self.metrics = base.metrics
        self.labelled = base.labelled
        self.extra_columns = base.extra_columns
        self.probe_form = base.probe_form

    def encoding_settings(self) -> dict[str, Any]:
        return {"name": self.name, "verbaliser": self._verbaliser().as_dict()}

    def bound(self, verbaliser: Verbaliser) -> TextToText:
        """This kind with a task's verbaliser (what training and evaluation use)."""
        return TextToText(self.base, self.target, verbaliser)

    def for_task(self, head) -> TaskKind:
        return self.bound(Verbaliser.from_dict(head.text_to_text))

    # -- configuration --------------------------------------------------------------------
    def default_verbaliser(self, task: TaskSpec) -> Verbaliser:
        """T5's glue()-style input without a task prefix (a source and a target of one type
        read alike), the label names as words, and room for the longest target."""
        settings = dict(task.text_to_text or {})
        (pair, single), longest = self.DEFAULTS[self.target]
        words = settings.get("label_words") or {}
        label_words = tuple(words.get(label, label) for label in task.labels)
        return Verbaliser(
            template=settings.get("template", pair if task.is_pair else single),
            label_words=label_words if self.labelled else (),
            max_target_tokens=int(settings.get("max_target_tokens", longest)),
        )

    def problems(self, task: TaskSpec) -> list[Problem]:
        found = self.base.problems(task)
        verbaliser = self.default_verbaliser(task)
        unknown = template_fields(verbaliser.template) - set(TEMPLATE_FIELDS)
        if unknown:
            found.append(
                Problem(
                    "text_to_text.template",
                    f"names {sorted(unknown)}; a template may name only {list(TEMPLATE_FIELDS)}",
                )
            )
        words = (task.text_to_text or {}).get("label_words") or {}
        stray = sorted(set(words) - set(task.labels))
        if stray:
            found.append(Problem("text_to_text.label_words", f"{stray} are not among the labels"))
        spoken = [word.strip() for word in verbaliser.label_words]
        if len(set(spoken)) != len(spoken) or not all(spoken):
            found.append(
                Problem(
                    "text_to_text.label_words",
                    f"the labels' words {spoken} must be distinct and non-empty, or a "
                    "generated word could not name one label",
                )
            )
        elif self.target == "tags" and any(len(word.split()) != 1 for word in spoken):
            found.append(
                Problem(
                    "text_to_text.label_words",
                    f"tags are written one word per input word; {spoken} must hold no spaces",
                )
            )
        return found

    # -- data: the base kind's ----------------------------------------------------------------
    def standardise(self, task, dataset: datasets.Dataset, where: str) -> pd.DataFrame:
        return self.base.standardise(task, dataset, where)

    def similarity_view(self, frame, method, seed=0):
        return self.base.similarity_view(frame, method, seed)

    def text_view(self, frame):
        return self.base.text_view(frame)

    def vocabulary_texts(self, frame):
        return self.base.vocabulary_texts(frame)

    def text_states(self, states, sample, *, windows):
        return self.base.text_states(states, sample, windows=windows)

    def probe_examples(self, frame, tokenizer, max_length):
        return self.base.probe_examples(frame, tokenizer, max_length)

    def head_input_features(self, states, sample):
        return self.base.head_input_features(states, sample)

    # -- text ---------------------------------------------------------------------------------
    def _verbaliser(self) -> Verbaliser:
        if self.verbaliser is None:
            raise ValueError(f"{self.name}: no verbaliser bound (use TaskHead.kind)")
        return self.verbaliser

    def targets(self, frame: pd.DataFrame) -> list[str]:
        """Each row's label written as the text the model learns to generate."""
        verbaliser = self._verbaliser()
        if self.target in ("label", "choice"):
            return [verbaliser.label_words[int(label)] for label in frame["label"]]
        if self.target == "tags":
            words = verbaliser.label_words
            return [" ".join(words[int(tag)] for tag in tags) for tags in frame["label"]]
        if self.target == "answer":  # the first gold answer (none: SQuAD v2's unanswerable)
            return [str(texts[0]) if len(texts) else "" for texts in frame["label"]]
        return [number_text(value) for value in frame["label"]]

    def read(self, texts: list[str], gold=None) -> tuple[np.ndarray | list, float]:
        """Generated texts as the base kind's predictions, and the share that name nothing
        (tags: sentences with a word left untagged or an unknown tag; `gold` gives the word
        counts, and an untagged word is read as the first label, O in IOB)."""
        cleaned = [text.strip() for text in texts]
        if self.target == "tags":
            return self._read_tags(cleaned, gold)
        if self.target in ("label", "choice"):
            lookup = {word.strip(): i for i, word in enumerate(self._verbaliser().label_words)}
            ids = np.array([lookup.get(text, INVALID_CLASS) for text in cleaned])
            return ids, float(np.mean(ids == INVALID_CLASS))
        if self.target == "answer":
            return cleaned, float(np.mean([not text for text in cleaned]))
        numbers = [read_number(text) for text in cleaned]
        return np.array([value for value, _ in numbers]), float(
            np.mean([not valid for _, valid in numbers])
        )

    def _read_tags(self, texts: list[str], gold) -> tuple[list[list[int]], float]:
        lookup = {word.strip(): i for i, word in enumerate(self._verbaliser().label_words)}
        tags, invalid = [], 0
        for text, sentence in zip(texts, gold, strict=True):
            written = [lookup.get(word, INVALID_CLASS) for word in text.split()]
            read = [max(tag, 0) for tag in written[: len(sentence)]]
            read += [0] * (len(sentence) - len(read))
            invalid += len(written) != len(sentence) or INVALID_CLASS in written
            tags.append(read)
        return tags, invalid / max(len(texts), 1)

    def encode(self, frame: pd.DataFrame, tokenizer, max_length: int, doc_stride: int = 16):
        """The written-out input (truncated at max_length) and the target's token ids."""
        verbaliser = self._verbaliser()
        _check_words_are_known(tokenizer, verbaliser.label_words)
        encoded = tokenizer(verbaliser.inputs(frame), truncation=True, max_length=max_length)
        targets = tokenizer(
            text_target=self.targets(frame),
            truncation=True,
            max_length=verbaliser.max_target_tokens,
        )["input_ids"]
        return [
            {**{key: values[i] for key, values in encoded.items()}, "labels": targets[i]}
            for i in range(len(frame))
        ]

    def collator(self, tokenizer, pad_to_multiple_of: int | None):
        from transformers import DataCollatorForSeq2Seq

        return DataCollatorForSeq2Seq(
            tokenizer, pad_to_multiple_of=pad_to_multiple_of, label_pad_token_id=-100
        )

    # -- evaluation -----------------------------------------------------------------------------
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
        """The inputs to generate from, and each row's gold label (QA: its answers); inputs
        alone are quick to tokenise and are not cached."""
        inputs = tokenizer(self._verbaliser().inputs(frame), truncation=True, max_length=max_length)
        examples = [{key: values[i] for key, values in inputs.items()} for i in range(len(frame))]
        loader, order = self.eval_loader(examples, tokenizer, batch_size, accelerator)
        if self.target == "answer":
            gold = [[str(text) for text in texts] for texts in frame["label"]]
        elif self.target == "tags":
            gold = [[int(tag) for tag in tags] for tags in frame["label"]]
        else:
            gold = frame["label"].tolist()
        return EvalSet(
            loader,
            self,
            tuple(labels),
            answers=gold,
            answer_language=answer_language,
            tokenizer=tokenizer,
            order=order,
        )

    def generate(self, model, eval_set: EvalSet, accelerator) -> list[str]:
        """Greedy generations of every row, gathered across processes, in row order."""
        import torch

        tokenizer = eval_set.tokenizer
        generator = accelerator.unwrap_model(model)
        generator.eval()
        texts = []
        with torch.inference_mode(), accelerator.autocast():
            for batch in eval_set.loader:
                ids = generator.generate(
                    input_ids=batch["input_ids"],
                    attention_mask=batch["attention_mask"],
                    max_new_tokens=self._verbaliser().max_target_tokens,
                    do_sample=False,
                    num_beams=1,
                )
                ids = accelerator.pad_across_processes(ids, dim=1, pad_index=tokenizer.pad_token_id)
                ids = accelerator.gather_for_metrics(ids)
                texts += tokenizer.batch_decode(ids, skip_special_tokens=True)
        generator.train()
        return in_example_order(texts, eval_set.order)

    def score(self, model, eval_set: EvalSet, accelerator) -> dict[str, float]:
        from xltransfer.kinds.metrics import compute_metrics
        from xltransfer.kinds.qa_metrics import squad_scores

        gold = eval_set.answers
        predictions, invalid = self.read(self.generate(model, eval_set, accelerator), gold)
        if self.target == "label":
            scores = compute_metrics("classification", predictions, np.asarray(gold))
        elif self.target == "choice":
            scores = {"accuracy": float(np.mean(predictions == np.asarray(gold)))}
        elif self.target == "tags":
            from xltransfer.kinds.tagging import is_iob
            from xltransfer.kinds.tagging_metrics import entity_scores, tag_scores, word_level

            names = eval_set.labels
            predicted, golden = word_level(predictions, names), word_level(gold, names)
            scores = tag_scores(predicted, golden)
            if is_iob(names):
                scores |= entity_scores(predicted, golden)
        elif self.target == "answer":
            scores = squad_scores(predictions, gold, eval_set.answer_language)
        else:
            scores = compute_metrics("regression", predictions, np.asarray(gold, dtype=float))
        return {**scores, "invalid_rate": invalid}

    # -- what a text-to-text checkpoint does not have -------------------------------------------
    def sample_fisher_labels(self, out, batch: dict, generator: torch.Generator) -> dict:
        raise ValueError(f"{self.name}: a text-to-text checkpoint has no task head for TaskEmb")

    def fisher_losses(self, out, labels):
        raise ValueError(f"{self.name}: a text-to-text checkpoint has no task head for TaskEmb")

    def is_checkpoint_head(self, model) -> bool:
        return False  # TaskEmb's Fisher is never taken on one (config refuses it)


def _check_words_are_known(tokenizer, words) -> None:
    """A label word the tokenizer cannot write (it encodes as <unk>) could never be generated
    back: refuse it, naming the word."""
    unknown = tokenizer.unk_token_id
    if unknown is None:
        return
    for word in words:
        if unknown in tokenizer(text_target=word)["input_ids"]:
            raise ValueError(
                f"label word {word!r} is not in the tokenizer's vocabulary (it encodes as "
                f"{tokenizer.unk_token}); choose another in tasks.<name>.text_to_text.label_words"
            )
