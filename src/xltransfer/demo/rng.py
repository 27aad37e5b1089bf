"""Named, independent random streams derived from one seed."""

from __future__ import annotations

import hashlib
import random


def stream(seed: int, *names: str) -> random.Random:
    """Return a Random seeded by the seed and a path of names, stable across processes."""
    # String seeds go through SHA-512 inside random, but hashing here keeps the key explicit.
    key = hashlib.sha256("/".join([str(seed), *names]).encode()).hexdigest()
    return random.Random(key)


def stable_rank(seed: int, word: str) -> str:
    """Return a seed-dependent sort key for a word, unrelated to its meaning."""
    return hashlib.sha256(f"{seed}:rank:{word}".encode()).hexdigest()
