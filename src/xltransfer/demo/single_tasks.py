"""English generators for single-sentence tasks: sentiment, acceptability and topic."""

from __future__ import annotations

import random
from dataclasses import replace

from xltransfer.demo.grammar import (
    question,
    sample_proposition,
    sample_surface,
    statement,
)
from xltransfer.demo.lexicon import (
    ADJECTIVES,
    FUNCTION_WORDS,
    NEGATIVE,
    NEWS_WORDS,
    NOUNS,
    POSITIVE,
    PUNCTUATION,
    TOPICS,
    VERBS,
)
from xltransfer.demo.noise import balanced_labels, flip_labels

SENTIMENT_LABELS: tuple[str, ...] = ("negative", "positive")
# cardiffnlp/tweet_sentiment_multilingual's ClassLabel order.
TWEET_SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
ACCEPTABILITY_LABELS: tuple[str, ...] = ("unacceptable", "acceptable")
TOPIC_LABELS: tuple[str, ...] = ("World", "Sports", "Business", "Sci/Tech")


def _with_noise(rng: random.Random, rows: list[dict], clean: list[int], k: int) -> list[dict]:
    """Attach noisy and clean labels to rows."""
    for row, label, noisy in zip(rows, clean, flip_labels(rng, clean, k), strict=True):
        row["label"], row["clean_label"] = noisy, label
    return rows


def sentiment_sentence(rng: random.Random, positive: bool) -> str:
    """Render a sentence with one sentiment adjective whose polarity, after negation, is given."""
    negated = rng.random() < 0.35
    # Negation flips the adjective's polarity, so the label needs the adjective and 'not'.
    adj = rng.choice(POSITIVE if positive != negated else NEGATIVE)
    judgement = [
        "is",
        *(["not"] if negated else []),
        *(["very"] if rng.random() < 0.3 else []),
        adj,
    ]
    template = rng.randrange(3)
    if template == 0:
        adjective = [rng.choice(ADJECTIVES)] if rng.random() < 0.4 else []
        return " ".join([rng.choice(("the", "a")), *adjective, rng.choice(NOUNS), *judgement])
    # The clause's own 'not' (about the action) must not flip the sentiment label.
    prop = sample_proposition(rng, adj_rate=0.2)
    if rng.random() < 0.6:
        prop = replace(prop, negated=False)  # keep clause negation rarer (20%) than judgement's
    clause = statement(prop, sample_surface(rng))
    if template == 1:
        return f"{clause} and it {' '.join(judgement)}"
    return f"it {' '.join(judgement)} and {clause}"


def generate_sentiment(rng: random.Random, n: int) -> list[dict]:
    """Return n balanced sentiment rows: sentence, label, clean_label."""
    clean = balanced_labels(rng, n, len(SENTIMENT_LABELS))
    rows = [{"sentence": sentiment_sentence(rng, bool(label))} for label in clean]
    return _with_noise(rng, rows, clean, len(SENTIMENT_LABELS))


def neutral_sentence(rng: random.Random) -> str:
    """A sentence that judges with a neutral adjective (colour, size, age): no sentiment."""
    negated = rng.random() < 0.35
    judgement = ["is", *(["not"] if negated else []), rng.choice(ADJECTIVES)]
    return " ".join([rng.choice(("the", "a")), rng.choice(NOUNS), *judgement])


def generate_tweet_sentiment(rng: random.Random, n: int) -> list[dict]:
    """Return n balanced three-way sentiment rows (negative/neutral/positive): text, label."""
    clean = balanced_labels(rng, n, len(TWEET_SENTIMENT_LABELS))
    rows = [
        {"text": neutral_sentence(rng) if label == 1 else sentiment_sentence(rng, label == 2)}
        for label in clean
    ]
    return _with_noise(rng, rows, clean, len(TWEET_SENTIMENT_LABELS))


def word_category(word: str) -> str:
    """Return a coarse part of speech; swapping words of different categories breaks grammar."""
    if word in ADJECTIVES or word in POSITIVE or word in NEGATIVE:
        return "adj"
    if word in NOUNS or any(word in topic for topic in TOPICS):
        return "noun"
    if word in {base for base, _ in VERBS}:
        return "verb"
    if word in {third for _, third in VERBS}:
        return "verb3"
    if word in ("the", "a"):
        return "det"
    if word in FUNCTION_WORDS or word in NEWS_WORDS or word in PUNCTUATION:
        return word
    raise KeyError(word)


def corrupt(rng: random.Random, sentence: str) -> str:
    """Break word order by swapping two words of different categories, or by shuffling."""
    words = sentence.split()
    if rng.random() < 0.75:
        pairs = [
            (i, j)
            for i in range(len(words))
            for j in range(i + 1, len(words))
            if word_category(words[i]) != word_category(words[j])
        ]
        i, j = rng.choice(pairs)
        words[i], words[j] = words[j], words[i]
        return " ".join(words)
    shuffled = list(words)
    while shuffled == words:
        rng.shuffle(shuffled)
    return " ".join(shuffled)


def grammatical_sentence(rng: random.Random) -> str:
    """Render a statement, question or sentiment sentence from the grammar."""
    style = rng.randrange(3)
    if style == 0:
        return statement(sample_proposition(rng), sample_surface(rng, very_rate=0.2))
    if style == 1:
        return question(sample_proposition(rng), sample_surface(rng, very_rate=0.2))
    return sentiment_sentence(rng, rng.random() < 0.5)


def generate_acceptability(rng: random.Random, n: int) -> list[dict]:
    """Return n balanced CoLA-style rows: sentence, label, clean_label."""
    clean = balanced_labels(rng, n, len(ACCEPTABILITY_LABELS))
    rows = []
    for label in clean:
        sentence = grammatical_sentence(rng)
        rows.append({"sentence": sentence if label == 1 else corrupt(rng, sentence)})
    return _with_noise(rng, rows, clean, len(ACCEPTABILITY_LABELS))


def _topic_noun(rng: random.Random, topic: int) -> str:
    """Draw a noun of the topic, occasionally one of another topic as a distractor."""
    if rng.random() < 0.15:
        topic = rng.choice([t for t in range(len(TOPICS)) if t != topic])
    return rng.choice(TOPICS[topic])


def topic_sentence(rng: random.Random, topic: int) -> str:
    """Render one news-style sentence built around topic nouns."""
    a, b = _topic_noun(rng, topic), _topic_noun(rng, topic)
    verb = rng.choice(VERBS)[1]
    template = rng.randrange(4)
    if template == 0:
        return f"the {a} {verb} the {b}"
    if template == 1:
        return f"the {a} says the {b} is {rng.choice(ADJECTIVES + POSITIVE + NEGATIVE)}"
    if template == 2:
        return f"a new {a} reports about the {b} today"
    return f"the {rng.choice(NOUNS)} {verb} a {b} with the {a}"


def topic_text(rng: random.Random, topic: int) -> str:
    """Render one or two topic sentences joined by 'and'."""
    count = 1 if rng.random() < 0.5 else 2
    return " and ".join(topic_sentence(rng, topic) for _ in range(count))


def generate_topic(rng: random.Random, n: int) -> list[dict]:
    """Return n balanced AG News style rows: text, label, clean_label."""
    clean = balanced_labels(rng, n, len(TOPIC_LABELS))
    rows = [{"text": topic_text(rng, label)} for label in clean]
    return _with_noise(rng, rows, clean, len(TOPIC_LABELS))
