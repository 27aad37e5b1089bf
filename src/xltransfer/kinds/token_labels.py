"""Word-level tags onto sub-tokens for token classification (NER, POS).

The tag of each word goes on its first sub-token; later sub-tokens and special tokens get -100,
which the loss and the metrics skip (the XTREME convention). Words cut off by `max_length` lose
their tag: they are counted and returned, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xltransfer.kinds.base import IGNORED_LABEL


@dataclass(frozen=True)
class TaggedBatch:
    input_ids: list[list[int]]
    attention_mask: list[list[int]]
    labels: list[list[int]]
    truncated_words: int  # words past max_length, whose tags the model never sees


def encode_tagged_words(
    tokenizer, words: Sequence[Sequence[str]], tags: Sequence[Sequence[int]], max_length: int
) -> TaggedBatch:
    """Tokenise pre-split sentences and align one label per word to its first sub-token."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("token classification needs a fast tokenizer (it maps tokens to words)")
    for i, (sentence, sentence_tags) in enumerate(zip(words, tags, strict=True)):
        if len(sentence) != len(sentence_tags):
            raise ValueError(f"sentence {i}: {len(sentence)} words but {len(sentence_tags)} tags")
    encoded = tokenizer(
        [list(sentence) for sentence in words],
        is_split_into_words=True,
        truncation=True,
        max_length=max_length,
    )
    labels, truncated = [], 0
    for i, sentence_tags in enumerate(tags):
        word_ids = encoded.word_ids(i)
        row, previous = [], None
        for word in word_ids:
            first_piece = word is not None and word != previous
            row.append(int(sentence_tags[word]) if first_piece else IGNORED_LABEL)
            previous = word
        seen = {word for word in word_ids if word is not None}
        truncated += len(sentence_tags) - len(seen)
        labels.append(row)
    return TaggedBatch(encoded["input_ids"], encoded["attention_mask"], labels, truncated)
