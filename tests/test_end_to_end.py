"""The embedded default, run end to end by Snakemake, must recover the planted structure.

One run of `config/config.yaml` (a few minutes on 2 cores) feeds every test here: the outputs
exist and are consistent, and the known answers hold: English above chance, zero-shot scores
falling with lexical overlap, and the near-copy source task helping more than the unrelated one.
"""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest
from scipy.stats import spearmanr
from test_workflow import SNAKEMAKE, default_config, workflow_copy

pytestmark = pytest.mark.workflow
CHANCE = {"xnli": 1 / 3, "stsb_multi_mt": 0.0, "sentiment": 1 / 3}
NEAR_COPY = {"xnli": "mnli", "stsb_multi_mt": "stsb", "sentiment": "sst2"}
UNRELATED = "ag_news"


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
    # 7 runs (6 sources + none) x 3 targets x 6 languages.
    assert len(scores) == 7 * 3 * 6
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


def test_near_copy_source_gains_more_than_unrelated(run):
    gains = pd.read_parquet(run / "results" / "demo" / "gain_summary.parquet")
    by_pair = gains.set_index(["source", "target"])["gain_mean"]
    for target, near in NEAR_COPY.items():
        assert by_pair[(near, target)] > by_pair[(UNRELATED, target)], by_pair.to_dict()


@pytest.mark.parametrize("method", ["taxonomy", "wu_palmer", "textemb", "taskemb"])
def test_every_similarity_method_finds_the_near_copy_source(run, method):
    similarity = pd.read_parquet(run / "results" / "demo" / "similarity.parquet")
    assert set(similarity["method"]) == {
        "taxonomy",
        "wu_palmer",
        "textemb",
        "taskemb",
        "vocab_overlap",
    }
    chosen = similarity[similarity["method"] == method]
    for target, near in NEAR_COPY.items():
        ranked = chosen[chosen["target"] == target].sort_values("value", ascending=False)
        assert ranked["source"].iloc[0] == near, ranked.to_dict("records")
        assert ranked["value"].iloc[0] > ranked["value"].iloc[1], ranked.to_dict("records")


def test_source_selection_beats_chance_with_the_taxonomy(run):
    table = pd.read_parquet(run / "results" / "demo" / "source_selection.parquet")
    top1 = table[table["k"] == 1].set_index(["target", "predictor"])
    for target in NEAR_COPY:
        assert top1.loc[(target, "taxonomy"), "ndcg"] > top1.loc[(target, "random"), "ndcg"]
        assert (
            0 <= top1.loc[(target, "taxonomy"), "regret"] <= top1.loc[(target, "random"), "regret"]
        )


def test_answer_is_written_from_the_numbers(run):
    text = (run / "results" / "demo" / "answer.txt").read_text()
    assert text.startswith("Does task similarity predict the zero-shot transfer gain of tiny-xlmr?")
    for name in ("Taxonomy", "TextEmb", "TaskEmb"):
        assert f"{name} similarity" in text


def test_correlations_cover_targets_and_pool(run):
    table = pd.read_parquet(run / "results" / "demo" / "correlations.parquet")
    pooled = table[(table["scope"] == "pooled") & (table["statistic"] == "spearman")]
    assert len(pooled) == 5 and (pooled["n"] == 18).all()  # one row per similarity method
    assert (pooled["ci_low"] <= pooled["estimate"]).all()
    assert (pooled["estimate"] <= pooled["ci_high"]).all()
    assert pooled["p_adjusted"].between(0, 1).all()
    per_target = table[table["scope"] == "target"]
    assert set(per_target["target"]) == set(CHANCE)
    assert (per_target["n"] == 6).all()


def test_report_builds(run):
    report = run / "report.html"
    subprocess.run(
        [*SNAKEMAKE, "--report", str(report)], cwd=run, capture_output=True, text=True, check=True
    )
    html = report.read_text(errors="replace")
    assert "gain_heatmap.png" in html and "similarity_vs_gain.png" in html
    assert "summary.html" in html and "transfer_gap.png" in html
    summary = (run / "results" / "demo" / "summary.html").read_text()
    for section in ("Question", "Answer", "Pooled mixed-effects model", "Source selection"):
        assert f"<h2>{section}</h2>" in summary
    assert "Wu–Palmer taxonomy" in summary and "NDCG@k" in summary
