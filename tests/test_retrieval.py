"""Retrieval targets: metrics with known answers, cross-fit alignment, the google/xtreme layout,
the config checks and the grid arithmetic."""

from __future__ import annotations

import copy
import json

import hub_fixtures
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, write_hub_repo
from scipy.stats import special_ortho_group
from snakemake.utils import validate

from xltransfer.analysis.gains import compute_gains
from xltransfer.config import ConfigError, Grid, check_config, expected_job_counts
from xltransfer.data.load import load_split, standardize
from xltransfer.data.tasks import TaskSpec
from xltransfer.evaluation.alignment import add_alignment_gains, cross_fit_alignment, fold_ids
from xltransfer.evaluation.retrieval import (
    EmbeddedPairs,
    Proposals,
    RetrievalSetup,
    candidate_index,
    cosine_matrix,
    evaluate_retrieval_shard,
    language_scores,
    margin_matrix,
    pretrained_summary,
    retrieval_accuracy,
)
from xltransfer.kinds.retrieval import Retrieval

SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")
XTREME_TASKS = {
    name: entry
    for name, entry in yaml.safe_load((REPO / "config" / "xtreme.yaml").read_text())[
        "tasks"
    ].items()
    if name in ("tatoeba", "bucc")
}


def retrieval_config() -> dict:
    config = yaml.safe_load((REPO / "tests" / "configs" / "retrieval.yaml").read_text())
    validate(config, SCHEMA)
    return config


# ---- metrics -------------------------------------------------------------------------------


def test_identity_pairs_retrieve_perfectly():
    vectors = np.random.default_rng(0).normal(size=(50, 8))
    assert retrieval_accuracy(vectors, vectors) == 1.0


def test_a_planted_permutation_is_found_and_scored_by_its_fixed_points():
    rng = np.random.default_rng(1)
    queries = rng.normal(size=(40, 8))
    permutation = rng.permutation(40)
    candidates = queries[permutation] + rng.normal(scale=1e-3, size=(40, 8))
    # Candidate j is query permutation[j], so query i's translation is where permutation == i.
    gold = np.argsort(permutation)
    assert retrieval_accuracy(queries, candidates, gold) == 1.0
    fixed = np.mean(permutation == np.arange(40))
    assert retrieval_accuracy(queries, candidates) == pytest.approx(fixed)
    assert fixed < 0.2  # the row order alone is no answer


def test_duplicate_translations_are_one_candidate():
    unique, gold = candidate_index(["a cat", "a dog", "a cat", "the end"])
    assert unique == ["a cat", "a dog", "the end"]
    assert gold.tolist() == [0, 1, 0, 2]


def test_ratio_margin_by_hand():
    queries = np.array([[1.0, 0.0], [0.0, 1.0]])
    candidates = np.array([[1.0, 0.0], [1.0, 1.0]])
    # cos: q1-c1 1, q1-c2 1/√2, q2-c1 0, q2-c2 1/√2; k = 1: knn(q1) 1, knn(q2) 1/√2,
    # knn(c1) 1, knn(c2) 1/√2.
    r = 1 / np.sqrt(2)
    expected = [[1 / 1, r / ((1 + r) / 2)], [0.0, r / r]]
    np.testing.assert_allclose(margin_matrix(queries, candidates, k=1), expected)


def test_margin_discounts_a_hub_that_cosine_prefers():
    # Candidate 4 is a hub close to every query; query 0's translation is close to it alone.
    queries = np.eye(4)
    candidates = np.array(
        [[0.4, -0.3, -0.3, -0.3], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1.5, 1, 1, 1]]
    )
    assert cosine_matrix(queries, candidates)[0].argmax() == 4  # cosine picks the hub
    assert margin_matrix(queries, candidates, k=2)[0].argmax() == 0


def test_mining_f1_and_the_dev_threshold_on_a_handmade_example():
    proposals = Proposals(np.array([0.9, 0.8, 0.7, 0.6]), np.array([True, True, False, True]))
    # Keep 0.8 and up: 2 kept, both right: P 1, R 2/4, F1 2/3.
    assert proposals.prf(0.8) == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3})
    # F1 at each cut: 0.4, 0.667, 0.571, 0.75: the best keeps everything.
    assert proposals.best_threshold() == 0.6
    assert proposals.prf(0.6)["f1"] == pytest.approx(0.75)
    assert proposals.prf(1.0) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    # A tie is kept or dropped as a whole: cutting inside it would count half of it.
    tied = Proposals(np.array([0.9, 0.5, 0.5, 0.1]), np.array([True, False, False, True]))
    assert tied.best_threshold() == 0.1  # F1 at 0.9: 0.4, at 0.5: 1/3, at 0.1: 0.5


def test_mining_keeps_the_right_pairs_and_the_threshold_comes_from_dev():
    rng = np.random.default_rng(2)
    english = rng.normal(size=(30, 6))
    right = EmbeddedPairs(english + rng.normal(scale=0.01, size=(30, 6)), english, np.arange(30))
    setup = RetrievalSetup(mine=True, margin_k=3, alignment="none")
    scores = language_scores(right, right, setup)
    assert scores == pytest.approx({"accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0})
    # Scrambled test pairs: all wrong, whatever the threshold.
    wrong = EmbeddedPairs(right.foreign, english, np.roll(np.arange(30), 1))
    assert language_scores(wrong, right, setup)["f1"] == 0.0
    with pytest.raises(ValueError, match="dev split"):
        language_scores(right, None, setup)
    with pytest.raises(ValueError, match="one candidate index"):
        retrieval_accuracy(english, english, np.arange(29))


# ---- alignment -----------------------------------------------------------------------------


def rotated(n: int = 200, d: int = 12, noise: float = 0.05, seed: int = 0) -> EmbeddedPairs:
    """A foreign language that is English rotated by a random R, plus noise."""
    rng = np.random.default_rng(seed)
    english = rng.normal(size=(n, d))
    rotation = special_ortho_group.rvs(d, random_state=seed)
    foreign = english @ rotation + rng.normal(scale=noise, size=(n, d))
    return EmbeddedPairs(foreign, english, np.arange(n))


@pytest.mark.parametrize("method", ["procrustes", "least_squares"])
def test_alignment_undoes_a_planted_rotation_before_retrieval(method):
    pairs = rotated()
    setup = RetrievalSetup(mine=False, alignment=method, folds=2)
    scores = language_scores(pairs, None, setup)
    assert scores["accuracy"] < 0.1  # a rotated space retrieves near chance
    assert scores["accuracy_aligned"] == 1.0


def test_cross_fit_never_uses_a_row_own_translation():
    pairs = rotated(n=60, d=4)
    folds = fold_ids(60, 3, seed=5)
    before = cross_fit_alignment(pairs.foreign, pairs.english, "least_squares", folds=3, seed=5)
    changed = pairs.english.copy()
    row = int(np.flatnonzero(folds == 0)[0])
    changed[row] += 100.0  # corrupt one row's translation
    after = cross_fit_alignment(pairs.foreign, changed, "least_squares", folds=3, seed=5)
    np.testing.assert_array_equal(after[folds == 0], before[folds == 0])
    assert not np.allclose(after[folds != 0], before[folds != 0])  # the others fit on it


def test_folds_are_balanced_and_keep_groups_together():
    folds = fold_ids(10, 2, seed=0)
    assert sorted(np.bincount(folds)) == [5, 5]
    groups = np.repeat(np.arange(6), 2)  # the two sentences of each of 6 pairs
    grouped = fold_ids(12, 3, seed=1, groups=groups)
    assert (grouped[0::2] == grouped[1::2]).all()
    with pytest.raises(ValueError, match="cannot fill 4 folds"):
        fold_ids(3, 4)
    with pytest.raises(ValueError, match="at least 2 folds"):
        fold_ids(3, 1)


def score_table(rows):
    keys = ["model", "source", "target", "language", "seed", "metric", "value"]
    frame = pd.DataFrame([dict(zip(keys, row, strict=True)) for row in rows])
    return frame.assign(primary=frame["metric"] == "accuracy")


def test_alignment_gain_columns_compare_each_run_with_its_own_plain_score():
    scores = score_table(
        [
            ("m", "none", "tatoeba", "de", 1, "accuracy", 0.50),
            ("m", "none", "tatoeba", "de", 1, "accuracy_aligned", 0.70),
            ("m", "mnli", "tatoeba", "de", 1, "accuracy", 0.55),
            ("m", "mnli", "tatoeba", "de", 1, "accuracy_aligned", 0.65),
            ("m", "none", "xnli", "de", 1, "accuracy", 0.40),
            ("m", "mnli", "xnli", "de", 1, "accuracy", 0.45),
        ]
    )
    gains = add_alignment_gains(compute_gains(scores), scores).set_index(["target", "metric"])
    aligned = gains.loc[("tatoeba", "accuracy_aligned")]
    assert aligned["gain"] == pytest.approx(-0.05)  # 0.65 - 0.70: against the aligned baseline
    assert aligned["alignment_gain"] == pytest.approx(0.10)  # 0.65 - 0.55
    assert aligned["baseline_alignment_gain"] == pytest.approx(0.20)  # 0.70 - 0.50
    assert np.isnan(gains.loc[("tatoeba", "accuracy"), "alignment_gain"])
    assert np.isnan(gains.loc[("xnli", "accuracy"), "baseline_alignment_gain"])


# ---- similarity of a retrieval task --------------------------------------------------------


def test_similarity_reads_the_english_side_and_taskemb_probes_the_pairing():
    frame = pd.DataFrame(
        {"text_a": ["ein", "zwei", "drei"], "text_b": ["one", "two", "three"], "label": 1.0}
    )
    english, kind = Retrieval().similarity_view(frame, "textemb")
    assert english["text_a"].tolist() == ["one", "two", "three"] and kind.name == "regression"
    assert english["text_b"].isna().all()
    probe, kind = Retrieval().similarity_view(frame, "taskemb", seed=3)
    assert kind.name == "classification" and probe["label"].tolist() == [1, 1, 1, 0, 0, 0]
    gold = dict(zip(frame["text_a"], frame["text_b"], strict=True))
    negatives = probe.loc[probe["label"] == 0]
    assert all(gold[a] != b for a, b in zip(negatives["text_a"], negatives["text_b"], strict=True))


# ---- the google/xtreme layout --------------------------------------------------------------


def test_xtreme_tatoeba_and_bucc_load_through_the_production_path(tmp_path):
    repo = hub_fixtures.xtreme(tmp_path / "google__xtreme")
    tasks = {name: {**entry, "dataset": str(repo)} for name, entry in XTREME_TASKS.items()}
    tatoeba = TaskSpec.from_config("tatoeba", tasks["tatoeba"])
    german = standardize(tatoeba, load_split(tatoeba, "de", "test"), "de", "test")
    # The file lines' newlines go; the foreign side is text_a.
    assert german["text_a"].tolist() == ["Ich habe Hunger.", "Wo ist der Bahnhof?"]
    assert german["text_b"].tolist() == ["I am hungry.", "Where is the station?"]
    assert (german["label"] == 1.0).all()
    bucc = TaskSpec.from_config("bucc", tasks["bucc"])
    assert bucc.retrieval.layer == 8 and bucc.mines_pairs
    dev, test = (standardize(bucc, load_split(bucc, "de", r), "de", r) for r in ("dev", "test"))
    assert dev["text_b"].tolist()[2] == "Sentence 2 of the news."
    assert test["text_a"].tolist()[0] == "Satz 100 der Nachrichten."  # test is its own split


def test_an_empty_sentence_is_refused_naming_the_row(tmp_path):
    rows = {
        "tatoeba.deu": {
            "validation": [
                {"source_sentence": "Ja.\n", "target_sentence": "Yes.\n"},
                {"source_sentence": "\n", "target_sentence": "No.\n"},
            ]
        }
    }
    columns = hub_fixtures.BITEXT[:2]
    repo = write_hub_repo(tmp_path / "xtreme", columns, rows, "x", "g/x")
    task = TaskSpec.from_config("tatoeba", {**XTREME_TASKS["tatoeba"], "dataset": str(repo)})
    with pytest.raises(ValueError, match="row 1: an empty sentence in text_a"):
        standardize(task, load_split(task, "de", "test"), "de", "test")


def test_the_xtreme_registry_entries_pass_the_schema_and_the_cross_checks():
    config = retrieval_config()
    config["tasks"].update(copy.deepcopy(XTREME_TASKS))
    config["experiment"]["targets"] = ["xnli", "tatoeba", "bucc"]
    validate(config, SCHEMA)
    check_config(config)
    grid = Grid.from_config(config)
    assert grid.retrieval_roles == {"tatoeba": ("test",), "bucc": ("dev", "test")}
    # 3 runs (none, mnli, sst2); one shard per target.
    assert grid.job_counts()["evaluate_retrieval"] == 3 * 2
    assert ("bucc", "zh", "dev") in grid.data_needs()
    assert not any(task == "tatoeba" and role == "train" for task, _, role in grid.data_needs())


# ---- config checks and grid ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["experiment"]["sources"].append("tatoeba"),
            "experiment.sources: 'tatoeba' is a retrieval task",
        ),
        (
            lambda c: c["tasks"]["tatoeba"].update(metric="f1"),
            "tasks.tatoeba.splits: mining F1 chooses its threshold on the dev split",
        ),
        (
            lambda c: c["tasks"]["tatoeba"]["columns"].pop("text_b"),
            "tasks.tatoeba.columns: a retrieval task needs text_a",
        ),
        (
            lambda c: c["tasks"]["tatoeba"].update(metric="pearson"),
            "tasks.tatoeba.metric: 'pearson' does not fit task type 'retrieval'",
        ),
        (
            # Only the retrieval target: no target has a head for Vu et al.'s TaskEmb.
            lambda c: c.update(
                similarity={"taskemb_model": "fine_tuned"},
                experiment={**c["experiment"], "targets": ["tatoeba"]},
            ),
            "similarity.taskemb_model: 'fine_tuned' takes the Fisher at a fine-tuned task head, "
            "and no target of this grid has one",
        ),
        (
            lambda c: c["tasks"]["xnli"]["columns"].pop("label"),
            "tasks.xnli.columns: task type 'pair_classification' needs ['label']",
        ),
    ],
)
def test_inconsistent_retrieval_configs_are_refused(change, message):
    config = retrieval_config()
    change(config)
    validate(config, SCHEMA)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        check_config(config)


def test_a_retrieval_target_gets_no_target_training():
    config = retrieval_config()
    counts = expected_job_counts(config)
    # 3 runs (none, mnli, sst2): xnli is trained per run, tatoeba only evaluated.
    assert counts["train_target"] == 3 and counts["evaluate"] == 3
    assert counts["evaluate_retrieval"] == 3 and counts["transfer_gap"] == 1
    config["experiment"]["targets"] = ["tatoeba"]
    counts = expected_job_counts(config)
    assert "train_target" not in counts and "evaluate" not in counts
    assert "transfer_gap" not in counts  # no target-only baseline has an English score
    config["experiment"]["languages_per_job"] = 1
    assert expected_job_counts(config)["evaluate_retrieval"] == 3 * 2


# ---- the encoder -------------------------------------------------------------------------


def test_a_shard_scores_a_pretrained_encoder_with_provenance(tiny_model_dir, tmp_path):
    words = "the a dog cat bird sees likes follows red big small old".split()
    rng = np.random.default_rng(0)
    english = [" ".join(rng.choice(words, size=5)) for _ in range(24)]
    frame = pd.DataFrame({"text_a": english, "text_b": english, "label": 1.0})
    frame.to_parquet(tmp_path / "test.parquet")
    rows = evaluate_retrieval_shard(
        tiny_model_dir,
        {"xx": {"test": tmp_path / "test.parquet"}},
        context={"run": "r", "model": "tiny", "source": "none", "target": "t", "seed": 1},
        summary=pretrained_summary(str(tiny_model_dir), None),
        setup=RetrievalSetup(mine=False, alignment="procrustes"),
        layer=-1,
        primary_metric="accuracy",
        max_length=16,
        batch_size=8,
    ).set_index("metric")
    # Identical sides: every (unique) sentence retrieves itself, aligned or not.
    assert rows.loc["accuracy", "value"] == 1.0 and rows.loc["accuracy", "primary"]
    assert rows.loc["accuracy_aligned", "value"] > 0.5
    assert not rows.loc["accuracy_aligned", "primary"]
    assert rows.loc["accuracy", "model_path"] == str(tiny_model_dir)
    assert rows.loc["accuracy", "hyperparameters"] == "{}"
    assert rows.loc["accuracy", "n_examples"] == 24
    assert json.loads(rows.loc["accuracy", "retrieval"])["alignment"] == "procrustes"


def test_the_embedding_layer_is_selectable(tiny_model_dir):
    from xltransfer.similarity.embeddings import frozen_encoder, pool_states

    tokenizer, encoder = frozen_encoder(str(tiny_model_dir))
    frame = pd.DataFrame({"text_a": ["the dog sees a cat", "a red bird"], "text_b": None})
    final = pool_states(tokenizer, encoder, frame, max_length=16)
    np.testing.assert_allclose(pool_states(tokenizer, encoder, frame, layer=-1), final)
    np.testing.assert_allclose(pool_states(tokenizer, encoder, frame, layer=1), final)
    assert not np.allclose(pool_states(tokenizer, encoder, frame, layer=0), final)
    with pytest.raises(ValueError, match="layer 8 does not exist in an encoder of 1 layers"):
        pool_states(tokenizer, encoder, frame, layer=8)


def test_similarity_jobs_read_a_retrieval_target_by_its_english_side(tmp_path, tiny_model_dir):
    from xltransfer.jobs import compare_task_embeddings, task_embedding, vocabulary_similarity

    source = pd.DataFrame({"text_a": ["the dog sees a cat", "the cat likes a bird"] * 2})
    source = source.assign(text_b=None, label=[0, 1, 0, 1])
    pairs = pd.DataFrame(
        {
            "text_a": ["zor bak lim", "vek tal mun", "zor vek", "bak lim tal"],
            "text_b": ["the dog sees", "a cat likes", "the bird", "a dog follows"],
            "label": 1.0,
        }
    )
    files = {"src": tmp_path / "src.parquet", "tatoeba": tmp_path / "tatoeba.parquet"}
    source.to_parquet(files["src"])
    pairs.to_parquet(files["tatoeba"])
    heads = {"src": "classification", "tatoeba": "retrieval"}
    grid = (["m"], ["src"], ["tatoeba"])
    overlap = vocabulary_similarity(files, 50, *grid, tmp_path / "v.parquet", heads)
    # English sides only (one-letter words are not tokens): the source's 6 word types are all
    # among the target's 7; with the foreign words the union would hold 7 more.
    english = {"the", "dog", "sees", "cat", "likes", "bird", "follows"}
    assert overlap["value"].item() == pytest.approx(6 / len(english))
    settings = {"examples": 10, "max_length": 16, "seed": 0, "taskemb_model": "task2vec"}
    settings |= {"taskemb_labels": "gold", "taskemb_estimator": "per_example"}
    settings |= {"taskemb_combine": "rrf", "textemb_centre": True}
    settings |= {"textemb_all_examples": False, "textemb_qa_windows": True}
    values = {}
    for method in ("textemb", "taskemb", "task2vec"):
        vectors = []
        for task, head in heads.items():
            vectors.append(tmp_path / f"{method}-{task}.parquet")
            model = str(tiny_model_dir)
            task_embedding(method, "m", model, task, files[task], head, settings, vectors[-1])
        outputs = {"similarity": tmp_path / f"{method}.parquet", "vectors": tmp_path / "v.pq"}
        table = compare_task_embeddings(method, vectors, ["src"], ["tatoeba"], settings, outputs)
        assert np.isfinite(table["value"]).all() and len(table) == 1
        assert set(table["method"]) == {method}
        values[method] = table["value"].item()
    # The task2vec method is TaskEmb under taskemb_model task2vec, as its own method.
    assert values["task2vec"] == values["taskemb"]
