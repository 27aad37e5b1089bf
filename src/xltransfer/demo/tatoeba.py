"""The demo's Tatoeba: google/xtreme's `tatoeba.<lang>` configs of English-paired sentences.

Each derived language gets its own English sentences (Tatoeba's English sides differ per
language) and their word-mapped translations, so the gold pairing is known exactly. The layout
is google/xtreme's: one `validation` split per config, the foreign sentence in
`source_sentence`, the English one in `target_sentence`, language codes in `source_lang` and
`target_lang` (`eng`), and each sentence ending in the newline its source file line had.
"""

from __future__ import annotations

from pathlib import Path

from xltransfer.demo.corpus import corpus_sentence
from xltransfer.demo.hub_layout import HubConfig, write_readme, write_split
from xltransfer.demo.languages import Language, translate
from xltransfer.demo.rng import stream

TATOEBA_COLUMNS = [
    ("source_sentence", "string"),
    ("target_sentence", "string"),
    ("source_lang", "string"),
    ("target_lang", "string"),
]


def tatoeba_rows(seed: int, language: Language, size: int) -> dict[str, list[str]]:
    """`size` English sentences of the corpus generator's styles and their translations."""
    rng = stream(seed, "tatoeba", language.code)
    english = [corpus_sentence(rng) for _ in range(size)]
    return {
        "source_sentence": [translate(sentence, language) + "\n" for sentence in english],
        "target_sentence": [sentence + "\n" for sentence in english],
        "source_lang": [language.code] * size,
        "target_lang": ["eng"] * size,
    }


def write_tatoeba(repo: Path, seed: int, languages: list[Language], size: int) -> None:
    """Write the google/xtreme Tatoeba mirror: a `tatoeba.<code>` config per non-English
    language with its `validation` split."""
    configs = []
    for language in languages:
        if language.code == "en":
            continue
        name = f"tatoeba.{language.code}"
        config = HubConfig(name, TATOEBA_COLUMNS, data_dir=name)
        write_split(repo, config, "validation", tatoeba_rows(seed, language, size))
        configs.append(config)
    write_readme(repo, configs, "XTREME Tatoeba (synthetic demo)", "google/xtreme")
