"""The embedded default, run end to end by Snakemake, must recover the planted structure.

One run of `config/config.yaml` (a few minutes on 2 cores) feeds every test here: the outputs
exist and are consistent, and the known answers hold: English above chance, zero-shot scores
falling with lexical overlap, and the near-copy source task helping more than the unrelated one.
"""

from __future__ import annotations

import json
import subprocess

import pandas as pd
import pytest
from scipy.stats import spearmanr
from test_workflow import SNAKEMAKE, default_config, workflow_copy

pytestmark = pytest.mark.workflow
# Chance level of each target's primary metric. NER entity F1 is zero for a tagger that finds no
# entity; for QA, a random one- or two-word span of the paragraph scores F1 0.078 on the demo's
# XQuAD (a random name of the paragraph 0.144).
CHANCE = {"xnli": 1 / 3, "stsb_multi_mt": 0.0, "sentiment": 1 / 3, "panx": 0.0, "xquad": 0.08}
NEAR_COPY = {
    "xnli": "mnli",
    "stsb_multi_mt": "stsb",
    "sentiment": "sst2",
    "panx": "conll2003",
    "xquad": "squad",
}
UNRELATED = "ag_news"
SOURCES = 7


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = workflow_copy(tmp_path_factory.mktemp("e2e"))
    result = subprocess.run(
        [*SNAKEMAKE, "--cores", "2"], cwd=folder, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


@pytest.fixture(scope="module")
def scores(run) -> pd.DataFrame:
    table = pd.read_parquet(run / "results" / "demo" / "scores.parquet")
    return table[table["primary"]]


@pytest.fixture(scope="module")
def overlap() -> dict[str, float]:
    languages = default_config()["demo_benchmark"]["languages"]
    return {"en": 1.0, **{code: spec["overlap"] for code, spec in languages.items()}}


def test_outputs_and_provenance(run, scores):
    results = run / "results" / "demo"
    names = ["gains.parquet", "correlations.parquet", "similarity.parquet", "headline.txt"]
    for name in names + [
        "source_selection.parquet",
        "mixed_effects.parquet",
        "embeddings/taskemb.parquet",
    ]:
        assert (results / name).stat().st_size > 0, name
    for plot in ("gain_heatmap.png", "similarity_vs_gain.png"):
        assert (results / "plots" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # 8 runs (7 sources + none) x 5 targets x 6 languages.
    assert len(scores) == (SOURCES + 1) * len(CHANCE) * 6
    for column in (
        "model_path",
        "hyperparameters",
        "num_processes",
        "global_batch_size",
        "train_versions",
        "seed",
        "mixed_precision",
    ):
        assert scores[column].notna().all(), column
    assert (scores["num_processes"] == 1).all() and (scores["global_batch_size"] == 32).all()
    for column in ("train_versions", "eval_versions"):
        versions = scores[column].map(json.loads)
        for name in ("torch", "transformers", "accelerate", "xltransfer_commit"):
            assert versions.map(lambda v, name=name: bool(v.get(name))).all(), (column, name)
    # A rerun has nothing left to do.
    dry = subprocess.run(
        [*SNAKEMAKE, "-n", "--cores", "2"], cwd=run, capture_output=True, text=True, check=True
    )
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_english_is_above_chance(scores):
    english = scores[scores["language"] == "en"]
    for target, chance in CHANCE.items():
        values = english.loc[english["target"] == target, "value"]
        assert (values > chance + 0.1).all(), (target, values.tolist())


def test_zero_shot_falls_with_lexical_overlap(scores, overlap):
    # ov100 keeps every English word, so its score equals English's exactly.
    pivot = scores.pivot_table(index=["source", "target"], columns="language", values="value")
    assert (pivot["ov100"] - pivot["en"]).abs().max() < 1e-9
    mean = pivot.drop(columns="en").mean()
    rho = spearmanr([overlap[lang] for lang in mean.index], mean.to_numpy()).statistic
    assert rho > 0.5, mean.to_dict()
    assert mean["ov100"] > mean[["ov0", "cy0"]].mean() + 0.02, mean.to_dict()


@pytest.mark.parametrize("target", ["panx", "xquad"])
def test_new_targets_fall_with_lexical_overlap(scores, overlap, target):
    # Per target, not only pooled: names are copied, so NER and QA could have stayed flat.
    chosen = scores[(scores["target"] == target) & (scores["language"] != "en")]
    mean = chosen.groupby("language")["value"].mean()
    rho = spearmanr([overlap[lang] for lang in mean.index], mean.to_numpy()).statistic
    assert rho > 0.5, mean.to_dict()
    assert mean["ov100"] > mean[["ov0", "cy0"]].mean() + 0.05, mean.to_dict()


@pytest.mark.parametrize("target", sorted(NEAR_COPY))
def test_near_copy_source_gains_more_than_unrelated(run, target):
    gains = pd.read_parquet(run / "results" / "demo" / "gain_summary.parquet")
    by_pair = gains.set_index(["source", "target"])["gain_mean"]
    near = NEAR_COPY[target]
    assert by_pair[(near, target)] > by_pair[(UNRELATED, target)], by_pair.to_dict()


# Known misses, measured on the default run and kept as strict xfails, so a fix shows up.
# TaskEmb is the reference's batch estimator (sum over the batch, then square), whose fused
# rank scores (reciprocal ranks over 5 components) sit within 0.003 of each other here.
TASKEMB_MISSES = {
    "sentiment": pytest.mark.xfail(
        strict=True,
        reason="TaskEmb ranks sst2 sixth of seven for sentiment (squad 0.0640, ag_news 0.0628, "
        "stsb 0.0625, conll2003 0.0625, qqp 0.0624, sst2 0.0618, mnli 0.0618)",
    ),
}


def _similarity_cases() -> list:
    methods = ["taxonomy", "wu_palmer", "textemb", "taskemb"]
    return [
        pytest.param(
            method,
            target,
            marks=[TASKEMB_MISSES[target]]
            if method == "taskemb" and target in TASKEMB_MISSES
            else [],
        )
        for method in methods
        for target in sorted(NEAR_COPY)
    ]


@pytest.mark.parametrize(("method", "target"), _similarity_cases())
def test_every_similarity_method_finds_the_near_copy_source(run, method, target):
    similarity = pd.read_parquet(run / "results" / "demo" / "similarity.parquet")
    assert set(similarity["method"]) == {
        "taxonomy",
        "wu_palmer",
        "textemb",
        "taskemb",
        "vocab_overlap",
    }
    chosen = similarity[(similarity["method"] == method) & (similarity["target"] == target)]
    ranked = chosen.sort_values("value", ascending=False)
    assert ranked["source"].iloc[0] == NEAR_COPY[target], ranked.to_dict("records")
    assert ranked["value"].iloc[0] > ranked["value"].iloc[1], ranked.to_dict("records")


@pytest.mark.parametrize("target", sorted(NEAR_COPY))
def test_source_selection_beats_chance_with_the_taxonomy(run, target):
    table = pd.read_parquet(run / "results" / "demo" / "source_selection.parquet")
    top1 = table[(table["k"] == 1) & (table["candidates"] == "all")]
    top1 = top1.set_index(["target", "predictor"])
    assert top1.loc[(target, "taxonomy"), "ndcg"] > top1.loc[(target, "random"), "ndcg"]
    assert 0 <= top1.loc[(target, "taxonomy"), "regret"] <= top1.loc[(target, "random"), "regret"]


def test_answer_is_written_from_the_numbers(run):
    text = (run / "results" / "demo" / "answer.txt").read_text()
    assert text.startswith("Does task similarity predict the zero-shot transfer gain of tiny-xlmr?")
    for name in ("Taxonomy", "TextEmb", "TaskEmb"):
        assert f"{name} similarity" in text


def test_the_answer_finds_the_planted_relation(run):
    """With 400 target examples what a source taught matters, and the data-driven methods that
    see the planted near copies find the relation by the primary test (each near copy shares
    its target's generator, so its words and sentences)."""
    text = (run / "results" / "demo" / "answer.txt").read_text()
    for name in ("Vocabulary-overlap", "TextEmb"):
        assert f"{name} similarity predicts the gain" in text


def test_correlations_cover_targets_and_pool(run):
    table = pd.read_parquet(run / "results" / "demo" / "correlations.parquet")
    pooled = table[(table["scope"] == "pooled") & (table["statistic"] == "spearman")]
    # One row per similarity method, over every (source, target) pair.
    assert len(pooled) == 5 and (pooled["n"] == SOURCES * len(CHANCE)).all()
    assert (pooled["ci_low"] <= pooled["estimate"]).all()
    assert (pooled["estimate"] <= pooled["ci_high"]).all()
    assert pooled["p_adjusted"].between(0, 1).all()
    per_target = table[table["scope"] == "target"]
    assert set(per_target["target"]) == set(CHANCE)
    assert (per_target["n"] == SOURCES).all()


def test_report_builds(run):
    report = run / "report.html"
    subprocess.run(
        [*SNAKEMAKE, "--report", str(report)], cwd=run, capture_output=True, text=True, check=True
    )
    html = report.read_text(errors="replace")
    assert "gain_heatmap.png" in html and "similarity_vs_gain.png" in html
    assert "summary.html" in html and "transfer_gap.png" in html
    summary = (run / "results" / "demo" / "summary.html").read_text()
    for section in ("Question", "Answer", "Pooled slope", "Source selection"):
        assert f"<h2>{section}</h2>" in summary
    assert "Wu–Palmer taxonomy" in summary and "NDCG@k" in summary


def test_each_split_is_tokenised_once(run):
    """Jobs that read the same split with the same tokenizer share one encoded entry: the
    first job encodes it (two that start on it at once may both), every later one maps it."""
    entries = list((run / "results" / "demo" / "data").glob("*/*/encoded/*.arrow"))
    logs = "".join(path.read_text() for path in (run / "logs" / "demo").rglob("*.log"))
    misses, hits = logs.count("encoded cache miss"), logs.count("encoded cache hit")
    assert len(entries) <= misses <= 2 * len(entries)
    assert hits >= 3 * misses, (hits, misses, len(entries))
