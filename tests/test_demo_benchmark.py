"""Tests for the embedded synthetic demo benchmark generator."""

from __future__ import annotations

import os

# The loader must work without the Hub; set this before datasets reads its config.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import re
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from test_workflow import default_config

from xltransfer.data.load import load_split, standardize
from xltransfer.data.tasks import TaskSpec
from xltransfer.demo import build_benchmark, derive_language, english, realised_overlap, translate
from xltransfer.demo.entities import (
    AMBIGUOUS,
    ENTITY_WORDS,
    LOCATION_PREFIXES,
    LOCATIONS,
    MISCELLANEOUS,
    ORGANISATION_SUFFIXES,
    ORGANISATIONS,
    PERSON_FIRST,
    PERSON_LAST,
    entity_language,
)
from xltransfer.demo.entity_repos import CONLL_NER_TAGS, WIKIANN_TAGS, ner_rows, spans_of
from xltransfer.demo.languages import kept_count
from xltransfer.demo.lexicon import vocabulary
from xltransfer.demo.noise import LABEL_NOISE_RATE, SCORE_NOISE_SD
from xltransfer.demo.pair_tasks import generate_nli, generate_paraphrase, generate_sts
from xltransfer.demo.qa import generate_qa
from xltransfer.demo.rng import stream
from xltransfer.demo.script import to_script
from xltransfer.demo.single_tasks import (
    corrupt,
    generate_acceptability,
    generate_sentiment,
    generate_topic,
)
from xltransfer.kinds.tagging_metrics import entity_scores

LANGUAGES = {
    "ov100": {"overlap": 1.0, "script": "latin"},
    "ov60": {"overlap": 0.6, "script": "latin"},
    "ov30": {"overlap": 0.3, "script": "latin"},
    "ov0": {"overlap": 0.0, "script": "latin"},
    "cy0": {"overlap": 0.0, "script": "cyrillic"},
}
SIZES = {"train_size": 50, "dev_size": 30, "test_size": 40, "corpus_sentences_per_language": 25}
NLI = ["entailment", "neutral", "contradiction"]


def _build(out: Path, seed: int = 7) -> Path:
    build_benchmark(out, seed=seed, languages=LANGUAGES, **SIZES)
    return out


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("demo") / "bench")


@pytest.fixture()
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _front_matter(readme: Path) -> dict:
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def _read(bench: Path, repo: str, config: str, split: str) -> pd.DataFrame:
    return pd.read_parquet(bench / repo / config / f"{split}-00000-of-00001.parquet")


# --- determinism and output handling -------------------------------------------------------


def test_same_seed_gives_identical_files(tmp_path: Path, bench: Path) -> None:
    again = _build(tmp_path / "again")
    assert _files(again) == _files(bench)
    other = _build(tmp_path / "other", seed=8)
    assert _files(other) != _files(bench)


def test_refuses_non_empty_out_dir_but_accepts_empty(tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="full"):
        _build(full)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]  # no temp folder left
    empty = tmp_path / "empty"
    empty.mkdir()
    _build(empty)
    assert (empty / "xnli" / "README.md").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "full"]


def test_layout_of_repositories(bench: Path) -> None:
    assert sorted(p.name for p in bench.iterdir()) == [
        "ag_news",
        "conll2003",
        "corpus",
        "glue",
        "squad",
        "stsb_multi_mt",
        "tweet_sentiment_multilingual",
        "wikiann",
        "xnli",
        "xquad",
        "xtreme_tatoeba",
    ]
    codes = ["en", *LANGUAGES]
    assert sorted(p.name for p in (bench / "xnli").iterdir() if p.is_dir()) == sorted(codes)
    assert (bench / "glue" / "mnli" / "test_mismatched-00000-of-00001.parquet").is_file()
    assert (bench / "stsb_multi_mt" / "cy0" / "dev-00000-of-00001.parquet").is_file()
    sentiment = bench / "tweet_sentiment_multilingual"
    assert (sentiment / "english" / "test-00000-of-00001.parquet").is_file()
    assert (sentiment / "cy0" / "validation-00000-of-00001.parquet").is_file()


def test_multilingual_sentiment_mirrors_tweet_sentiment_multilingual(bench: Path) -> None:
    data = datasets.load_dataset(
        str(bench / "tweet_sentiment_multilingual"), name="english", split="test"
    )
    assert data.column_names == ["text", "label"]
    assert data.features["label"].names == ["negative", "neutral", "positive"]


def test_tatoeba_mirrors_google_xtreme_with_exact_translations(bench: Path) -> None:
    configs = sorted(p.name for p in (bench / "xtreme_tatoeba").iterdir() if p.is_dir())
    assert configs == sorted(f"tatoeba.{code}" for code in LANGUAGES)  # no English config
    data = datasets.load_dataset(
        str(bench / "xtreme_tatoeba"), name="tatoeba.cy0", split="validation"
    )
    assert data.column_names == ["source_sentence", "target_sentence", "source_lang", "target_lang"]
    assert len(data) == SIZES["test_size"] and set(data["target_lang"]) == {"eng"}
    cy0 = derive_language("cy0", overlap=0.0, script="cyrillic", seed=7)
    for foreign, sentence in zip(data["source_sentence"], data["target_sentence"], strict=True):
        assert sentence.endswith("\n") and foreign.endswith("\n")  # file lines, as on the Hub
        assert translate(sentence.strip(), cy0) == foreign.strip()
    # Each language draws its own English sentences, as Tatoeba's do.
    ov60 = datasets.load_dataset(
        str(bench / "xtreme_tatoeba"), name="tatoeba.ov60", split="validation"
    )
    assert ov60["target_sentence"] != data["target_sentence"]


# --- languages -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 7])
def test_realised_overlap_matches_request_and_is_nested(seed: int) -> None:
    size = len(vocabulary())
    overlaps = [0.0, 0.1, 0.3, 0.45, 0.6, 0.9, 1.0]
    langs = [derive_language(f"l{o}", overlap=o, script="latin", seed=seed) for o in overlaps]
    for overlap, lang in zip(overlaps, langs, strict=True):
        assert abs(realised_overlap(lang) - overlap) <= 1 / size
        assert len(lang.kept) == kept_count(overlap)
        surfaces = list(lang.mapping.values())
        assert len(set(surfaces)) == len(surfaces)  # the mapping is invertible
        renamed = [lang.mapping[w] for w in lang.mapping if w not in lang.kept]
        assert not set(renamed) & set(vocabulary())  # pseudo-words never look English
        assert all(re.fullmatch(r"[a-z]+", s) for s in surfaces)
    for smaller, larger in zip(langs, langs[1:], strict=False):
        assert smaller.kept <= larger.kept


def test_translate_keeps_order_and_punctuation() -> None:
    lang = derive_language("ov0", overlap=0.0, script="latin", seed=1)
    out = translate("does the old farmer not follow the red horse ?", lang).split()
    assert len(out) == 10 and out[-1] == "?" and out[1] == out[6]  # 'the' maps consistently
    assert translate("the dog", english()) == "the dog"


def test_cyrillic_language_has_no_latin_letters(bench: Path) -> None:
    texts: list[str] = []
    for split in ("train", "validation", "test"):
        frame = _read(bench, "xnli", "cy0", split)
        texts += list(frame.premise) + list(frame.hypothesis)
    frame = _read(bench, "stsb_multi_mt", "cy0", "dev")
    texts += list(frame.sentence1) + list(frame.sentence2)
    corpus = pd.read_parquet(bench / "corpus" / "corpus.parquet")
    texts += list(corpus[corpus.language == "cy0"].text)
    assert texts and not any(re.search(r"[A-Za-z]", t) for t in texts)
    assert all(re.search(r"[\u0400-\u04ff]", t) for t in texts)


def test_languages_are_parallel_translations(bench: Path) -> None:
    en = _read(bench, "xnli", "en", "test")
    assert _read(bench, "xnli", "ov100", "test").equals(en)
    ov0 = _read(bench, "xnli", "ov0", "test")
    assert list(ov0.label) == list(en.label)
    assert not set(" ".join(ov0.premise).split()) & set(vocabulary())
    lang = derive_language("ov60", overlap=0.6, script="latin", seed=7)
    ov60 = _read(bench, "xnli", "ov60", "test")
    assert list(ov60.premise) == [translate(s, lang) for s in en.premise]


# --- Hub layout and loading through datasets ---------------------------------------------


def test_readme_front_matter_mirrors_hub(bench: Path) -> None:
    glue = _front_matter(bench / "glue" / "README.md")
    infos = {info["config_name"]: info for info in glue["dataset_info"]}
    assert sorted(infos) == ["cola", "mnli", "qqp", "sst2", "stsb"]
    mnli = infos["mnli"]
    label = next(f for f in mnli["features"] if f["name"] == "label")
    assert label["dtype"]["class_label"]["names"] == {
        "0": "entailment",
        "1": "neutral",
        "2": "contradiction",
    }
    assert [s["name"] for s in mnli["splits"]] == [
        "train",
        "validation_matched",
        "validation_mismatched",
        "test_matched",
        "test_mismatched",
    ]
    assert [s["num_examples"] for s in mnli["splits"]] == [50, 30, 30, 40, 40]
    configs = {c["config_name"]: c for c in glue["configs"]}
    assert configs["qqp"]["data_files"][0] == {"split": "train", "path": "qqp/train-*"}
    stsb = _front_matter(bench / "stsb_multi_mt" / "README.md")
    assert [s["name"] for s in stsb["dataset_info"][0]["splits"]] == ["train", "dev", "test"]
    ag = _front_matter(bench / "ag_news" / "README.md")
    assert [s["name"] for s in ag["dataset_info"]["splits"]] == ["train", "test"]
    assert ag["configs"] == [
        {
            "config_name": "default",
            "data_files": [
                {"split": "train", "path": "data/train-*"},
                {"split": "test", "path": "data/test-*"},
            ],
        }
    ]


def test_load_dataset_offline(bench: Path, tmp_path: Path, offline: None) -> None:
    cache = str(tmp_path / "cache")

    def load(repo: str, name: str | None, split: str) -> datasets.Dataset:
        return datasets.load_dataset(str(bench / repo), name=name, split=split, cache_dir=cache)

    xnli = load("xnli", "ov60", "test")
    assert xnli.features["label"].names == NLI and len(xnli) == 40
    assert list(xnli.features) == ["premise", "hypothesis", "label"]
    mnli = load("glue", "mnli", "validation_matched")
    assert mnli.features["label"].names == NLI
    assert mnli.features["idx"].dtype == "int32" and len(mnli) == 30
    sts = load("stsb_multi_mt", "cy0", "dev")
    assert sts.features["similarity_score"].dtype == "float32"
    assert all(isinstance(v, float) and 0 <= v <= 5 for v in sts["similarity_score"])
    ag = load("ag_news", None, "test")
    assert ag.features["label"].names == ["World", "Sports", "Business", "Sci/Tech"]
    assert load("glue", "qqp", "train").features["label"].names == ["not_duplicate", "duplicate"]
    assert load("glue", "sst2", "validation").features["label"].names == ["negative", "positive"]
    assert load("glue", "cola", "train").features["label"].names == ["unacceptable", "acceptable"]
    assert load("glue", "stsb", "train").features["label"].dtype == "float32"


def test_embedded_features_and_hidden_test_labels(bench: Path) -> None:
    path = bench / "glue" / "sst2" / "test-00000-of-00001.parquet"
    test = datasets.Dataset.from_parquet(str(path))
    assert test.features["label"].names == ["negative", "positive"]
    assert set(test["label"]) == {-1}
    for config in ("cola", "qqp"):
        assert set(_read(bench, "glue", config, "test").label) == {-1}
    for split in ("test_matched", "test_mismatched"):
        assert set(_read(bench, "glue", "mnli", split).label) == {-1}
    assert set(_read(bench, "glue", "stsb", "test").label) == {-1.0}
    assert set(_read(bench, "glue", "mnli", "train").label) <= {0, 1, 2}
    assert set(_read(bench, "glue", "stsb", "validation").label) != {-1.0}


def test_corpus_has_every_language(bench: Path) -> None:
    corpus = pd.read_parquet(bench / "corpus" / "corpus.parquet")
    assert list(corpus.columns) == ["language", "text"]
    # 25 sentences in the tasks' styles and 25 // 4 with named entities per language.
    assert Counter(corpus.language) == {code: 25 + 6 for code in ["en", *LANGUAGES]}
    assert corpus.text.str.len().min() > 0


# --- task generators -----------------------------------------------------------------------


GENERATORS = {
    "nli": (generate_nli, 3),
    "paraphrase": (generate_paraphrase, 2),
    "sentiment": (generate_sentiment, 2),
    "acceptability": (generate_acceptability, 2),
    "topic": (generate_topic, 4),
}


@pytest.mark.parametrize("task", sorted(GENERATORS))
def test_labels_balanced_and_noise_rate(task: str) -> None:
    generate, classes = GENERATORS[task]
    n = 1200
    rows = generate(stream(3, task), n)
    clean = Counter(r["clean_label"] for r in rows)
    assert sorted(clean.values()) == [n // classes] * classes
    noisy = Counter(r["label"] for r in rows)
    assert all(abs(count - n / classes) < 0.03 * n for count in noisy.values())
    flipped = sum(r["label"] != r["clean_label"] for r in rows)
    assert flipped == round(LABEL_NOISE_RATE * n)


def test_sts_scores_spread_over_range_with_noise() -> None:
    rows = generate_sts(stream(3, "sts"), 2000)
    scores = np.array([r["score"] for r in rows])
    clean = np.array([r["clean_score"] for r in rows])
    assert scores.min() >= 0 and scores.max() <= 5
    counts, _ = np.histogram(scores, bins=5, range=(0, 5))
    assert counts.min() > 0.12 * len(rows)
    inner = (clean > 0) & (clean < 5)  # clipping shrinks noise at the ends
    assert abs(np.std(scores[inner] - clean[inner]) - SCORE_NOISE_SD) < 0.05


def test_generators_differ_across_streams() -> None:
    a = generate_nli(stream(0, "glue", "mnli", "train"), 50)
    b = generate_nli(stream(0, "xnli", "train"), 50)
    assert [r["premise"] for r in a] != [r["premise"] for r in b]


def test_corruption_keeps_words_and_changes_order() -> None:
    rng = stream(0, "corrupt")
    sentence = "does the old farmer not follow the red horse ?"
    for _ in range(50):
        broken = corrupt(rng, sentence)
        assert broken != sentence and sorted(broken.split()) == sorted(sentence.split())


def test_sentiment_negation_flips_label() -> None:
    rows = generate_sentiment(stream(5, "sst"), 600)
    negated = [r for r in rows if " is not " in f" {r['sentence']} "]
    assert 0.2 < len(negated) / len(rows) < 0.5
    positive_words = {"wonderful", "great", "lovely", "brilliant", "excellent"}
    for row in negated:
        words = set(row["sentence"].split())
        if words & positive_words:
            assert row["clean_label"] == 0


# --- learnability sanity checks ------------------------------------------------------------


def _nli_frames() -> tuple[list[dict], list[dict]]:
    return generate_nli(stream(11, "train"), 3000), generate_nli(stream(11, "test"), 1500)


def _pair_features(rows: list[dict]) -> np.ndarray:
    feats = []
    for row in rows:
        premise, hyp = row["premise"].split(), row["hypothesis"].split()
        feats.append(
            [
                sum(w in premise for w in hyp) / len(hyp),
                sum(w in hyp for w in premise) / len(premise),
                float(("not" in premise) == ("not" in hyp)),
                float(len(premise) - len(hyp)),
            ]
        )
    return np.array(feats)


def test_hypothesis_only_baseline_is_near_chance() -> None:
    train, test = _nli_frames()
    vec = CountVectorizer(token_pattern=r"\S+", ngram_range=(1, 2))
    x_train = vec.fit_transform([r["hypothesis"] for r in train])
    model = LogisticRegression(max_iter=2000).fit(x_train, [r["label"] for r in train])
    accuracy = model.score(
        vec.transform([r["hypothesis"] for r in test]), [r["label"] for r in test]
    )
    assert accuracy < 0.40


def test_pair_overlap_baseline_is_clearly_above_chance() -> None:
    train, test = _nli_frames()
    model = LogisticRegression(max_iter=2000).fit(
        _pair_features(train), [r["label"] for r in train]
    )
    accuracy = model.score(_pair_features(test), [r["label"] for r in test])
    assert 0.6 < accuracy < 0.96  # learnable, but noise keeps it below perfect


# --- NER and QA repositories (WikiANN, CoNLL-2003, SQuAD, XQuAD) ---------------------------


def _registry_task(name: str, bench: Path) -> TaskSpec:
    """The default config's registry entry, pointed at this test's benchmark folder."""
    entry = dict(default_config()["tasks"][name])
    entry["dataset"] = str(bench / Path(entry["dataset"]).name)
    return TaskSpec.from_config(name, entry)


def test_wikiann_mirrors_hub_and_loads_through_the_registry(bench: Path, offline: None) -> None:
    task = _registry_task("panx", bench)
    frames = {}
    for code in ["en", *LANGUAGES]:
        data = load_split(task, code, "test")
        assert list(data.features) == ["tokens", "ner_tags", "langs", "spans"]
        assert data.features["ner_tags"].feature.names == list(WIKIANN_TAGS)
        assert all(set(langs) == {code} for langs in data["langs"])
        for tokens, tags, spans in zip(
            data["tokens"], data["ner_tags"], data["spans"], strict=True
        ):
            names = [WIKIANN_TAGS[t] for t in tags]
            assert spans == spans_of(tokens, names) and spans  # e.g. "PER: anna weber"
        frames[code] = standardize(task, data, code, "test")
    assert [
        s["name"]
        for s in _front_matter(bench / "wikiann" / "README.md")["dataset_info"][0]["splits"]
    ] == ["train", "validation", "test"]
    en = frames["en"]
    for code in LANGUAGES:  # parallel: the same tags in every language
        assert [list(t) for t in frames[code]["label"]] == [list(t) for t in en["label"]]


def _words_by_tag(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    names, context = [], []
    for tokens, tags in zip(frame["text_a"], frame["label"], strict=True):
        for token, tag in zip(tokens, tags, strict=True):
            (names if tag else context).append(token)
    return names, context


def test_names_are_copied_and_context_follows_the_overlap(bench: Path, offline: None) -> None:
    task = _registry_task("panx", bench)
    frame = {
        c: standardize(task, load_split(task, c, "test"), c, "test") for c in ["en", *LANGUAGES]
    }
    en_names, en_context = _words_by_tag(frame["en"])
    english_words = set(vocabulary()) | set(ENTITY_WORDS)
    shares = {}
    for code in ("ov100", "ov60", "ov30", "ov0"):
        names, context = _words_by_tag(frame[code])
        assert names == en_names  # Latin-script languages copy every name
        types = {e: s for e, s in zip(en_context, context, strict=True)}
        shares[code] = sum(e == s for e, s in types.items()) / len(types)
    assert shares["ov100"] == 1.0 and shares["ov0"] == 0.0
    assert shares["ov100"] > shares["ov60"] > shares["ov30"] > shares["ov0"]
    assert abs(shares["ov60"] - 0.6) < 0.2 and abs(shares["ov30"] - 0.3) < 0.2
    assert not set(_words_by_tag(frame["ov0"])[1]) & english_words
    cy_names, cy_context = _words_by_tag(frame["cy0"])
    assert cy_names == [to_script(n, "cyrillic") for n in en_names]  # transliterated
    assert not any(re.search(r"[A-Za-z]", w) for w in cy_names + cy_context)


def test_added_words_leave_the_base_mapping_alone_and_stay_nested() -> None:
    langs = [derive_language(f"l{o}", overlap=o, script="latin", seed=3) for o in (0.3, 0.6)]
    extended = [entity_language(lang, 3) for lang in langs]
    for lang, more in zip(langs, extended, strict=True):
        assert {w: more.mapping[w] for w in lang.mapping} == lang.mapping
        assert set(more.mapping) == set(lang.mapping) | set(ENTITY_WORDS)
        surfaces = list(more.mapping.values())
        assert len(set(surfaces)) == len(surfaces)
    assert extended[0].kept <= extended[1].kept
    # A kept word that a base pseudo-word already spells is renamed: at most one or two.
    planned = round(0.6 * len(ENTITY_WORDS))
    assert planned - 2 <= len(extended[1].kept - langs[1].kept) <= planned


def test_names_never_collide_with_words() -> None:
    names = set(PERSON_FIRST + PERSON_LAST + ORGANISATIONS + LOCATIONS + AMBIGUOUS + MISCELLANEOUS)
    names |= set(ORGANISATION_SUFFIXES + LOCATION_PREFIXES)
    assert not names & (set(vocabulary()) | set(ENTITY_WORDS))
    for code, spec in LANGUAGES.items():
        lang = entity_language(derive_language(code, seed=13, **spec), 13)
        assert not names & set(lang.mapping.values()), code


def test_conll2003_mirrors_hub_with_misc_and_pos_tags(bench: Path, offline: None) -> None:
    task = _registry_task("conll2003", bench)
    data = load_split(task, "en", "train")
    assert list(data.features) == ["id", "tokens", "pos_tags", "chunk_tags", "ner_tags"]
    assert data.features["ner_tags"].feature.names == list(CONLL_NER_TAGS)
    assert data.features["pos_tags"].feature.names[:3] == ['"', "''", "#"]
    assert len(data.features["pos_tags"].feature.names) == 47
    assert len(data.features["chunk_tags"].feature.names) == 23
    assert data["id"][:3] == ["0", "1", "2"]
    pos = data.features["pos_tags"].feature.names
    for tags, pos_tags in zip(data["ner_tags"], data["pos_tags"], strict=True):
        # Every name is a proper noun, and only names are.
        assert [t != 0 for t in tags] == [pos[p] == "NNP" for p in pos_tags]
    frame = standardize(task, data, "en", "train")
    assert len(frame) == 50
    big = ner_rows(stream(0, "misc"), 400, with_misc=True)
    assert any("B-MISC" in tags for _, tags in big)
    assert not any("B-MISC" in tags for _, tags in ner_rows(stream(0, "misc"), 400, False))


def test_ambiguous_names_take_their_type_from_context() -> None:
    rows = ner_rows(stream(1, "ambiguous"), 2000, with_misc=False)
    types: dict[str, set[str]] = {}
    for words, tags in rows:
        for word, tag in zip(words, tags, strict=True):
            if word in AMBIGUOUS and tag != "O":
                types.setdefault(word, set()).add(tag[2:])
    assert types and all(kinds == {"PER", "ORG", "LOC"} for kinds in types.values())
    # A tagger that knows each word's most frequent tag, and no context, stays well short.
    counts: dict[str, Counter] = {}
    for words, tags in rows[:1500]:
        for word, tag in zip(words, tags, strict=True):
            counts.setdefault(word, Counter())[tag] += 1
    gold = [tags for _, tags in rows[1500:]]
    guess = [[counts[w].most_common(1)[0][0] for w in words] for words, _ in rows[1500:]]
    assert entity_scores(guess, gold)["f1"] < 0.85


def test_squad_and_xquad_mirror_hub_with_answers_in_place(bench: Path, offline: None) -> None:
    squad = _registry_task("squad", bench)
    train = load_split(squad, "en", "train")
    assert list(train.features) == ["id", "title", "context", "question", "answers"]
    assert train.features["answers"]["answer_start"].feature.dtype == "int32"
    front = _front_matter(bench / "squad" / "README.md")
    assert front["configs"][0]["config_name"] == "plain_text"
    assert [s["name"] for s in front["dataset_info"][0]["splits"]] == ["train", "validation"]
    standardize(squad, train, "en", "train")  # checks every answer sits at its start
    xquad = _registry_task("xquad", bench)
    front = _front_matter(bench / "xquad" / "README.md")
    assert {info["config_name"] for info in front["dataset_info"]} == {
        f"xquad.{code}" for code in ["en", *LANGUAGES]
    }
    assert all(
        [s["name"] for s in info["splits"]] == ["validation"] for info in front["dataset_info"]
    )
    questions = {}
    for code in ["en", *LANGUAGES]:
        data = load_split(xquad, code, "test")
        assert list(data.features) == ["id", "context", "question", "answers"]  # no title
        for context, answers in zip(data["context"], data["answers"], strict=True):
            (text,), (start,) = answers["text"], answers["answer_start"]
            assert context[start : start + len(text)] == text
        standardize(xquad, data, code, "test")
        questions[code] = data["question"]
    assert questions["ov100"] == questions["en"] and questions["ov0"] != questions["en"]
    assert not any(re.search(r"[A-Za-z]", q) for q in questions["cy0"])


def test_each_question_has_one_answer_in_its_paragraph() -> None:
    for example in generate_qa(stream(2, "qa"), 300):
        words = example.context.words
        start, end = example.answer
        answer = words[start:end]
        hits = [i for i in range(len(words)) if words[i : i + len(answer)] == answer]
        assert hits == [start], (example, answer)
        # The question names the asked fact's other entity, which the context holds once.
        question = example.question
        named = [w for w, name in zip(question.words, question.names, strict=True) if name]
        assert all(words.count(w) == 1 for w in named), example
