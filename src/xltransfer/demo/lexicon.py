"""English word lists of the synthetic demo world."""

from __future__ import annotations

# People, animals and objects: subjects and objects of the core proposition.
NOUNS: tuple[str, ...] = (
    "farmer", "teacher", "doctor", "child", "king", "queen", "soldier", "student",
    "baker", "sailor", "pilot", "singer", "painter", "nurse", "judge", "hunter",
    "horse", "dog", "cat", "bird", "fox", "wolf", "bear", "lion",
    "mouse", "rabbit", "goat", "sheep", "cow", "duck", "box", "ball",
    "car", "boat", "chair", "lamp", "book", "cup", "key", "drum",
)  # fmt: skip

# Transitive verbs as (base form, third person singular) pairs.
VERBS: tuple[tuple[str, str], ...] = (
    ("follow", "follows"), ("see", "sees"), ("find", "finds"), ("carry", "carries"),
    ("push", "pushes"), ("pull", "pulls"), ("watch", "watches"), ("hold", "holds"),
    ("chase", "chases"), ("touch", "touches"), ("help", "helps"), ("paint", "paints"),
    ("catch", "catches"), ("visit", "visits"), ("hide", "hides"), ("call", "calls"),
    ("wash", "washes"), ("lift", "lifts"), ("keep", "keeps"), ("draw", "draws"),
)  # fmt: skip

# Neutral adjectives (colour, size, age) that fill the noun phrase adjective slot.
ADJECTIVES: tuple[str, ...] = (
    "red", "blue", "green", "black", "white", "yellow", "brown", "big",
    "small", "tall", "short", "old", "young", "little", "large",
)  # fmt: skip

POSITIVE: tuple[str, ...] = (
    "wonderful", "great", "lovely", "brilliant", "excellent",
    "pleasant", "delightful", "superb", "charming", "fantastic",
)  # fmt: skip

NEGATIVE: tuple[str, ...] = (
    "terrible", "awful", "boring", "dreadful", "horrible",
    "dull", "nasty", "poor", "ugly", "miserable",
)  # fmt: skip

# Topic nouns in AG News label order: World, Sports, Business, Sci/Tech.
TOPICS: tuple[tuple[str, ...], ...] = (
    ("government", "election", "minister", "president", "parliament",
     "embassy", "treaty", "border", "army", "refugee"),
    ("football", "match", "team", "coach", "player",
     "goal", "league", "tournament", "stadium", "champion"),
    ("market", "company", "profit", "stock", "bank",
     "investor", "price", "trade", "economy", "shares"),
    ("computer", "software", "internet", "scientist", "research",
     "robot", "satellite", "laptop", "data", "network"),
)  # fmt: skip

# Words used only by the topic templates; shared by all topics so they carry no label.
NEWS_WORDS: tuple[str, ...] = ("news", "says", "about", "new", "today", "reports", "with", "of")

FUNCTION_WORDS: tuple[str, ...] = ("the", "a", "does", "not", "is", "very", "and", "it")

# Punctuation is kept verbatim in every language and is not part of the vocabulary.
PUNCTUATION: tuple[str, ...] = ("?",)


def vocabulary() -> tuple[str, ...]:
    """Return every English word type of the demo world, sorted and deduplicated."""
    words: set[str] = set(NOUNS) | set(ADJECTIVES) | set(POSITIVE) | set(NEGATIVE)
    words |= {form for pair in VERBS for form in pair}
    words |= {noun for topic in TOPICS for noun in topic}
    words |= set(NEWS_WORDS) | set(FUNCTION_WORDS)
    return tuple(sorted(words))
