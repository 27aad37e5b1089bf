"""Label noise that keeps the demo tasks from being trivially perfect."""

from __future__ import annotations

import random

LABEL_NOISE_RATE = 0.05
SCORE_NOISE_SD = 0.35


def balanced_labels(rng: random.Random, n: int, num_classes: int) -> list[int]:
    """Return n labels cycling through the classes, shuffled, so classes are balanced."""
    labels = [i % num_classes for i in range(n)]
    rng.shuffle(labels)
    return labels


def flip_labels(
    rng: random.Random, labels: list[int], num_classes: int, rate: float = LABEL_NOISE_RATE
) -> list[int]:
    """Move exactly round(rate * n) labels to a different class chosen uniformly."""
    noisy = list(labels)
    for i in rng.sample(range(len(labels)), round(rate * len(labels))):
        noisy[i] = rng.choice([c for c in range(num_classes) if c != labels[i]])
    return noisy


def noisy_score(rng: random.Random, score: float, high: float = 5.0) -> float:
    """Add Gaussian noise to a similarity score and clip it to [0, high]."""
    return round(min(high, max(0.0, score + rng.gauss(0.0, SCORE_NOISE_SD))), 3)
