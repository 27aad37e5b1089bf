"""Core propositions of the demo world and their English surface forms."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from xltransfer.demo.lexicon import ADJECTIVES, NOUNS, VERBS

THIRD_PERSON: dict[str, str] = dict(VERBS)
SLOTS: tuple[str, ...] = ("subject", "subject_adj", "verb", "negated", "obj", "obj_adj")


@dataclass(frozen=True)
class Proposition:
    """Who does (or does not do) what to whom, with optional adjectives."""

    subject: str
    subject_adj: str | None
    verb: str
    negated: bool
    obj: str
    obj_adj: str | None


@dataclass(frozen=True)
class Surface:
    """Meaning-preserving surface choices: determiners and 'very' before adjectives."""

    subject_det: str = "the"
    obj_det: str = "the"
    subject_very: bool = False
    obj_very: bool = False


def sample_proposition(rng: random.Random, adj_rate: float = 0.5) -> Proposition:
    """Draw a proposition with distinct subject and object nouns."""
    subject, obj = rng.sample(NOUNS, 2)
    return Proposition(
        subject=subject,
        subject_adj=rng.choice(ADJECTIVES) if rng.random() < adj_rate else None,
        verb=rng.choice(VERBS)[0],
        negated=rng.random() < 0.5,
        obj=obj,
        obj_adj=rng.choice(ADJECTIVES) if rng.random() < adj_rate else None,
    )


def sample_surface(rng: random.Random, very_rate: float = 0.0) -> Surface:
    """Draw determiners and optional 'very' intensifiers."""
    return Surface(
        subject_det=rng.choice(("the", "a")),
        obj_det=rng.choice(("the", "a")),
        subject_very=rng.random() < very_rate,
        obj_very=rng.random() < very_rate,
    )


def alter_slot(rng: random.Random, prop: Proposition, slot: str) -> Proposition:
    """Return the proposition with one slot changed to a different value."""
    if slot == "subject":
        return replace(prop, subject=_other(rng, NOUNS, {prop.subject, prop.obj}))
    if slot == "obj":
        return replace(prop, obj=_other(rng, NOUNS, {prop.subject, prop.obj}))
    if slot == "verb":
        return replace(prop, verb=_other(rng, [base for base, _ in VERBS], {prop.verb}))
    if slot == "negated":
        return replace(prop, negated=not prop.negated)
    current = getattr(prop, slot)
    # An adjective slot changes by swapping in another adjective, dropping it, or adding one.
    if current is None:
        new: str | None = rng.choice(ADJECTIVES)
    elif rng.random() < 0.5:
        new = None
    else:
        new = _other(rng, ADJECTIVES, {current})
    return replace(prop, **{slot: new})


def _other(rng: random.Random, pool: tuple[str, ...] | list[str], exclude: set[str]) -> str:
    """Pick a pool member outside exclude."""
    return rng.choice([item for item in pool if item not in exclude])


def noun_phrase(det: str, adj: str | None, noun: str, very: bool = False) -> list[str]:
    """Render a determiner, optional (very) adjective and noun."""
    words = [det]
    if adj is not None:
        words += ["very", adj] if very else [adj]
    return [*words, noun]


def statement(prop: Proposition, surface: Surface | None = None) -> str:
    """Render 'the old farmer does not follow the red horse'."""
    s = surface or Surface()
    verb = ["does", "not", prop.verb] if prop.negated else [THIRD_PERSON[prop.verb]]
    words = noun_phrase(s.subject_det, prop.subject_adj, prop.subject, s.subject_very)
    words += verb + noun_phrase(s.obj_det, prop.obj_adj, prop.obj, s.obj_very)
    return " ".join(words)


def question(prop: Proposition, surface: Surface | None = None) -> str:
    """Render 'does the old farmer not follow the red horse ?'."""
    s = surface or Surface()
    words = ["does", *noun_phrase(s.subject_det, prop.subject_adj, prop.subject, s.subject_very)]
    words += ["not", prop.verb] if prop.negated else [prop.verb]
    words += [*noun_phrase(s.obj_det, prop.obj_adj, prop.obj, s.obj_very), "?"]
    return " ".join(words)


def agreeing_slots(a: Proposition, b: Proposition) -> int:
    """Count the slots on which two propositions agree."""
    return sum(getattr(a, slot) == getattr(b, slot) for slot in SLOTS)
