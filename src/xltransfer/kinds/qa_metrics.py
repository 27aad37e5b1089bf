"""Extractive-QA scores on the SQuAD definition: exact match and token F1 against the best of
the gold answers, after answer normalisation.

* SQuAD (and XQuAD, TyDiQA-GoldP): lower-case, drop ASCII punctuation, drop the English articles
  a/an/the, collapse white space.
* MLQA normalises per language: every Unicode punctuation character is dropped, the articles of the
  context language are dropped, and Chinese is split into single characters (with runs of other
  script kept as words) before tokens are compared.

Scores are fractions in [0, 1] like every other metric here (papers print them ×100).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence

# Articles MLQA removes per context language; SQuAD's English set is the "en" entry.
ARTICLES = {
    "en": ("a", "an", "the"),
    "es": ("un", "una", "unos", "unas", "el", "la", "los", "las"),
    "de": ("ein", "eine", "einen", "einem", "eines", "einer")
    + ("der", "die", "das", "den", "dem", "des"),
    "vi": ("của", "là", "cái", "chiếc", "những"),
    "ar": ("ال",),  # a prefix in Arabic, not a word: stripped from word starts
    "hi": (),
    "zh": (),
}
_CJK = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")


def _is_punctuation(ch: str) -> bool:
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


def normalize_answer(text: str, language: str | None = None) -> str:
    """SQuAD's normalisation, or MLQA's for `language` when one is given."""
    text = text.lower()
    if language is None:
        text = "".join(ch for ch in text if ch not in string.punctuation)
        text = re.sub(r"\b(a|an|the)\b", " ", text)
        return " ".join(text.split())
    if language not in ARTICLES:
        known = sorted(ARTICLES)
        raise ValueError(f"no MLQA normalisation for language {language!r}; known: {known}")
    text = "".join(" " if _is_punctuation(ch) else ch for ch in text)
    if language == "ar":
        words = [
            word[2:] if word.startswith("ال") and len(word) > 2 else word for word in text.split()
        ]
    else:
        articles = set(ARTICLES[language])
        words = [word for word in text.split() if word not in articles]
    return " ".join(words)


def _tokens(normalized: str, language: str | None) -> list[str]:
    if language != "zh":
        return normalized.split()
    # Mixed segmentation: every CJK character alone, other runs as whitespace-separated words.
    tokens = []
    for word in normalized.split():
        pieces = _CJK.split(word)
        characters = _CJK.findall(word)
        for i, piece in enumerate(pieces):
            if piece:
                tokens.append(piece)
            if i < len(characters):
                tokens.append(characters[i])
    return tokens


def exact_match(prediction: str, gold: str, language: str | None = None) -> float:
    return float(normalize_answer(prediction, language) == normalize_answer(gold, language))


def token_f1(prediction: str, gold: str, language: str | None = None) -> float:
    """Harmonic mean of token precision and recall over the normalised answers."""
    predicted = _tokens(normalize_answer(prediction, language), language)
    expected = _tokens(normalize_answer(gold, language), language)
    if not predicted or not expected:
        return float(predicted == expected)  # both empty (unanswerable and no answer): 1
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def squad_scores(
    predictions: Sequence[str], golds: Sequence[Sequence[str]], language: str | None = None
) -> dict[str, float]:
    """Mean exact match and F1, each the maximum over an example's gold answers.

    An example without gold answers (SQuAD v2 unanswerable) counts the empty string as its gold,
    so only an empty prediction scores.
    """
    if len(predictions) != len(golds):
        raise ValueError(f"length mismatch: {len(predictions)} predictions vs {len(golds)} answers")
    if not predictions:
        raise ValueError("empty input: no predictions and answers to score")
    em = f1 = 0.0
    for prediction, answers in zip(predictions, golds, strict=True):
        answers = list(answers) or [""]
        em += max(exact_match(prediction, gold, language) for gold in answers)
        f1 += max(token_f1(prediction, gold, language) for gold in answers)
    return {"exact_match": em / len(predictions), "f1": f1 / len(predictions)}
