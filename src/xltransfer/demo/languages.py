"""Derived languages: English with a planted share of word types kept identical."""

from __future__ import annotations

import random
from dataclasses import dataclass

from xltransfer.demo.lexicon import PUNCTUATION, vocabulary
from xltransfer.demo.rng import stable_rank, stream
from xltransfer.demo.script import SCRIPTS, to_script

ONSETS: tuple[str, ...] = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z")
VOWELS: tuple[str, ...] = ("a", "e", "i", "o", "u")
CODAS: tuple[str, ...] = ("", "", "", "n", "r", "s", "l", "k")


@dataclass(frozen=True)
class Language:
    """A language code with its English-to-surface word mapping."""

    code: str
    overlap: float
    script: str
    mapping: dict[str, str]
    kept: frozenset[str]


def keep_ranking(seed: int) -> list[str]:
    """Rank English word types by a seeded hash; a language keeps a prefix of this list."""
    # One global ranking makes kept sets nested across languages (30% kept is a subset of 60%).
    return sorted(vocabulary(), key=lambda word: stable_rank(seed, word))


def kept_count(overlap: float) -> int:
    """Return how many English word types a language with this overlap keeps."""
    if not 0.0 <= overlap <= 1.0:
        raise ValueError(f"overlap must lie in [0, 1], got {overlap}")
    return round(overlap * len(vocabulary()))


def _pseudo_word(rng: random.Random, english_word: str) -> str:
    """Draw a pronounceable syllable-based word roughly as long as the English one."""
    syllables = max(1, min(3, round(len(english_word) / 3)))
    parts = [rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(syllables)]
    return "".join(parts) + rng.choice(CODAS)


def derive_language(code: str, *, overlap: float, script: str, seed: int) -> Language:
    """Build a language that keeps round(overlap * V) English word types and renames the rest."""
    if script not in SCRIPTS:
        raise ValueError(f"unknown script {script!r} for {code!r}; expected one of {SCRIPTS}")
    english_words = set(vocabulary())
    kept = frozenset(keep_ranking(seed)[: kept_count(overlap)])
    mapping = {word: to_script(word, script) for word in sorted(kept)}
    used = set(mapping.values())
    if len(used) != len(mapping):
        raise ValueError(f"transliteration of kept words collides in {code!r}")
    rng = stream(seed, "lexicon", code)
    for word in sorted(english_words - kept):
        while True:
            candidate = _pseudo_word(rng, word)
            surface = to_script(candidate, script)
            # Renamed words must never look English, or realised overlap would exceed the plan.
            if candidate not in english_words and surface not in used:
                break
        mapping[word] = surface
        used.add(surface)
    return Language(code=code, overlap=overlap, script=script, mapping=mapping, kept=kept)


def english() -> Language:
    """Return English itself as the identity language."""
    words = vocabulary()
    return Language("en", 1.0, "latin", {w: w for w in words}, frozenset(words))


def translate(sentence: str, language: Language) -> str:
    """Map a whitespace-tokenised English sentence word by word; order is unchanged."""
    out = []
    for token in sentence.split():
        if token in PUNCTUATION:
            out.append(token)
        elif token in language.mapping:
            out.append(language.mapping[token])
        else:
            raise KeyError(f"word {token!r} is not in the demo vocabulary")
    return " ".join(out)


def realised_overlap(language: Language) -> float:
    """Share of English word types whose surface form is the English word (before script)."""
    identical = sum(
        1
        for word, surface in language.mapping.items()
        if surface == to_script(word, language.script)
    )
    return identical / len(language.mapping)


def extend_language(language: Language, words: tuple[str, ...], seed: int) -> Language:
    """Add English word types to a language with the same planted overlap, leaving its mapping
    (and so every task built on it) unchanged."""
    new = [word for word in dict.fromkeys(words) if word not in language.mapping]
    # A ranking of its own keeps the added kept sets nested across languages, as keep_ranking does.
    ranking = sorted(new, key=lambda word: stable_rank(seed, f"extra:{word}"))
    kept = set(ranking[: round(language.overlap * len(new))])
    mapping = dict(language.mapping)
    used = set(mapping.values())
    english_words = set(vocabulary()) | set(new)
    rng = stream(seed, "lexicon", language.code, "extra")
    for word in sorted(new):
        if to_script(word, language.script) in used:
            # A renamed base word already sounds like this one (a false friend): rename it too.
            kept.discard(word)
        candidate = word
        while word not in kept and (
            candidate in english_words or to_script(candidate, language.script) in used
        ):
            candidate = _pseudo_word(rng, word)
        surface = to_script(candidate, language.script)
        mapping[word] = surface
        used.add(surface)
    return Language(
        code=language.code,
        overlap=language.overlap,
        script=language.script,
        mapping=mapping,
        kept=language.kept | kept,
    )
