"""The demo's Hub repositories: glue, xnli, stsb_multi_mt and ag_news."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xltransfer.demo.hub_layout import HubConfig, write_readme, write_split
from xltransfer.demo.languages import Language, translate
from xltransfer.demo.pair_tasks import (
    NLI_LABELS,
    PARAPHRASE_LABELS,
    generate_nli,
    generate_paraphrase,
    generate_sts,
)
from xltransfer.demo.rng import stream
from xltransfer.demo.single_tasks import (
    ACCEPTABILITY_LABELS,
    SENTIMENT_LABELS,
    TOPIC_LABELS,
    TWEET_SENTIMENT_LABELS,
    generate_acceptability,
    generate_sentiment,
    generate_topic,
    generate_tweet_sentiment,
)

Generator = Callable[[random.Random, int], list[dict]]


@dataclass(frozen=True)
class SplitSizes:
    """Number of examples in train, validation/dev and test splits."""

    train: int
    dev: int
    test: int


def _columns(rows: list[dict], rename: dict[str, str], hide_labels: bool) -> dict[str, list]:
    """Select and rename row fields; hidden test labels become -1 as on the Hub."""
    data = {new: [row[old] for row in rows] for old, new in rename.items()}
    if hide_labels:
        label = next(new for old, new in rename.items() if old in ("label", "score"))
        data[label] = [-1.0 if isinstance(v, float) else -1 for v in data[label]]
    return data


@dataclass(frozen=True)
class GlueTask:
    """One GLUE config: its schema, generator and row-field to column mapping."""

    name: str
    columns: tuple[tuple[str, str | tuple[str, ...]], ...]
    generate: Generator
    rename: dict[str, str]
    splits: tuple[tuple[str, str], ...] = (("train", "train"), ("validation", "dev"),
                                           ("test", "test"))  # fmt: skip


MNLI_SPLITS = (
    ("train", "train"),
    ("validation_matched", "dev"),
    ("validation_mismatched", "dev"),
    ("test_matched", "test"),
    ("test_mismatched", "test"),
)
SENTENCE = (("sentence", "string"),)
GLUE_TASKS: tuple[GlueTask, ...] = (
    GlueTask("cola", (*SENTENCE, ("label", ACCEPTABILITY_LABELS)), generate_acceptability,
             {"sentence": "sentence", "label": "label"}),
    GlueTask("mnli", (("premise", "string"), ("hypothesis", "string"), ("label", NLI_LABELS)),
             generate_nli, {"premise": "premise", "hypothesis": "hypothesis", "label": "label"},
             MNLI_SPLITS),
    GlueTask("qqp", (("question1", "string"), ("question2", "string"),
                     ("label", PARAPHRASE_LABELS)), generate_paraphrase,
             {"question1": "question1", "question2": "question2", "label": "label"}),
    GlueTask("sst2", (*SENTENCE, ("label", SENTIMENT_LABELS)), generate_sentiment,
             {"sentence": "sentence", "label": "label"}),
    GlueTask("stsb", (("sentence1", "string"), ("sentence2", "string"), ("label", "float32")),
             generate_sts, {"sentence1": "sentence1", "sentence2": "sentence2", "score": "label"}),
)  # fmt: skip


def _mismatched_nli(rng: random.Random, n: int) -> list[dict]:
    """Generate MNLI mismatched rows from a shifted "genre" with more adjectives."""
    return generate_nli(rng, n, adj_rate=0.7)


def write_glue(repo: Path, seed: int, sizes: SplitSizes) -> None:
    """Write the GLUE mirror (nyu-mll/glue): cola, mnli, qqp, sst2 and stsb."""
    configs = []
    for task in GLUE_TASKS:
        config = HubConfig(task.name, [*task.columns, ("idx", "int32")], data_dir=task.name)
        for split, kind in task.splits:
            generate = _mismatched_nli if split.endswith("mismatched") else task.generate
            rows = generate(stream(seed, "glue", task.name, split), getattr(sizes, kind))
            data = _columns(rows, task.rename, hide_labels=kind == "test")
            data["idx"] = list(range(len(rows)))
            write_split(repo, config, split, data)
        configs.append(config)
    write_readme(repo, configs, "GLUE (synthetic demo)", "nyu-mll/glue")


def _write_parallel(
    repo: Path,
    dataset: str,
    seed: int,
    languages: list[Language],
    generate: Generator,
    columns: list[tuple[str, str | tuple[str, ...]]],
    rename: dict[str, str],
    splits: list[tuple[str, int]],
    config_names: dict[str, str] | None = None,
) -> list[HubConfig]:
    """Generate English splits once and write a word-mapped copy per language config."""
    text_fields = [old for old, new in rename.items() if dict(columns)[new] == "string"]
    names = [(config_names or {}).get(lang.code, lang.code) for lang in languages]
    configs = [HubConfig(name, columns, data_dir=name) for name in names]
    for split, size in splits:
        rows = generate(stream(seed, dataset, split), size)
        for lang, config in zip(languages, configs, strict=True):
            # Every language is a translation of the same English rows, as in XNLI dev/test.
            mapped = [{**r, **{f: translate(r[f], lang) for f in text_fields}} for r in rows]
            write_split(repo, config, split, _columns(mapped, rename, hide_labels=False))
    return configs


def write_xnli(repo: Path, seed: int, languages: list[Language], sizes: SplitSizes) -> None:
    """Write the XNLI mirror (facebook/xnli): one config per language."""
    columns = [("premise", "string"), ("hypothesis", "string"), ("label", NLI_LABELS)]
    rename = {"premise": "premise", "hypothesis": "hypothesis", "label": "label"}
    splits = [("train", sizes.train), ("validation", sizes.dev), ("test", sizes.test)]
    configs = _write_parallel(repo, "xnli", seed, languages, generate_nli, columns, rename, splits)
    write_readme(repo, configs, "XNLI (synthetic demo)", "facebook/xnli")


def write_stsb_multi_mt(
    repo: Path, seed: int, languages: list[Language], sizes: SplitSizes
) -> None:
    """Write the STSb multi-MT mirror (PhilipMay/stsb_multi_mt): splits train, dev, test."""
    columns = [("sentence1", "string"), ("sentence2", "string"), ("similarity_score", "float32")]
    rename = {"sentence1": "sentence1", "sentence2": "sentence2", "score": "similarity_score"}
    splits = [("train", sizes.train), ("dev", sizes.dev), ("test", sizes.test)]
    configs = _write_parallel(
        repo, "stsb_multi_mt", seed, languages, generate_sts, columns, rename, splits
    )
    write_readme(repo, configs, "STSb Multi MT (synthetic demo)", "PhilipMay/stsb_multi_mt")


def write_tweet_sentiment_multilingual(
    repo: Path, seed: int, languages: list[Language], sizes: SplitSizes
) -> None:
    """Write the cardiffnlp/tweet_sentiment_multilingual mirror: one config per language."""
    columns = [("text", "string"), ("label", TWEET_SENTIMENT_LABELS)]
    splits = [("train", sizes.train), ("validation", sizes.dev), ("test", sizes.test)]
    configs = _write_parallel(
        repo,
        "tweet_sentiment",
        seed,
        languages,
        generate_tweet_sentiment,
        columns,
        {"text": "text", "label": "label"},
        splits,
        config_names={"en": "english"},  # the Hub repo names its configs after languages
    )
    write_readme(
        repo,
        configs,
        "Multilingual sentiment (synthetic demo)",
        "cardiffnlp/tweet_sentiment_multilingual",
    )


def write_ag_news(repo: Path, seed: int, sizes: SplitSizes) -> None:
    """Write the AG News mirror (fancyzhx/ag_news): default config, train and test."""
    # The Hub stores a repo's default config under data/, so the mirror does too.
    config = HubConfig("default", [("text", "string"), ("label", TOPIC_LABELS)], data_dir="data")
    for split, size in (("train", sizes.train), ("test", sizes.test)):
        rows = generate_topic(stream(seed, "ag_news", split), size)
        write_split(repo, config, split, _columns(rows, {"text": "text", "label": "label"}, False))
    write_readme(repo, [config], "AG News (synthetic demo)", "fancyzhx/ag_news")
