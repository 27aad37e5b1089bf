"""Small folders that reproduce the layout and features of the real Hub datasets the XTREME
registry (config/xtreme.yaml) reads: config names, split names, column names and types,
ClassLabel names in their real order, and each dataset's quirks. A test points a registry entry
at one of these folders instead of its Hub id and loads it through the production code path.

Quirks reproduced (each is a way a loader can go wrong on the real data):
* nyu-mll/glue: MNLI's `validation_matched`, test labels -1, an `idx` column;
* facebook/anli: rounds as splits (`train_r1` ... `test_r3`) of one `plain_text` config;
* PhilipMay/stsb_multi_mt: the validation split is called `dev`, float `similarity_score` 0-5;
* google-research-datasets/paws-x: ClassLabel names "0" and "1";
* google/xtreme: `PAN-X.<lang>`, `udpos.<English language name>` (Thai with a test split only),
  `MLQA.<context lang>.<question lang>` (validation and test only, `answers` with answer_start
  before text), XNLI with string `gold_label`s and all languages in one config, PAWS-X with
  string labels, `tatoeba.<ISO 639-3>` (validation only, sentences ending in a newline, the
  foreign side in `source_sentence`) and `bucc18.<lang>` (gold pairs only, ids in `*_lang`);
* rajpurkar/squad_v2: unanswerable questions with empty answer lists;
* google/xquad: `xquad.<lang>` configs with a validation split only;
* google-research-datasets/tydiqa: `secondary_task` holds every language; only the id prefix
  (`english-`, `swahili-`) says which.
"""

from __future__ import annotations

from pathlib import Path

from xltransfer.demo.hub_layout import HubConfig, write_readme, write_split

NLI_LABELS = ("entailment", "neutral", "contradiction")
PANX_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
# google/xtreme udpos's ClassLabel order (the 17 UPOS tags, alphabetical).
UPOS_TAGS = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM",
    "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
)  # fmt: skip
SQUAD_ANSWERS = {"text": "string", "answer_start": "int32"}
# MLQA in google/xtreme lists the answer's fields the other way round.
MLQA_ANSWERS = {"answer_start": "int32", "text": "string"}
QA_COLUMNS = [
    ("id", "string"),
    ("title", "string"),
    ("context", "string"),
    ("question", "string"),
]


def _write(repo: Path, configs: dict[str, tuple[list, dict[str, list[dict]]]], mirrors: str):
    """`configs[name] = (columns, {split: rows})`, one folder per config as the Hub has it."""
    written = []
    for name, (columns, splits) in configs.items():
        config = HubConfig(name=name, columns=columns, data_dir=name)
        for split, rows in splits.items():
            write_split(repo, config, split, {c: [row[c] for row in rows] for c, _ in columns})
        written.append(config)
    write_readme(repo, written, mirrors.split("/")[-1], mirrors)
    return repo


def _qa_row(i: str, context: str, question: str, answers: list[str], fields=SQUAD_ANSWERS):
    """A QA row whose answer starts are computed from the context, in the dataset's order."""
    starts = [context.index(answer) for answer in answers]
    values = {"text": answers, "answer_start": starts}
    return {
        "id": i,
        "title": "Normans",
        "context": context,
        "question": question,
        "answers": {field: values[field] for field in fields},
    }


NORMANS = "The Normans were the people who gave their name to Normandy, a region in France."
NORMANS_DE = "Die Normannen gaben der Normandie, einer Region in Frankreich, ihren Namen."


def glue(repo: Path) -> Path:
    pair = [("premise", "string"), ("hypothesis", "string"), ("label", NLI_LABELS)]
    mnli_rows = [
        {"premise": "A man plays a guitar.", "hypothesis": "A man plays music.", "label": 0},
        {"premise": "A man plays a guitar.", "hypothesis": "The man is asleep.", "label": 2},
        {"premise": "Two dogs run.", "hypothesis": "The dogs are brothers.", "label": 1},
    ]
    hidden = [{**row, "label": -1} for row in mnli_rows]
    with_idx = [{**row, "idx": i} for i, row in enumerate(mnli_rows)]
    hidden_idx = [{**row, "idx": i} for i, row in enumerate(hidden)]
    sst2 = [("sentence", "string"), ("label", ("negative", "positive")), ("idx", "int32")]
    qqp = [
        ("question1", "string"),
        ("question2", "string"),
        ("label", ("not_duplicate", "duplicate")),
        ("idx", "int32"),
    ]
    stsb = [("sentence1", "string"), ("sentence2", "string"), ("label", "float32")]
    stsb_rows = [
        {
            "sentence1": "A plane is taking off.",
            "sentence2": "An air plane takes off.",
            "label": 5.0,
        },
        {"sentence1": "A man is slicing.", "sentence2": "A cat sleeps.", "label": 0.25},
    ]
    return _write(
        repo,
        {
            "mnli": (
                [*pair, ("idx", "int32")],
                {
                    "train": with_idx,
                    "validation_matched": with_idx,
                    "validation_mismatched": with_idx,
                    "test_matched": hidden_idx,
                    "test_mismatched": hidden_idx,
                },
            ),
            "qqp": (
                qqp,
                {
                    split: [
                        {
                            "question1": "How do I learn Python?",
                            "question2": "What is the best way to learn Python?",
                            "label": 1,
                            "idx": 0,
                        },
                        {
                            "question1": "Why is the sky blue?",
                            "question2": "How tall is Everest?",
                            "label": 0,
                            "idx": 1,
                        },
                    ]
                    for split in ("train", "validation")
                },
            ),
            "sst2": (
                sst2,
                {
                    split: [
                        {"sentence": "a gorgeous, witty film", "label": 1, "idx": 0},
                        {"sentence": "flat and tedious", "label": 0, "idx": 1},
                    ]
                    for split in ("train", "validation")
                },
            ),
            "stsb": (
                [*stsb, ("idx", "int32")],
                {
                    "train": [{**r, "idx": i} for i, r in enumerate(stsb_rows)],
                    "validation": [{**r, "idx": i} for i, r in enumerate(stsb_rows)],
                    "test": [{**r, "label": -1.0, "idx": i} for i, r in enumerate(stsb_rows)],
                },
            ),
        },
        "nyu-mll/glue",
    )


def anli(repo: Path) -> Path:
    columns = [
        ("uid", "string"),
        ("premise", "string"),
        ("hypothesis", "string"),
        ("label", NLI_LABELS),
        ("reason", "string"),
    ]
    rows = [
        {"uid": "r1-0", "premise": "Paris is the capital of France.",
         "hypothesis": "France has a capital.", "label": 0, "reason": ""},
        {"uid": "r1-1", "premise": "Paris is the capital of France.",
         "hypothesis": "Lyon is the capital of France.", "label": 2, "reason": "Paris is."},
    ]  # fmt: skip
    splits = {f"{kind}_r{r}": rows for r in (1, 2, 3) for kind in ("train", "dev", "test")}
    return _write(repo, {"plain_text": (columns, splits)}, "facebook/anli")


def xnli(repo: Path) -> Path:
    columns = [("premise", "string"), ("hypothesis", "string"), ("label", NLI_LABELS)]
    texts = {
        "en": ("A man plays a guitar.", "A man plays music."),
        "de": ("Ein Mann spielt Gitarre.", "Ein Mann macht Musik."),
        "sw": ("Mtu anapiga gitaa.", "Mtu anapiga muziki."),
    }
    return _write(
        repo,
        {
            language: (
                columns,
                {
                    split: [{"premise": p, "hypothesis": h, "label": 0},
                            {"premise": p, "hypothesis": "Nobody plays.", "label": 2}]
                    for split in ("train", "validation", "test")
                },
            )
            for language, (p, h) in texts.items()
        },
        "facebook/xnli",
    )  # fmt: skip


def paws_x(repo: Path) -> Path:
    columns = [
        ("id", "int32"),
        ("sentence1", "string"),
        ("sentence2", "string"),
        ("label", ("0", "1")),
    ]
    rows = [
        {"id": 1, "sentence1": "The cat chased the dog.", "sentence2": "The dog chased the cat.",
         "label": 0},
        {"id": 2, "sentence1": "He moved to Paris in 2001.",
         "sentence2": "In 2001 he moved to Paris.", "label": 1},
    ]  # fmt: skip
    splits = {split: rows for split in ("train", "validation", "test")}
    return _write(
        repo,
        {lang: (columns, splits) for lang in ("en", "de", "ja")},
        "google-research-datasets/paws-x",
    )


def stsb_multi_mt(repo: Path) -> Path:
    columns = [("sentence1", "string"), ("sentence2", "string"), ("similarity_score", "float32")]
    rows = {
        "en": [("A plane is taking off.", "An air plane is taking off.", 5.0),
               ("A man is playing a flute.", "A man plays a big flute.", 3.8)],
        "de": [("Ein Flugzeug hebt ab.", "Ein Flugzeug startet.", 5.0),
               ("Ein Mann spielt Flöte.", "Ein Mann spielt eine große Flöte.", 3.8)],
    }  # fmt: skip
    return _write(
        repo,
        {
            lang: (
                columns,
                {
                    split: [
                        {"sentence1": a, "sentence2": b, "similarity_score": s} for a, b, s in pairs
                    ]
                    for split in ("train", "test", "dev")
                },
            )
            for lang, pairs in rows.items()
        },
        "PhilipMay/stsb_multi_mt",
    )


def _panx(language: str) -> list[dict]:
    sentences = {
        "en": (["Barack", "Obama", "visited", "Berlin", "."], [1, 2, 0, 5, 0]),
        "de": (["Angela", "Merkel", "besuchte", "die", "UNO", "."], [1, 2, 0, 0, 3, 0]),
        "sw": (["Nairobi", "ni", "mji", "mkuu", "."], [5, 0, 0, 0, 0]),
    }
    tokens, tags = sentences[language]
    return [{"tokens": tokens, "ner_tags": tags, "langs": [language] * len(tokens)}]


def _udpos(name: str) -> list[dict]:
    sentences = {
        "English": (["The", "dog", "barks", "."], ["DET", "NOUN", "VERB", "PUNCT"]),
        "German": (["Der", "Hund", "bellt", "."], ["DET", "NOUN", "VERB", "PUNCT"]),
        "Thai": (["หมา", "เห่า"], ["NOUN", "VERB"]),
    }
    tokens, tags = sentences[name]
    return [{"tokens": tokens, "pos_tags": [UPOS_TAGS.index(tag) for tag in tags]}]


BITEXT = [
    ("source_sentence", "string"),
    ("target_sentence", "string"),
    ("source_lang", "string"),
    ("target_lang", "string"),
]


def _tatoeba() -> list[dict]:
    """Tatoeba pairs as google/xtreme stores them: each sentence a file line with its newline."""
    pairs = [("Ich habe Hunger.", "I am hungry."), ("Wo ist der Bahnhof?", "Where is the station?")]
    return [
        {"source_sentence": f"{de}\n", "target_sentence": f"{en}\n", "source_lang": "deu",
         "target_lang": "eng"}
        for de, en in pairs
    ]  # fmt: skip


def _bucc(split: str) -> list[dict]:
    """BUCC 2018 gold pairs only, the sentence ids in the *_lang columns."""
    first = 0 if split == "validation" else 100
    return [
        {"source_sentence": f"Satz {i} der Nachrichten.",
         "target_sentence": f"Sentence {i} of the news.",
         "source_lang": f"de-{i:06d}", "target_lang": f"en-{i:06d}"}
        for i in range(first, first + 3)
    ]  # fmt: skip


def xtreme(repo: Path) -> Path:
    panx = [("tokens", ["string"]), ("ner_tags", [PANX_TAGS]), ("langs", ["string"])]
    udpos = [("tokens", ["string"]), ("pos_tags", [UPOS_TAGS])]
    mlqa = [*QA_COLUMNS, ("answers", MLQA_ANSWERS)]
    xnli_columns = [
        ("language", "string"),
        ("sentence1", "string"),
        ("sentence2", "string"),
        ("gold_label", "string"),
    ]
    xnli_rows = [
        {"language": "en", "sentence1": "A man plays.", "sentence2": "Nobody plays.",
         "gold_label": "contradiction"},
        {"language": "de", "sentence1": "Ein Mann spielt.", "sentence2": "Jemand spielt.",
         "gold_label": "entailment"},
    ]  # fmt: skip
    pawsx = [("sentence1", "string"), ("sentence2", "string"), ("label", "string")]
    three = ("train", "validation", "test")
    configs = {
        **{f"PAN-X.{lang}": (panx, {s: _panx(lang) for s in three}) for lang in ("en", "de", "sw")},
        **{f"udpos.{name}": (udpos, {s: _udpos(name) for s in three})
           for name in ("English", "German")},
        # Some UD treebanks have test data only.
        "udpos.Thai": (udpos, {"test": _udpos("Thai")}),
        "MLQA.en.en": (mlqa, {s: [_qa_row("mlqa-en", NORMANS, "Who gave Normandy its name?",
                                          ["The Normans"], MLQA_ANSWERS)]
                              for s in ("validation", "test")}),
        "MLQA.de.de": (mlqa, {s: [_qa_row("mlqa-de", NORMANS_DE, "Wer gab der Normandie den Namen?",
                                          ["Die Normannen"], MLQA_ANSWERS)]
                              for s in ("validation", "test")}),
        "XNLI": (xnli_columns, {s: xnli_rows for s in ("validation", "test")}),
        **{f"PAWS-X.{lang}": (pawsx, {s: [{"sentence1": "a b", "sentence2": "b a", "label": "1"}]
                                      for s in three}) for lang in ("en", "de")},
        # Retrieval: Tatoeba has a validation split only, BUCC validation and test.
        "tatoeba.deu": (BITEXT, {"validation": _tatoeba()}),
        "bucc18.de": (BITEXT, {s: _bucc(s) for s in ("validation", "test")}),
    }  # fmt: skip
    return _write(repo, configs, "google/xtreme")


def squad(repo: Path) -> Path:
    columns = [*QA_COLUMNS, ("answers", SQUAD_ANSWERS)]
    rows = [
        _qa_row("5733be284776f41900661182", NORMANS, "In what country is Normandy located?",
                ["France", "France"]),
        _qa_row("5733be284776f41900661183", NORMANS, "Who gave their name to Normandy?",
                ["The Normans"]),
    ]  # fmt: skip
    return _write(
        repo, {"plain_text": (columns, {"train": rows, "validation": rows})}, "rajpurkar/squad"
    )


def squad_v2(repo: Path) -> Path:
    columns = [*QA_COLUMNS, ("answers", SQUAD_ANSWERS)]
    rows = [
        _qa_row("56ddde6b9a695914005b9628", NORMANS, "In what country is Normandy located?",
                ["France"]),
        # Unanswerable: no answer at all, as SQuAD v2 stores it.
        _qa_row("5ad39d53604f3c001a3fe8d1", NORMANS, "Who gave their name to Denmark?", []),
    ]  # fmt: skip
    return _write(
        repo, {"squad_v2": (columns, {"train": rows, "validation": rows})}, "rajpurkar/squad_v2"
    )


def xquad(repo: Path) -> Path:
    columns = [("id", "string"), ("context", "string"), ("question", "string"),
               ("answers", SQUAD_ANSWERS)]  # fmt: skip
    texts = {
        "en": (NORMANS, "Who gave their name to Normandy?", "The Normans"),
        "de": (NORMANS_DE, "Wer gab der Normandie ihren Namen?", "Die Normannen"),
    }
    configs = {}
    for lang, (context, question, answer) in texts.items():
        row = _qa_row(f"56beb4343aeaaa14008c925{lang}", context, question, [answer])
        del row["title"]  # XQuAD has no title column
        configs[f"xquad.{lang}"] = (columns, {"validation": [row]})
    return _write(repo, configs, "google/xquad")


def tydiqa(repo: Path) -> Path:
    columns = [*QA_COLUMNS, ("answers", SQUAD_ANSWERS)]
    sw = "Nairobi ni mji mkuu wa Kenya."
    rows = [
        _qa_row("english-8764-1", NORMANS, "Who gave Normandy its name?", ["The Normans"]),
        _qa_row("swahili-1021-2", sw, "Mji mkuu wa Kenya ni upi?", ["Nairobi"]),
        _qa_row("english-9911-3", NORMANS, "Where is Normandy?", ["France"]),
    ]
    return _write(
        repo,
        {"secondary_task": (columns, {"train": rows, "validation": rows})},
        "google-research-datasets/tydiqa",
    )


# Hub id -> builder, for every dataset config/xtreme.yaml reads.
BUILDERS = {
    "nyu-mll/glue": glue,
    "facebook/anli": anli,
    "facebook/xnli": xnli,
    "google-research-datasets/paws-x": paws_x,
    "PhilipMay/stsb_multi_mt": stsb_multi_mt,
    "google/xtreme": xtreme,
    "rajpurkar/squad": squad,
    "rajpurkar/squad_v2": squad_v2,
    "google/xquad": xquad,
    "google-research-datasets/tydiqa": tydiqa,
}


def build_all(root: Path) -> dict[str, Path]:
    """Every fixture under `root`, one folder per Hub id (owner__name)."""
    return {hub_id: build(root / hub_id.replace("/", "__")) for hub_id, build in BUILDERS.items()}
