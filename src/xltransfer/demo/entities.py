"""Named entities of the demo world: name lists, tagged sentences and their translation.

Names behave as in real text: every language copies them (a Cyrillic-script language
transliterates them), while the context words around them follow the language's planted overlap.
Some names are ambiguous between types, so the context, not the name alone, decides the tag.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import partial

from xltransfer.demo.languages import Language, extend_language
from xltransfer.demo.lexicon import ADJECTIVES, NOUNS, TOPICS, VERBS
from xltransfer.demo.script import to_script

PERSON_FIRST: tuple[str, ...] = (
    "anna", "boris", "carla", "david", "elsa", "felix", "greta", "hugo", "ingrid", "jakob",
    "klara", "lars", "marta", "niels", "olga", "pieter", "rosa", "sven", "tilda", "walter",
)  # fmt: skip
PERSON_LAST: tuple[str, ...] = (
    "adler", "brandt", "costa", "dumont", "evans", "fischer", "garcia", "horvat", "ivanov",
    "jensen", "kowalski", "lindqvist", "moreau", "nowak", "olsen", "petrov", "rossi", "schmidt",
    "tanaka", "weber",
)  # fmt: skip
ORGANISATIONS: tuple[str, ...] = (
    "acme", "globex", "initech", "umbrex", "vortex", "zenith", "nordstar", "telcom", "aurora",
    "stellar", "apex", "orbitel", "cyberdyne", "hooli", "wayne", "stark",
)  # fmt: skip
# Second words of organisation and location names: part of the name, so copied like it.
ORGANISATION_SUFFIXES: tuple[str, ...] = ("motors", "airlines", "group", "holdings")
LOCATIONS: tuple[str, ...] = (
    "berlin", "lisbon", "oslo", "vienna", "cairo", "dublin", "prague", "madrid", "nairobi",
    "quito", "seoul", "tokyo", "warsaw", "zurich", "kenya", "brazil", "norway", "chile",
)  # fmt: skip
LOCATION_PREFIXES: tuple[str, ...] = ("san", "port", "lake")
# Events and titles: CoNLL-2003's MISC type, absent from WikiANN.
MISCELLANEOUS: tuple[str, ...] = (
    "olympic", "nobel", "eurovision", "wimbledon", "pulitzer", "booker",
)  # fmt: skip
# Names that occur as a person, an organisation or a place ("jordan", "lincoln").
AMBIGUOUS: tuple[str, ...] = (
    "jordan", "florence", "lincoln", "austin", "victoria", "chelsea", "sydney", "georgia",
)  # fmt: skip
AMBIGUOUS_RATE = 0.3

# Context words of entity sentences and questions that the base lexicon lacks.
ENTITY_WORDS: tuple[str, ...] = (
    "in", "from", "for", "at", "works", "work", "lives", "live", "was", "born", "who", "where",
    "what", "meets", "wins", "prize", "club", "city",
)  # fmt: skip
ROLES: tuple[str, ...] = (
    "teacher", "doctor", "king", "queen", "soldier", "student", "minister", "president", "coach",
    "player", "scientist", "investor",
)  # fmt: skip
ORGANISATION_HEADS: tuple[str, ...] = ("company", "bank", "team", "club")
LOCATION_HEADS: tuple[str, ...] = ("government", "army", "border", "parliament", "embassy", "city")
# Punctuation closing questions; kept verbatim in every language.
ENTITY_PUNCTUATION: tuple[str, ...] = ("?",)


@dataclass(frozen=True)
class Mention:
    """One entity mention: its type (PER, ORG, LOC, MISC) and its words."""

    kind: str
    words: tuple[str, ...]


def mention(rng: random.Random, kind: str) -> Mention:
    """Draw a name of the given type, sometimes one of the ambiguous names."""
    head = rng.choice(AMBIGUOUS) if rng.random() < AMBIGUOUS_RATE else None
    if kind == "PER":
        first = head or rng.choice(PERSON_FIRST)
        shape = rng.random()
        if shape < 0.5:
            return Mention(kind, (first, rng.choice(PERSON_LAST)))
        return Mention(kind, (first,) if shape < 0.75 or head else (rng.choice(PERSON_LAST),))
    if kind == "ORG":
        name = head or rng.choice(ORGANISATIONS)
        suffix = (rng.choice(ORGANISATION_SUFFIXES),) if rng.random() < 0.3 else ()
        return Mention(kind, (name, *suffix))
    if kind == "LOC":
        name = head or rng.choice(LOCATIONS)
        prefix = (rng.choice(LOCATION_PREFIXES),) if rng.random() < 0.2 else ()
        return Mention(kind, (*prefix, name))
    if kind == "MISC":
        return Mention(kind, (rng.choice(MISCELLANEOUS),))
    raise ValueError(f"unknown entity type {kind!r}")


Piece = str | Mention


def _np(rng: random.Random, det: str = "the") -> list[str]:
    adjective = [rng.choice(ADJECTIVES)] if rng.random() < 0.4 else []
    return [det, *adjective, rng.choice(NOUNS)]


def _topic_noun(rng: random.Random) -> str:
    return rng.choice(rng.choice(TOPICS))


def entity_clause(rng: random.Random, with_misc: bool) -> list[Piece]:
    """One clause in which each entity's type shows in its context words."""
    name = partial(mention, rng)
    verb3 = rng.choice(VERBS)[1]
    clauses = [
        lambda: [name("PER"), verb3, *_np(rng)],
        lambda: ["the", rng.choice(ROLES), name("PER"), verb3, *_np(rng)],
        lambda: [name("PER"), "works", "for", name("ORG")],
        lambda: [name("PER"), "lives", "in", name("LOC")],
        lambda: [name("PER"), "was", "born", "in", name("LOC")],
        lambda: [
            "the",
            rng.choice(ORGANISATION_HEADS),
            name("ORG"),
            "says",
            "the",
            _topic_noun(rng),
            "is",
            rng.choice(ADJECTIVES),
        ],  # fmt: skip
        lambda: [name("ORG"), "reports", "about", "the", _topic_noun(rng), "in", name("LOC")],
        lambda: ["the", rng.choice(LOCATION_HEADS), "of", name("LOC"), verb3, *_np(rng)],
        lambda: [*_np(rng, "a"), "from", name("LOC"), verb3, name("PER")],
        lambda: [name("PER"), "meets", name("PER"), "at", name("ORG")],
    ]
    if with_misc:
        clauses += [
            lambda: [name("PER"), "wins", "the", name("MISC"), "prize"],
            lambda: ["the", name("MISC"), "tournament", "is", rng.choice(ADJECTIVES)],
        ]
    return rng.choice(clauses)()


def entity_sentence(rng: random.Random, with_misc: bool) -> list[Piece]:
    """One or two entity clauses joined by 'and'."""
    pieces = entity_clause(rng, with_misc)
    if rng.random() < 0.5:
        pieces += ["and", *entity_clause(rng, with_misc)]
    return pieces


def iob_tags(pieces: list[Piece]) -> tuple[list[str], list[str]]:
    """Flatten pieces to English words and their IOB2 tags."""
    words, tags = [], []
    for piece in pieces:
        if isinstance(piece, Mention):
            words += piece.words
            tags += [f"B-{piece.kind}"] + [f"I-{piece.kind}"] * (len(piece.words) - 1)
        else:
            words.append(piece)
            tags.append("O")
    return words, tags


def entity_language(language: Language, seed: int) -> Language:
    """The language with the entity context words added at its planted overlap."""
    return extend_language(language, ENTITY_WORDS, seed)


def translate_words(words: list[str], is_name: list[bool], language: Language) -> list[str]:
    """Map context words through the language; copy names (transliterated in another script)."""
    out = []
    for word, name in zip(words, is_name, strict=True):
        if name:
            out.append(to_script(word, language.script))
        elif word in ENTITY_PUNCTUATION:
            out.append(word)
        else:
            out.append(language.mapping[word])
    return out
