"""The demo's NER and QA Hub repositories: wikiann, conll2003, squad and xquad."""

from __future__ import annotations

import random
from pathlib import Path

from xltransfer.demo.entities import (
    ENTITY_PUNCTUATION,
    entity_language,
    entity_sentence,
    iob_tags,
    translate_words,
)
from xltransfer.demo.hub_layout import HubConfig, write_readme, write_split
from xltransfer.demo.languages import Language, english
from xltransfer.demo.lexicon import ADJECTIVES, VERBS
from xltransfer.demo.qa import generate_qa, render
from xltransfer.demo.repos import SplitSizes
from xltransfer.demo.rng import stream

# unimelb-nlp/wikiann's ClassLabel order.
WIKIANN_TAGS: tuple[str, ...] = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
# eriktks/conll2003's ClassLabel orders (its loading script's features).
CONLL_NER_TAGS: tuple[str, ...] = (*WIKIANN_TAGS, "B-MISC", "I-MISC")
CONLL_POS_TAGS: tuple[str, ...] = (
    '"', "''", "#", "$", "(", ")", ",", ".", ":", "``", "CC", "CD", "DT", "EX", "FW", "IN", "JJ",
    "JJR", "JJS", "LS", "MD", "NN", "NNP", "NNPS", "NNS", "NN|SYM", "PDT", "POS", "PRP", "PRP$",
    "RB", "RBR", "RBS", "RP", "SYM", "TO", "UH", "VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "WDT",
    "WP", "WP$", "WRB",
)  # fmt: skip
CONLL_CHUNK_TAGS: tuple[str, ...] = (
    "O", "B-ADJP", "I-ADJP", "B-ADVP", "I-ADVP", "B-CONJP", "I-CONJP", "B-INTJ", "I-INTJ",
    "B-LST", "I-LST", "B-NP", "I-NP", "B-PP", "I-PP", "B-PRT", "I-PRT", "B-SBAR", "I-SBAR",
    "B-UCP", "I-UCP", "B-VP", "I-VP",
)  # fmt: skip

_POS_OF_WORD = {
    **dict.fromkeys(("the", "a"), "DT"),
    **dict.fromkeys(("in", "from", "for", "at", "of", "about", "with"), "IN"),
    **dict.fromkeys(ADJECTIVES, "JJ"),
    **dict.fromkeys((third for _, third in VERBS), "VBZ"),
    **dict.fromkeys(("works", "lives", "meets", "wins", "says", "reports", "is"), "VBZ"),
    "and": "CC",
    "was": "VBD",
    "born": "VBN",
    **dict.fromkeys(ENTITY_PUNCTUATION, "."),
}
_CHUNK_OF_POS = {"DT": "NP", "JJ": "NP", "NN": "NP", "NNP": "NP", "IN": "PP"}


def conll_pos(words: list[str], tags: list[str]) -> list[str]:
    """Penn Treebank tags: names NNP, listed words their tag, other (common) nouns NN."""
    return [
        "NNP" if tag != "O" else _POS_OF_WORD.get(word, "NN")
        for word, tag in zip(words, tags, strict=True)
    ]


def conll_chunks(pos: list[str]) -> list[str]:
    """IOB2 chunks: noun phrases, prepositions and verb groups; other words O."""
    chunks, previous = [], None
    for tag in pos:
        kind = _CHUNK_OF_POS.get(tag, "VP" if tag.startswith("VB") else None)
        # A preposition is a chunk of its own; NP and VP runs continue.
        if kind is None:
            chunks.append("O")
        else:
            inside = kind == previous and kind != "PP"
            chunks.append(f"{'I' if inside else 'B'}-{kind}")
        previous = kind
    return chunks


def spans_of(words: list[str], tags: list[str]) -> list[str]:
    """WikiANN's `spans` column: one 'TYPE: the words' string per entity."""
    spans: list[list[str]] = []
    for word, tag in zip(words, tags, strict=True):
        if tag.startswith("B-"):
            spans.append([tag[2:], word])
        elif tag.startswith("I-"):
            spans[-1].append(word)
    return [f"{kind}: {' '.join(rest)}" for kind, *rest in spans]


def ner_rows(rng: random.Random, n: int, with_misc: bool) -> list[tuple[list[str], list[str]]]:
    """Return n English sentences as (words, IOB2 tags)."""
    return [iob_tags(entity_sentence(rng, with_misc)) for _ in range(n)]


def write_wikiann(repo: Path, seed: int, languages: list[Language], sizes: SplitSizes) -> None:
    """Write the WikiANN / PAN-X mirror (unimelb-nlp/wikiann): one config per language."""
    columns = [
        ("tokens", ["string"]),
        ("ner_tags", [WIKIANN_TAGS]),
        ("langs", ["string"]),
        ("spans", ["string"]),
    ]
    configs = [HubConfig(lang.code, columns, data_dir=lang.code) for lang in languages]
    extended = [entity_language(lang, seed) for lang in languages]
    for split, size in (("train", sizes.train), ("validation", sizes.dev), ("test", sizes.test)):
        rows = ner_rows(stream(seed, "wikiann", split), size, with_misc=False)
        for lang, config in zip(extended, configs, strict=True):
            data: dict[str, list] = {"tokens": [], "ner_tags": [], "langs": [], "spans": []}
            for words, tags in rows:
                surface = translate_words(words, [t != "O" for t in tags], lang)
                data["tokens"].append(surface)
                data["ner_tags"].append([WIKIANN_TAGS.index(t) for t in tags])
                data["langs"].append([lang.code] * len(surface))
                data["spans"].append(spans_of(surface, tags))
            write_split(repo, config, split, data)
    write_readme(repo, configs, "WikiANN (synthetic demo)", "unimelb-nlp/wikiann")


def write_conll2003(repo: Path, seed: int, sizes: SplitSizes) -> None:
    """Write the CoNLL-2003 mirror (eriktks/conll2003): English, with MISC entities."""
    columns = [
        ("id", "string"),
        ("tokens", ["string"]),
        ("pos_tags", [CONLL_POS_TAGS]),
        ("chunk_tags", [CONLL_CHUNK_TAGS]),
        ("ner_tags", [CONLL_NER_TAGS]),
    ]
    config = HubConfig("conll2003", columns, data_dir="conll2003")
    for split, size in (("train", sizes.train), ("validation", sizes.dev), ("test", sizes.test)):
        rows = ner_rows(stream(seed, "conll2003", split), size, with_misc=True)
        data: dict[str, list] = {name: [] for name, _ in columns}
        for i, (words, tags) in enumerate(rows):
            pos = conll_pos(words, tags)
            data["id"].append(str(i))
            data["tokens"].append(words)
            data["pos_tags"].append([CONLL_POS_TAGS.index(t) for t in pos])
            data["chunk_tags"].append([CONLL_CHUNK_TAGS.index(t) for t in conll_chunks(pos)])
            data["ner_tags"].append([CONLL_NER_TAGS.index(t) for t in tags])
        write_split(repo, config, split, data)
    write_readme(repo, [config], "CoNLL-2003 (synthetic demo)", "eriktks/conll2003")


ANSWERS = {"text": "string", "answer_start": "int32"}


def _qa_data(
    rng: random.Random, n: int, language: Language, prefix: str, with_title: bool
) -> dict[str, list]:
    data: dict[str, list] = {"id": [], "context": [], "question": [], "answers": []}
    if with_title:
        data["title"] = []
    for i, example in enumerate(generate_qa(rng, n)):
        row = render(example, language)
        data["id"].append(f"{prefix}{i:06d}")
        for key in ("context", "question", "answers"):
            data[key].append(row[key])
        if with_title:
            # SQuAD titles name the article: here the paragraph's first person.
            context = example.context
            data["title"].append(context.words[0] if context.names[0] else "")
    return data


def write_squad(repo: Path, seed: int, sizes: SplitSizes) -> None:
    """Write the SQuAD v1.1 mirror (rajpurkar/squad): config plain_text, train and validation."""
    columns = [
        ("id", "string"),
        ("title", "string"),
        ("context", "string"),
        ("question", "string"),
        ("answers", ANSWERS),
    ]
    config = HubConfig("plain_text", columns, data_dir="plain_text")
    source = entity_language(english(), seed)
    for split, size in (("train", sizes.train), ("validation", sizes.dev)):
        data = _qa_data(stream(seed, "squad", split), size, source, f"{split}-", True)
        write_split(repo, config, split, data)
    write_readme(repo, [config], "SQuAD (synthetic demo)", "rajpurkar/squad")


def write_xquad(repo: Path, seed: int, languages: list[Language], sizes: SplitSizes) -> None:
    """Write the XQuAD mirror (google/xquad): configs xquad.<lang>, a validation split only."""
    # XQuAD has no title column, unlike SQuAD.
    columns = [
        ("id", "string"),
        ("context", "string"),
        ("question", "string"),
        ("answers", ANSWERS),
    ]
    configs = [HubConfig(f"xquad.{lang.code}", columns, f"xquad.{lang.code}") for lang in languages]
    for lang, config in zip(languages, configs, strict=True):
        # The same stream in every language: the languages translate one English set.
        rng = stream(seed, "xquad", "validation")
        data = _qa_data(rng, sizes.test, entity_language(lang, seed), "xquad-", False)
        write_split(repo, config, "validation", data)
    write_readme(repo, configs, "XQuAD (synthetic demo)", "google/xquad")
