"""Entry point: build the whole demo benchmark atomically into one folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from xltransfer.demo.corpus import write_corpus
from xltransfer.demo.entity_repos import write_conll2003, write_squad, write_wikiann, write_xquad
from xltransfer.demo.languages import Language, derive_language, english
from xltransfer.demo.repos import (
    SplitSizes,
    write_ag_news,
    write_glue,
    write_stsb_multi_mt,
    write_tweet_sentiment_multilingual,
    write_xnli,
)
from xltransfer.demo.tatoeba import write_tatoeba


def make_languages(languages: dict[str, dict], seed: int) -> list[Language]:
    """Return English followed by the derived languages in the given order."""
    if "en" in languages:
        raise ValueError("'en' is implicit and must not appear in languages")
    derived = [
        derive_language(code, overlap=float(spec["overlap"]), script=spec["script"], seed=seed)
        for code, spec in languages.items()
    ]
    return [english(), *derived]


def _check_target(out_dir: Path) -> None:
    """Refuse to overwrite a non-empty output folder."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FileExistsError(f"output folder {out_dir} already exists and is not empty")


def build_benchmark(
    out_dir: Path,
    *,
    seed: int,
    languages: dict[str, dict],
    train_size: int,
    dev_size: int,
    test_size: int,
    corpus_sentences_per_language: int,
) -> None:
    """Generate the synthetic multilingual benchmark and corpus into out_dir."""
    out_dir = Path(out_dir)
    _check_target(out_dir)
    langs = make_languages(languages, seed)
    sizes = SplitSizes(train=train_size, dev=dev_size, test=test_size)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Build next to out_dir so the final rename stays on one filesystem and is atomic.
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        write_glue(tmp / "glue", seed, sizes)
        write_xnli(tmp / "xnli", seed, langs, sizes)
        write_stsb_multi_mt(tmp / "stsb_multi_mt", seed, langs, sizes)
        write_tweet_sentiment_multilingual(tmp / "tweet_sentiment_multilingual", seed, langs, sizes)
        write_ag_news(tmp / "ag_news", seed, sizes)
        write_wikiann(tmp / "wikiann", seed, langs, sizes)
        write_conll2003(tmp / "conll2003", seed, sizes)
        write_squad(tmp / "squad", seed, sizes)
        write_xquad(tmp / "xquad", seed, langs, sizes)
        write_tatoeba(tmp / "xtreme_tatoeba", seed, langs, sizes.test)
        write_corpus(tmp / "corpus", seed, langs, corpus_sentences_per_language)
        tmp.chmod(0o755)  # mkdtemp makes 0700 folders; the result should look like any other
        _check_target(out_dir)
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
