"""Unlabeled multilingual corpus for masked-LM pretraining of the tiny encoder."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from xltransfer.demo.entities import entity_language, entity_sentence, iob_tags, translate_words
from xltransfer.demo.grammar import question, sample_proposition, sample_surface, statement
from xltransfer.demo.languages import Language, translate
from xltransfer.demo.rng import stream
from xltransfer.demo.single_tasks import sentiment_sentence, topic_text


def corpus_sentence(rng: random.Random) -> str:
    """Draw one English sentence in the style of a randomly chosen task generator."""
    style = rng.randrange(4)
    if style == 0:
        return statement(sample_proposition(rng), sample_surface(rng, very_rate=0.2))
    if style == 1:
        return question(sample_proposition(rng), sample_surface(rng, very_rate=0.2))
    if style == 2:
        return sentiment_sentence(rng, rng.random() < 0.5)
    return topic_text(rng, rng.randrange(4))


def corpus_rows(seed: int, languages: list[Language], per_language: int) -> dict[str, list[str]]:
    """Return language and text columns with per_language sentences for each language."""
    language_col: list[str] = []
    text_col: list[str] = []
    for lang in languages:
        # Separate draws per language: the pretraining corpus is comparable, not parallel.
        rng = stream(seed, "corpus", lang.code)
        for _ in range(per_language):
            language_col.append(lang.code)
            text_col.append(translate(corpus_sentence(rng), lang))
        # Then sentences with names, from a stream of their own so the ones above stay as they
        # were: the tokenizer and encoder learn names and the NER/QA context words too.
        rng = stream(seed, "corpus", lang.code, "entities")
        extended = entity_language(lang, seed)
        for _ in range(per_language // 4):
            words, tags = iob_tags(entity_sentence(rng, with_misc=True))
            language_col.append(lang.code)
            text_col.append(" ".join(translate_words(words, [t != "O" for t in tags], extended)))
    return {"language": language_col, "text": text_col}


def write_corpus(folder: Path, seed: int, languages: list[Language], per_language: int) -> None:
    """Write corpus/corpus.parquet with string columns language and text."""
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(corpus_rows(seed, languages, per_language), schema=CORPUS_SCHEMA)
    pq.write_table(table, folder / "corpus.parquet")


CORPUS_SCHEMA = pa.schema([("language", pa.string()), ("text", pa.string())])
