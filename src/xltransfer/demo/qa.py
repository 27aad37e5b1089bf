"""Extractive QA over short entity paragraphs: SQuAD-style rows in every demo language."""

from __future__ import annotations

import random
from dataclasses import dataclass

from xltransfer.demo.entities import Mention, mention, translate_words
from xltransfer.demo.languages import Language
from xltransfer.demo.lexicon import ADJECTIVES, NOUNS, VERBS

BASE_FORM = {third: base for base, third in VERBS}


@dataclass(frozen=True)
class Words:
    """English words with a name flag each (names are copied, other words translated)."""

    words: tuple[str, ...]
    names: tuple[bool, ...]

    @classmethod
    def of(cls, *pieces: str | Mention | tuple[str, ...]) -> Words:
        words: list[str] = []
        names: list[bool] = []
        for piece in pieces:
            if isinstance(piece, Mention):
                words += piece.words
                names += [True] * len(piece.words)
            else:
                parts = (piece,) if isinstance(piece, str) else piece
                words += parts
                names += [False] * len(parts)
        return cls(tuple(words), tuple(names))


@dataclass(frozen=True)
class QAExample:
    """A paragraph of facts, one question about it and the answer's word range in the context."""

    context: Words
    question: Words
    answer: tuple[int, int]


def _distinct(rng: random.Random, draw, taken: set) -> tuple:
    # Two facts never share a name or object, so every question has exactly one answer.
    while True:
        value = draw()
        key = value.words if isinstance(value, Mention) else value
        if key not in taken and not (isinstance(value, Mention) and set(key) & _flat(taken)):
            taken.add(key)
            return value


def _flat(taken: set) -> set[str]:
    return {word for key in taken for word in key}


def _fact(rng: random.Random, taken: set) -> tuple[Words, list[tuple[Words, int, int]]]:
    """One fact sentence and the questions it answers (question, answer start, end words)."""
    person = _distinct(rng, lambda: mention(rng, "PER"), taken)
    n = len(person.words)
    kind = rng.randrange(4)
    if kind == 0:
        org = _distinct(rng, lambda: mention(rng, "ORG"), taken)
        fact = Words.of(person, "works", "for", org)
        return fact, [
            (Words.of("who", "works", "for", org, "?"), 0, n),
            (Words.of("what", "does", person, "work", "for", "?"), n + 2, n + 2 + len(org.words)),
        ]
    if kind in (1, 2):
        loc = _distinct(rng, lambda: mention(rng, "LOC"), taken)
        relation = ("lives", "in") if kind == 1 else ("was", "born", "in")
        fact = Words.of(person, *relation, loc)
        start = n + len(relation)
        where = (
            Words.of("where", "does", person, "live", "?")
            if kind == 1
            else Words.of("where", "was", person, "born", "?")
        )
        return fact, [
            (where, start, start + len(loc.words)),
            (Words.of("who", *relation, loc, "?"), 0, n),
        ]
    obj = _distinct(rng, lambda: (rng.choice(ADJECTIVES), rng.choice(NOUNS)), taken)
    verb3 = rng.choice(VERBS)[1]
    fact = Words.of(person, verb3, "the", obj)
    return fact, [
        (Words.of("who", verb3, "the", obj, "?"), 0, n),
        (Words.of("what", "does", person, BASE_FORM[verb3], "?"), n + 2, n + 4),
    ]


def qa_example(rng: random.Random) -> QAExample:
    """Three or four facts about different people, joined by 'and', and one question about one
    of them."""
    taken: set = set()
    facts = [_fact(rng, taken) for _ in range(rng.choice((3, 4)))]
    asked = rng.randrange(len(facts))
    question, start, end = rng.choice(facts[asked][1])
    # Each earlier fact is followed by 'and'; the demo tokenizer has no '.'.
    offset = sum(len(fact.words) + 1 for fact, _ in facts[:asked])
    parts: list = []
    for i, (fact, _) in enumerate(facts):
        parts += [*(["and"] if i else []), fact]
    context = Words(
        tuple(w for part in parts for w in (part.words if isinstance(part, Words) else (part,))),
        tuple(n for part in parts for n in (part.names if isinstance(part, Words) else (False,))),
    )
    return QAExample(context, question, (offset + start, offset + end))


def generate_qa(rng: random.Random, n: int) -> list[QAExample]:
    """Return n English QA examples."""
    return [qa_example(rng) for _ in range(n)]


def render(example: QAExample, language: Language) -> dict:
    """Context, question and SQuAD answers in a language, the answer start counted after
    translation (words change length, so English offsets would be wrong)."""
    context = translate_words(list(example.context.words), list(example.context.names), language)
    question = translate_words(list(example.question.words), list(example.question.names), language)
    start, end = example.answer
    prefix = " ".join(context[:start])
    answer_start = len(prefix) + (1 if start else 0)
    return {
        "context": " ".join(context),
        "question": " ".join(question),
        "answers": {"text": [" ".join(context[start:end])], "answer_start": [answer_start]},
    }
