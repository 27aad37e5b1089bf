"""Published results as input: the importer's layout and errors, and the analysis run on them."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO
from test_workflow import SNAKEMAKE, dry_run_counts, workflow_copy

from xltransfer.config import ConfigError, check_published, expected_job_counts
from xltransfer.published import (
    PublishedDesign,
    PublishedTableError,
    design,
    load_results,
    load_similarity,
)
from xltransfer.selection import DATASET_SIZE, evaluate_selection, pair_means

EXAMPLE = REPO / "config" / "published_example.yaml"


def settings(table, values="scores", **extra) -> dict:
    base = {"table": str(table), "values": values, "baseline_source": "none"}
    return {**base, "model": "m", "metric": "accuracy", **extra}


def write(tmp_path, text: str, name: str = "table.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_scores_become_gains_against_the_baseline_rows(tmp_path):
    table = write(
        tmp_path,
        "# a comment line is skipped\n"
        "source,target,language,score\n"
        "none,xnli,de,70.0\nmnli,xnli,de,72.5\nqqp,xnli,de,69.0\n"
        "none,xnli,fr,71.0\nmnli,xnli,fr,74.0\nqqp,xnli,fr,71.5\n",
    )
    gains = load_results(settings(table)).set_index(["source", "language"])
    assert gains.loc[("mnli", "de"), "gain"] == pytest.approx(2.5)
    assert gains.loc[("qqp", "fr"), "gain"] == pytest.approx(0.5)
    assert gains.loc[("qqp", "de"), "baseline_score"] == pytest.approx(70.0)
    assert set(gains["model"]) == {"m"} and set(gains["seed"]) == {0} and gains["primary"].all()
    grid = design(gains.reset_index(), "en")
    assert (grid.models, grid.sources, grid.targets) == (["m"], ["mnli", "qqp"], ["xnli"])


def test_gains_are_taken_as_published(tmp_path):
    table = write(tmp_path, "source,target,gain,model\nmnli,xnli,1.5,x\nqqp,xnli,-0.5,x\n")
    gains = load_results(settings(table, values="gains"))
    assert gains["gain"].tolist() == [1.5, -0.5]
    assert gains["language"].unique().tolist() == ["avg"]
    assert gains["score"].isna().all() and gains["model"].unique().tolist() == ["x"]


def test_parquet_tables_read_like_csv(tmp_path):
    path = tmp_path / "table.parquet"
    pd.DataFrame({"source": ["a", "b"], "target": ["t", "t"], "gain": [1.0, 2.0]}).to_parquet(path)
    assert load_results(settings(path, values="gains"))["gain"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("text", "values", "message"),
    [
        ("source,target,gain\na,t,1\n", "scores", r"missing column\(s\) \['score'\]"),
        ("source,target,gain,Score\na,t,1,2\n", "gains", r"unknown column\(s\) \['Score'\]"),
        ("source,target,gain\na,t,1\nb,t,x\n", "gains", r"'gain' must hold finite numbers; rows 2"),
        ("source,target,gain\na,t,1\na,t,2\n", "gains", "more than one value .* rows 1, 2"),
        ("source,target,gain\na b,t,1\n", "gains", r"'source' has names .*\(rows 1\)"),
        ("source,target,score\na,t,1\n", "scores", "no row has source 'none'"),
        ("source,target,gain\nnone,t,1\n", "gains", "rows 1 have the baseline source"),
        (
            "source,target,language,score\nnone,t,de,1\na,t,de,2\na,t,fr,3\n",
            "scores",
            "missing baseline .* 1 key",
        ),
        (
            "source,target,metric,gain\na,t,acc,1\nb,t,f1,2\n",
            "gains",
            r"more than one metric for model/target \['m/t'\]",
        ),
    ],
)
def test_malformed_tables_are_refused_naming_file_and_rows(tmp_path, text, values, message):
    table = write(tmp_path, text)
    with pytest.raises(PublishedTableError, match=message) as error:
        load_results(settings(table, values=values))
    assert str(table) in str(error.value)


def test_other_formats_and_missing_files_are_refused(tmp_path):
    with pytest.raises(PublishedTableError, match="no such file"):
        load_results(settings(tmp_path / "absent.csv"))
    with pytest.raises(PublishedTableError, match=r"expected a \.csv or \.parquet file"):
        load_results(settings(write(tmp_path, "x", "table.xlsx")))


GRID = PublishedDesign(models=["m"], sources=["a", "b"], targets=["t"], source_language="en")


def test_external_similarity_is_broadcast_to_models_and_checked(tmp_path):
    good = write(tmp_path, "source,target,method,value\na,t,paper,0.5\nb,t,paper,0.1\n", "s.csv")
    frame = load_similarity(good, GRID, reserved=["taxonomy"])
    assert frame["model"].unique().tolist() == ["m"] and frame["value"].tolist() == [0.5, 0.1]
    clash = write(tmp_path, "source,target,method,value\na,t,taxonomy,1\nb,t,taxonomy,0\n", "c.csv")
    with pytest.raises(PublishedTableError, match=r"methods \['taxonomy'\] are computed"):
        load_similarity(clash, GRID, reserved=["taxonomy"])
    partial = write(tmp_path, "source,target,method,value\na,t,paper,0.5\n", "p.csv")
    with pytest.raises(PublishedTableError, match=r"no value for model 'm' and .*\('b', 't'\)"):
        load_similarity(partial, GRID, reserved=[])


def test_published_config_checks_name_the_key():
    config = yaml.safe_load(EXAMPLE.read_text())
    config["similarity"]["taxonomy_tree"] = ["format", "input", "family"]
    tasks = (["mnli"], ["xnli"])
    check_published(config, *tasks)  # the example passes
    with pytest.raises(ConfigError, match=r"similarity.methods: \['textemb'\] embed task data"):
        check_published({**config, "similarity": {"methods": ["textemb"]}}, *tasks)
    with pytest.raises(ConfigError, match="published.taxonomy.rte: no facets"):
        check_published(config, ["rte"], ["xnli"])
    config["published"]["taxonomy"]["rte"] = config["published"]["taxonomy"]["mnli"]
    with pytest.raises(ConfigError, match=r"source_sizes: no size for source tasks \['rte'\]"):
        check_published(config, ["rte"], ["xnli"])


def test_selection_without_sizes_or_scores_scores_ndcg_only():
    gains = pd.DataFrame(
        {
            "model": "m",
            "source": ["a", "b", "c"],
            "target": "t",
            "language": "avg",
            "seed": 0,
            "metric": "acc",
            "primary": True,
            "score": np.nan,
            "baseline_score": np.nan,
            "gain": [2.0, 0.5, -1.0],
        }
    )
    similarity = pd.DataFrame(
        {"model": "m", "source": ["a", "b", "c"], "target": "t", "method": "s", "value": [3, 2, 1]}
    )
    table = evaluate_selection(pair_means(gains), similarity, None, ks=[1], random_orders=50)
    assert DATASET_SIZE not in set(table["predictor"])
    best = table.set_index("predictor").loc["s"]
    assert best["ndcg"] == pytest.approx(1.0) and np.isnan(best["regret"])


@pytest.mark.workflow
def test_published_example_runs_without_training_and_recovers_the_planted_predictor(tmp_path):
    folder = workflow_copy(tmp_path)
    config = yaml.safe_load(EXAMPLE.read_text())
    assert dry_run_counts(folder, folder / "config" / EXAMPLE.name) == expected_job_counts(config)
    result = subprocess.run(
        [*SNAKEMAKE, "--cores", "2", "--configfile", f"config/{EXAMPLE.name}"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = folder / "results" / "published_example"
    assert not (folder / "results" / "published_example" / "models").exists()
    correlations = pd.read_parquet(results / "correlations.parquet")
    pooled = correlations[
        (correlations["scope"] == "pooled") & (correlations["statistic"] == "spearman")
    ].set_index("method")
    assert set(pooled.index) == {"taxonomy", "wu_palmer", "paper_taskemb"}
    # The example's gains were planted to grow with paper_taskemb (noise sd 0.6 points).
    assert pooled.loc["paper_taskemb", "estimate"] > 0.8
    assert pooled.loc["paper_taskemb", "ci_low"] > 0
    selection = pd.read_parquet(results / "source_selection.parquet")
    top1 = selection[selection["k"] == 1].groupby("predictor")["ndcg"].mean()
    assert top1["paper_taskemb"] == pytest.approx(1.0) and top1["random"] < 0.7
    assert DATASET_SIZE in top1.index  # from published.source_sizes
    assert "paper_taskemb similarity predicts the gain" in (results / "answer.txt").read_text()
    assert "<h2>Source selection</h2>" in (results / "summary.html").read_text()

    # The same grid published as gains only: NDCG is scored, Regret cannot be.
    gains_config = {**config, "run": "published_gains"}
    gains_config["published"] = {
        **config["published"],
        "table": "config/published/example_gains.csv",
        "values": "gains",
    }
    (folder / "gains.yaml").write_text(yaml.safe_dump(gains_config))
    subprocess.run(
        [*SNAKEMAKE, "--cores", "2", "--configfile", "gains.yaml"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    selection = pd.read_parquet(folder / "results" / "published_gains" / "source_selection.parquet")
    assert selection["regret"].isna().all() and selection["ndcg"].notna().all()
    gains = pd.read_parquet(folder / "results" / "published_gains" / "gain_summary.parquet")
    mnli = gains.set_index(["source", "target"]).loc[("mnli", "xnli"), "gain_mean"]
    assert mnli == pytest.approx(2.23)


def test_a_broken_table_fails_the_dry_run_naming_file_and_row(tmp_path):
    folder = workflow_copy(tmp_path)
    broken = folder / "config" / "published" / "example_scores.csv"
    broken.write_text(broken.read_text().replace("86.8", "n/a", 1))
    result = subprocess.run(
        [*SNAKEMAKE, "-n", "--configfile", f"config/{EXAMPLE.name}"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "example_scores.csv: column 'score' must hold finite numbers; rows 2 do not" in output
    assert not (folder / "results").exists()
