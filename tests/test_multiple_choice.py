"""Multiple-choice source tasks on Hub-shaped copies of HellaSwag, CosmosQA and CommonsenseQA:
load and standardise through the production path, refuse bad rows by name, train a choice head,
carry its encoder to a classifier, and embed the task."""

from __future__ import annotations

import copy
import dataclasses
import random

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO
from test_train import HP

from xltransfer.data.load import CHOICES, DatasetError, load_split, standardize
from xltransfer.data.tasks import TaskSpec
from xltransfer.demo.hub_layout import HubConfig, write_readme, write_split
from xltransfer.spec import FinetuneSpec, TaskHead

# The registry entries of config/xtreme.yaml; the tests swap in the fixture folders.
MULTIPLE_CHOICE_SOURCES = ("hellaswag", "cosmos_qa", "commonsense_qa")
REGISTRY = {
    name: entry
    for name, entry in yaml.safe_load((REPO / "config" / "xtreme.yaml").read_text())[
        "tasks"
    ].items()
    if name in MULTIPLE_CHOICE_SOURCES
}

# The Hub schemas, column for column (dataset_info features of each dataset card).
HELLASWAG = [
    ("ind", "int32"),
    ("activity_label", "string"),
    ("ctx_a", "string"),
    ("ctx_b", "string"),
    ("ctx", "string"),
    ("endings", ["string"]),
    ("source_id", "string"),
    ("split", "string"),
    ("split_type", "string"),
    ("label", "string"),
]
COSMOS = [
    ("id", "string"),
    ("context", "string"),
    ("question", "string"),
    *[(f"answer{i}", "string") for i in range(4)],
    ("label", "int32"),
]
CSQA = [
    ("id", "string"),
    ("question", "string"),
    ("question_concept", "string"),
    ("choices", {"label": "string", "text": "string"}),
    ("answerKey", "string"),
]


def write_repo(repo, columns, splits: dict[str, list[dict]], mirrors: str):
    """One `default` config with its shards under data/ and a README declaring it."""
    config = HubConfig(name="default", columns=columns, data_dir="data")
    for split, rows in splits.items():
        write_split(repo, config, split, {name: [row[name] for row in rows] for name, _ in columns})
    write_readme(repo, [config], mirrors, mirrors)
    return repo


def write_converted_repo(repo, columns, splits: dict[str, list[dict]]):
    """The Hub's refs/convert/parquet branch: `default/<split>/0000.parquet`, no dataset card;
    datasets reads the split names from the folder names."""
    from datasets import Dataset

    from xltransfer.demo.hub_layout import features_of, quiet_progress

    for split, rows in splits.items():
        data = {name: [row[name] for row in rows] for name, _ in columns}
        path = repo / "default" / split / "0000.parquet"
        path.parent.mkdir(parents=True)
        with quiet_progress():
            Dataset.from_dict(data, features=features_of(columns)).to_parquet(str(path))
    return repo


def hellaswag_row(i: int, label: str) -> dict:
    ctx_a, ctx_b = f"a man {i} stands on a roof.", "he"
    return {
        "ind": i,
        "activity_label": "Roof shingle removal",
        "ctx_a": ctx_a,
        "ctx_b": ctx_b,
        "ctx": f"{ctx_a} {ctx_b}",
        "endings": [f"ending {i}-{k}" for k in range(4)],
        "source_id": f"activitynet~v_{i}",
        "split": "val",
        "split_type": "indomain",
        "label": label,
    }


def cosmos_row(i: int, label: int) -> dict:
    answers = {f"answer{k}": f"answer {i}-{k}" for k in range(4)}
    context = f"blog post {i}"
    return {"id": f"c{i}", "context": context, "question": f"why {i}?", **answers, "label": label}


def csqa_row(i: int, key: str, names=("A", "B", "C", "D", "E")) -> dict:
    choices = {"label": list(names), "text": [f"choice {i}-{n}" for n in names]}
    return {
        "id": f"q{i}",
        "question": f"where is thing {i}?",
        "question_concept": "thing",
        "choices": choices,
        "answerKey": key,
    }


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> dict[str, str]:
    """Hub-shaped folders with the real test-split quirks: "" and -1 for a missing gold label.
    HellaSwag and CommonsenseQA as their main branches hold them (a card declaring the data/
    shards), CosmosQA as the auto-converted Parquet branch the registry pins."""
    root = tmp_path_factory.mktemp("mc-hub")
    hellaswag = {
        "train": [hellaswag_row(i, str(i % 4)) for i in range(4)],
        "validation": [hellaswag_row(10 + i, "3") for i in range(2)],
        "test": [hellaswag_row(20, "")],
    }
    cosmos = {
        "train": [cosmos_row(i, i % 4) for i in range(4)],
        "validation": [cosmos_row(10, 2)],
        "test": [cosmos_row(20, -1)],
    }
    csqa = {
        "train": [csqa_row(i, "ABCDE"[i]) for i in range(5)],
        "validation": [csqa_row(10, "E")],
        "test": [csqa_row(20, "")],
    }
    return {
        "hellaswag": str(write_repo(root / "hellaswag", HELLASWAG, hellaswag, "Rowan/hellaswag")),
        "cosmos_qa": str(write_converted_repo(root / "cosmos_qa", COSMOS, cosmos)),
        "commonsense_qa": str(write_repo(root / "csqa", CSQA, csqa, "tau/commonsense_qa")),
    }


def registry_task(name: str, dataset: str, **changes) -> TaskSpec:
    entry = {**REGISTRY[name], "dataset": dataset, "revision": None, **changes}
    return TaskSpec.from_config(name, entry)


def load(task: TaskSpec, role: str) -> pd.DataFrame:
    return standardize(task, load_split(task, "en", role), "en", role)


def test_hellaswag_loads_with_string_labels(hub):
    task = registry_task("hellaswag", hub["hellaswag"])
    frame = load(task, "train")
    assert frame["label"].tolist() == [0, 1, 2, 3]  # "0".."3" through the registry's labels
    assert frame.loc[1, "text_a"] == "a man 1 stands on a roof. he"
    assert frame.loc[1, "text_b"] is None
    assert frame.loc[1, CHOICES] == ["ending 1-0", "ending 1-1", "ending 1-2", "ending 1-3"]


def test_cosmos_qa_loads_answer_columns_and_question(hub):
    task = registry_task("cosmos_qa", hub["cosmos_qa"])
    frame = load(task, "dev")
    assert frame.to_dict("records") == [
        {
            "text_a": "blog post 10",
            "text_b": "why 10?",
            "label": 2,
            CHOICES: ["answer 10-0", "answer 10-1", "answer 10-2", "answer 10-3"],
        }
    ]


def test_commonsense_qa_loads_struct_choices_and_letter_keys(hub):
    task = registry_task("commonsense_qa", hub["commonsense_qa"])
    frame = load(task, "train")
    assert frame["label"].tolist() == [0, 1, 2, 3, 4]
    assert frame.loc[4, CHOICES] == [f"choice 4-{n}" for n in "ABCDE"]
    assert frame.loc[4, "text_a"] == "where is thing 4?"


@pytest.mark.parametrize(
    ("name", "label"), [("hellaswag", "''"), ("cosmos_qa", "-1"), ("commonsense_qa", "''")]
)
def test_an_unlabelled_row_is_refused_by_dataset_split_and_row(hub, name, label):
    # Point the dev role at the unlabelled test split, as a misconfigured registry would.
    task = registry_task(name, hub[name], splits={"train": "train", "dev": "test", "test": "test"})
    pattern = rf"{hub[name]}'.*split 'test'\) row 0: unlabelled \(label {label}"
    with pytest.raises(DatasetError, match=pattern):
        load(task, "dev")


def test_a_label_outside_the_set_is_refused(hub, tmp_path):
    rows = [csqa_row(0, "A"), csqa_row(1, "F")]
    repo = write_repo(tmp_path / "bad", CSQA, {"train": rows}, "tau/commonsense_qa")
    task = registry_task("commonsense_qa", str(repo))
    with pytest.raises(DatasetError, match=r"split 'train'\) row 1: label 'F' is outside"):
        load(task, "train")


def test_reordered_choice_labels_are_refused(hub, tmp_path):
    rows = [csqa_row(0, "A"), csqa_row(1, "A", names="BACDE")]
    repo = write_repo(tmp_path / "bad", CSQA, {"train": rows}, "tau/commonsense_qa")
    task = registry_task("commonsense_qa", str(repo))
    with pytest.raises(DatasetError, match=r"row 1: choice labels \['B', 'A'"):
        load(task, "train")


def test_a_wrong_number_of_choices_is_refused(hub):
    task = registry_task("hellaswag", hub["hellaswag"], labels=["0", "1", "2", "3", "4"])
    with pytest.raises(DatasetError, match=r"split 'train'\) row 0: 4 choices, but"):
        load(task, "train")


def test_a_missing_column_is_named(hub):
    columns = {**REGISTRY["cosmos_qa"]["columns"], "choices": ["answer0", "answer1", "answer9"]}
    task = registry_task("cosmos_qa", hub["cosmos_qa"], columns=columns)
    with pytest.raises(DatasetError, match=r"split 'train'\): missing column\(s\) \['answer9'\]"):
        load(task, "train")


def test_a_missing_struct_field_is_named(hub):
    columns = {**REGISTRY["commonsense_qa"]["columns"], "choices": "choices.txt"}
    task = registry_task("commonsense_qa", hub["commonsense_qa"], columns=columns)
    with pytest.raises(DatasetError, match=r"column 'choices' has no field 'txt'.*columns.choices"):
        load(task, "train")


def test_an_empty_split_is_refused(tmp_path):
    from datasets import Dataset

    from xltransfer.demo.hub_layout import features_of

    repo = write_repo(tmp_path / "empty", HELLASWAG, {"train": []}, "Rowan/hellaswag")
    task = registry_task("hellaswag", str(repo))
    # The shard is read as it is (0 rows); standardising refuses it, naming dataset and split.
    refused = rf"dataset '{repo}' .* split 'train'\): the split is empty"
    with pytest.raises(DatasetError, match=refused):
        load(task, "train")
    empty = Dataset.from_dict({name: [] for name, _ in HELLASWAG}, features=features_of(HELLASWAG))
    with pytest.raises(DatasetError, match=rf"'{repo}' .*split 'train'\): the split is empty"):
        standardize(task, empty, "en", "train")


def test_registry_entries_pass_the_schema_and_config_checks():
    from snakemake.utils import validate

    from xltransfer.config import ConfigError, check_config

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["tasks"].update(copy.deepcopy(REGISTRY))  # tests edit entries
    config["experiment"]["sources"] += list(REGISTRY)
    schema = str(REPO / "workflow" / "schemas" / "config.schema.yaml")
    validate(config, schema)
    check_config(config)
    del config["tasks"]["hellaswag"]["columns"]["choices"]
    with pytest.raises(ConfigError, match=r"tasks.hellaswag.columns: .* needs \['choices'\]"):
        check_config(config)


# A learnable toy task that needs the context: every example offers "big" and "small" among its
# four choices; the gold one is "big" after "sees" and "small" after "does not see". Reading the
# choices alone gets at most 0.5, chance is 0.25.
def toy_choices(n: int, seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        options = ["big", "small", *rng.sample(["red", "old", "cat", "bird"], 2)]
        rng.shuffle(options)
        negated = rng.random() < 0.5
        rows.append(
            {
                "text_a": "the dog does not see a" if negated else "the dog sees a",
                "text_b": None,
                "label": options.index("small" if negated else "big"),
                CHOICES: options,
            }
        )
    return pd.DataFrame(rows)


MC = TaskHead(task="toy_mc", head="multiple_choice", labels=("0", "1", "2", "3"), metric="accuracy")
PAIR = TaskHead(task="toy", head="classification", labels=("different", "same"), metric="accuracy")


@pytest.fixture(scope="module")
def mc_source(tiny_model_dir, tmp_path_factory):
    """A trained toy multiple-choice checkpoint, its training state and its train frame."""
    from xltransfer.training.loop import run_finetune

    folder = tmp_path_factory.mktemp("mc")
    files = {}
    for role, (n, seed) in {"train": (320, 0), "dev": (80, 1)}.items():
        files[role] = folder / f"{role}.parquet"
        toy_choices(n, seed).to_parquet(files[role])
    hp = dataclasses.replace(HP, epochs=3, learning_rate=3e-3, max_length=16)
    spec = FinetuneSpec(
        model="tiny",
        init_model=str(tiny_model_dir),
        revision=None,
        init_checkpoint=None,
        task=MC,
        train_file=str(files["train"]),
        dev_file=str(files["dev"]),
        seed=0,
        hyperparameters=hp,
    )
    state = run_finetune(spec, folder / "model")
    return folder / "model", state, pd.read_parquet(files["train"])


def test_encoding_pairs_the_context_with_each_choice(tiny_model_dir):
    from xltransfer.kinds import get_kind
    from xltransfer.models.factory import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_model_dir))
    frame = toy_choices(3, 0).assign(text_b=["the", None, None])  # one row with a question
    kind = get_kind("multiple_choice")
    examples = kind.encode(frame, tokenizer, 16)
    for row, second in ((0, f"the {frame.loc[0, CHOICES][2]}"), (1, frame.loc[1, CHOICES][2])):
        expected = tokenizer(frame.loc[row, "text_a"], second, truncation=True, max_length=16)
        assert examples[row]["input_ids"][2] == expected["input_ids"]
    assert examples[0]["labels"] == frame.loc[0, "label"]
    loader = kind.loader(examples, tokenizer, 3, shuffle=False, seed=0)
    batch = next(iter(loader))
    assert batch["input_ids"].shape[:2] == (3, 4)
    assert batch["labels"].tolist() == frame["label"].tolist()


def test_choice_head_trains_well_above_chance(mc_source):
    _, state, _ = mc_source
    assert state.best_score > 0.9  # chance 0.25; the choices alone 0.5
    assert len(state.history) == 3 and all("accuracy" in epoch for epoch in state.history)


def test_choice_source_passes_its_encoder_to_a_classifier(mc_source, tiny_model_dir):
    from transformers import AutoModelForMultipleChoice, set_seed

    from xltransfer.models.factory import build_classifier, checkpoint_head_class

    checkpoint, _, _ = mc_source
    assert checkpoint_head_class(str(checkpoint)) is AutoModelForMultipleChoice
    trained = AutoModelForMultipleChoice.from_pretrained(checkpoint).base_model.state_dict()
    set_seed(7)
    model, carried = build_classifier(str(tiny_model_dir), None, PAIR, str(checkpoint))
    set_seed(7)
    baseline, _ = build_classifier(str(tiny_model_dir), None, PAIR, None)
    assert not carried
    encoder = model.base_model.state_dict()
    assert set(trained) - set(encoder) == {"pooler.dense.weight", "pooler.dense.bias"}
    for name, value in encoder.items():
        assert torch.equal(value, trained[name]), name
    # The trained encoder differs from the pretrained one, so the equality above means something.
    assert not torch.equal(
        encoder["embeddings.word_embeddings.weight"],
        baseline.base_model.state_dict()["embeddings.word_embeddings.weight"],
    )
    for name, value in model.classifier.state_dict().items():
        assert torch.equal(value, baseline.classifier.state_dict()[name]), name


def test_a_choice_head_carries_over_between_choice_tasks(mc_source, tiny_model_dir):
    from transformers import AutoModelForMultipleChoice

    from xltransfer.models.factory import build_classifier

    checkpoint, _, _ = mc_source
    five_way = dataclasses.replace(MC, task="csqa", labels=tuple("ABCDE"))
    model, carried = build_classifier(str(tiny_model_dir), None, five_way, str(checkpoint))
    trained = AutoModelForMultipleChoice.from_pretrained(checkpoint)
    assert carried
    assert torch.equal(model.classifier.weight, trained.classifier.weight)


def test_text_and_task_embeddings_of_a_choice_task_are_finite(mc_source, tiny_model_dir):
    from xltransfer.kinds import get_kind
    from xltransfer.similarity.embeddings import head_input_probe_embedding, text_embedding
    from xltransfer.similarity.task_fisher import fisher_components

    checkpoint, _, train = mc_source
    kind = get_kind("multiple_choice")
    small = {"n_examples": 40, "max_length": 16}
    vectors = {
        "textemb": text_embedding(str(tiny_model_dir), train, kind=kind, **small),
        "probe": head_input_probe_embedding(str(tiny_model_dir), train, kind=kind, **small),
    }
    components = fisher_components(str(checkpoint), train, **small)
    assert {"layer00.attention", "layer00.output"} <= set(components)
    vectors |= {f"fine_tuned {name}": vector for name, vector in components.items()}
    for name, vector in vectors.items():
        assert vector.shape == (32,), name
        assert np.isfinite(vector).all() and np.abs(vector).sum() > 0, name
    assert all((vector >= 0).all() for name, vector in vectors.items() if name != "textemb")


def test_the_choice_probe_recovers_a_planted_scorer():
    from xltransfer.kinds.multiple_choice import choice_head_gradients, fit_choice_head

    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 4, 3))
    true_w = np.array([3.0, 0.0, -2.0])
    scores = features @ true_w + rng.gumbel(size=(400, 4))
    gold = scores.argmax(1)  # conditional-logit choices under true_w
    w = fit_choice_head(features, gold)
    assert np.corrcoef(w, true_w)[0, 1] > 0.98
    gradients = choice_head_gradients(features, gold)
    assert gradients.shape == (1600, 3)
    # The gradients of each example's choices sum to zero: the softmax residuals do.
    assert np.allclose(gradients.reshape(400, 4, 3).sum(1), 0)


def test_vocabulary_overlap_reads_the_choices(tmp_path):
    from xltransfer.jobs import vocabulary_similarity

    mc = pd.DataFrame(
        {"text_a": ["zebra runs"], "text_b": [None], "label": [0], CHOICES: [["quokka", "yak"]]}
    )
    plain = pd.DataFrame({"text_a": ["quokka yak"], "text_b": [None], "label": [0]})
    paths = {"mc": tmp_path / "mc.parquet", "plain": tmp_path / "plain.parquet"}
    mc.to_parquet(paths["mc"])
    plain.to_parquet(paths["plain"])
    heads = {"mc": "multiple_choice", "plain": "classification"}
    output = tmp_path / "v.parquet"
    frame = vocabulary_similarity(paths, 10, ["m"], ["mc"], ["plain"], output, heads)
    assert frame["value"].iloc[0] == pytest.approx(2 / 4)  # {quokka, yak} of 4 word types


def test_a_classifier_source_passes_its_encoder_to_a_choice_target(
    tiny_model_dir, toy_splits, tmp_path
):
    from test_train import make_spec
    from transformers import AutoModelForSequenceClassification

    from xltransfer.models.factory import build_classifier
    from xltransfer.training.loop import run_finetune

    source = tmp_path / "source"
    run_finetune(make_spec(tiny_model_dir, toy_splits), source)
    trained = AutoModelForSequenceClassification.from_pretrained(source).base_model.state_dict()
    model, carried = build_classifier(str(tiny_model_dir), None, MC, str(source))
    assert not carried
    encoder = model.base_model.state_dict()
    # The choice head's pooler has no counterpart in the source: it keeps its own weights.
    assert set(encoder) - set(trained) == {"pooler.dense.weight", "pooler.dense.bias"}
    for name, value in trained.items():
        assert torch.equal(value, encoder[name]), name
