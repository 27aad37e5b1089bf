"""English generators for the sentence-pair tasks: NLI, STS and paraphrase."""

from __future__ import annotations

import random
from dataclasses import replace

from xltransfer.demo.grammar import (
    SLOTS,
    Proposition,
    Surface,
    agreeing_slots,
    alter_slot,
    question,
    sample_proposition,
    sample_surface,
    statement,
)
from xltransfer.demo.lexicon import ADJECTIVES, NOUNS
from xltransfer.demo.noise import balanced_labels, flip_labels, noisy_score

NLI_LABELS: tuple[str, ...] = ("entailment", "neutral", "contradiction")
PARAPHRASE_LABELS: tuple[str, ...] = ("not_duplicate", "duplicate")
ADJ_SLOTS: tuple[str, ...] = ("subject_adj", "obj_adj")


def _specialise(rng: random.Random, prop: Proposition, frozen: str | None = None) -> Proposition:
    """Fill empty adjective slots at random: the result entails the input."""
    for slot in ADJ_SLOTS:
        if slot != frozen and getattr(prop, slot) is None and rng.random() < 0.5:
            prop = replace(prop, **{slot: rng.choice(ADJECTIVES)})
    return prop


def nli_premise(rng: random.Random, hyp: Proposition, label: int) -> Proposition:
    """Build a premise standing in the given NLI relation to the hypothesis."""
    # The hypothesis is drawn first and independently of the label, so it alone carries no cue.
    filled = [slot for slot in ADJ_SLOTS if getattr(hyp, slot) is not None]
    if label == 0:
        return _specialise(rng, hyp)
    if label == 2:
        if filled and rng.random() < 0.4:
            slot = rng.choice(filled)
            other = rng.choice([a for a in ADJECTIVES if a != getattr(hyp, slot)])
            return _specialise(rng, replace(hyp, **{slot: other}))
        return _specialise(rng, replace(hyp, negated=not hyp.negated))
    if filled and rng.random() < 0.4:
        slot = rng.choice(filled)
        return _specialise(rng, replace(hyp, **{slot: None}), frozen=slot)
    obj = rng.choice([n for n in NOUNS if n not in (hyp.subject, hyp.obj)])
    return _specialise(rng, replace(hyp, obj=obj))


def generate_nli(rng: random.Random, n: int, adj_rate: float = 0.5) -> list[dict]:
    """Return n balanced NLI rows: premise, hypothesis, label, clean_label."""
    clean = balanced_labels(rng, n, len(NLI_LABELS))
    rows = []
    for label in clean:
        hyp = sample_proposition(rng, adj_rate)
        prem = nli_premise(rng, hyp, label)
        # Determiners are shared by the pair so they never signal a mismatch.
        surface = Surface(rng.choice(("the", "a")), rng.choice(("the", "a")))
        rows.append({"premise": statement(prem, surface), "hypothesis": statement(hyp, surface)})
    for row, label, noisy in zip(rows, clean, flip_labels(rng, clean, 3), strict=True):
        row["label"], row["clean_label"] = noisy, label
    return rows


def generate_sts(rng: random.Random, n: int) -> list[dict]:
    """Return n STS rows; score is 5 x share of agreeing slots plus noise."""
    rows = []
    for _ in range(n):
        first = sample_proposition(rng)
        # A uniform number of agreeing slots spreads the scores evenly over [0, 5].
        agree = rng.randint(0, len(SLOTS))
        second = first
        for slot in rng.sample(SLOTS, len(SLOTS) - agree):
            second = alter_slot(rng, second, slot)
        clean = 5.0 * agreeing_slots(first, second) / len(SLOTS)
        rows.append(
            {
                "sentence1": statement(first, sample_surface(rng)),
                "sentence2": statement(second, sample_surface(rng)),
                "score": noisy_score(rng, clean),
                "clean_score": clean,
            }
        )
    return rows


def tweak_surface(rng: random.Random, surface: Surface, prop: Proposition) -> Surface:
    """Change one meaning-preserving surface choice: a determiner or a 'very'."""
    # Mostly determiners: a toggled 'very' looks like an added adjective to a tiny model.
    options = [f"{np}_very" for np in ("subject", "obj") if getattr(prop, f"{np}_adj")]
    if not options or rng.random() < 0.75:
        options = ["subject_det", "obj_det"]
    choice = rng.choice(options)
    if choice.endswith("_det"):
        return replace(surface, **{choice: "a" if getattr(surface, choice) == "the" else "the"})
    return replace(surface, **{choice: not getattr(surface, choice)})


def generate_paraphrase(rng: random.Random, n: int) -> list[dict]:
    """Return n balanced question pairs: question1, question2, label, clean_label."""
    clean = balanced_labels(rng, n, len(PARAPHRASE_LABELS))
    rows = []
    for label in clean:
        first = sample_proposition(rng)
        second = first if label == 1 else alter_slot(rng, first, rng.choice(SLOTS))
        surface = sample_surface(rng, very_rate=0.2)
        # Both classes get exactly one surface tweak, so only a changed slot separates them.
        q1, q2 = question(first, surface), question(second, tweak_surface(rng, surface, second))
        rows.append({"question1": q1, "question2": q2})
    for row, label, noisy in zip(rows, clean, flip_labels(rng, clean, 2), strict=True):
        row["label"], row["clean_label"] = noisy, label
    return rows
