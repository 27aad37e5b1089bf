"""Published results as input: the importer's layout and errors, and the analysis run on them."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO
from test_workflow import SNAKEMAKE, dry_run_counts, workflow_copy

from xltransfer.analysis.published import (
    PublishedDesign,
    PublishedTableError,
    check_taxonomy,
    design,
    load_results,
    load_similarity,
    read_design,
    table_has_language_axis,
)
from xltransfer.analysis.selection import DATASET_SIZE, evaluate_selection, pair_means
from xltransfer.config import ConfigError, check_published, expected_job_counts
from xltransfer.report.answer import answer
from xltransfer.report.plots import plot_gain_heatmap, plot_similarity_vs_gain

EXAMPLE = REPO / "config" / "published_example.yaml"
ENGLISH = REPO / "tests" / "configs" / "published_english.yaml"


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
    with pytest.raises(PublishedTableError) as error:
        load_similarity(partial, GRID, reserved=[])
    assert str(error.value) == (
        f"{partial}: method 'paper' has no value for 1 (model, source, target) of the results "
        "table: [('m', 'b', 't')]"
    )


def test_similarity_may_leave_out_pairs_the_results_lack(tmp_path):
    # A source x target grid of English tasks without its diagonal (source = target).
    cells = [("b", "a", 2), ("c", "a", 0), ("d", "a", 1), ("a", "b", 1), ("c", "b", 3)]
    cells.append(("d", "b", 2))
    rows = "".join(f"{s},{t},{g}\n" for s, t, g in cells)
    grid = read_design(settings(write(tmp_path, "source,target,gain\n" + rows), values="gains"))
    assert grid.pairs == tuple(sorted(("m", s, t) for s, t, _ in cells))
    text = "source,target,method,value\n" + "".join(f"{s},{t},p,{g}\n" for s, t, g in cells)
    frame = load_similarity(write(tmp_path, text, "s.csv"), grid, reserved=[])
    assert len(frame) == 6  # no (a, a), (b, b), ... and none is asked for
    many = "".join(f"s{i},t,{i}\n" for i in range(8))
    wide = read_design(settings(write(tmp_path, "source,target,gain\n" + many, "w.csv"), "gains"))
    one = write(tmp_path, "source,target,method,value\ns0,t,p,1\n", "one.csv")
    with pytest.raises(
        PublishedTableError, match=r"no value for 7 .*\('m', 's5', 't'\)\] and 2 more"
    ):
        load_similarity(one, wide, reserved=[])


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


def test_every_missing_taxonomy_facet_is_named_in_one_message():
    config = yaml.safe_load(EXAMPLE.read_text())
    config["similarity"]["taxonomy_tree"] = ["format", "input", "family"]
    check_taxonomy(config, ["mnli"], ["xnli"])  # the example passes
    del config["published"]["taxonomy"]["qqp"]["input"]
    del config["published"]["taxonomy"]["qqp"]["family"]
    with pytest.raises(PublishedTableError) as error:
        check_taxonomy(config, ["mnli", "qqp", "rte"], ["xnli", "wnli"])
    assert str(error.value) == (
        "published.taxonomy: 3 task(s) of the table lack facets that the similarity methods "
        "['taxonomy', 'wu_palmer'] need:\n"
        "  qqp: no facet ['input', 'family'] of the tree ['format', 'input', 'family']\n"
        "  rte: no taxonomy facets\n"
        "  wnli: no taxonomy facets"
    )
    check_taxonomy({**config, "similarity": {"methods": []}}, ["rte"], ["wnli"])  # none needed


def test_a_table_without_a_language_axis_keeps_every_row(tmp_path):
    text = (
        "source,target,score\nnone,t,50\na,t,52\nb,t,49\nc,t,5\nnone,u,60\na,u,60.5\nb,u,63\n"
        "c,u,61\n"
    )
    table = write(tmp_path, text)
    grid = read_design(settings(table))
    assert not grid.has_language_axis and grid.source_language is None
    assert not table_has_language_axis({"published": settings(table, source_language="en")})
    # Every row in the source language is no language axis either.
    english = write(
        tmp_path,
        text.replace("score", "language,score")
        .replace(",5", ",en,5")
        .replace(",4", ",en,4")
        .replace(",6", ",en,6"),
        "en.csv",
    )
    assert pd.read_csv(english)["language"].eq("en").all()
    assert read_design(settings(english, source_language="en")).source_language is None
    means = pair_means(load_results(settings(english)), grid.source_language)
    assert len(means) == 6  # with "en" excluded there would be none
    similarity = means[["model", "source", "target"]].assign(
        method="paper", value=means["gain"].rank()
    )
    selection = evaluate_selection(means, similarity, None, ks=[1])
    assert set(selection["predictor"]) == {"paper", "random"} and len(selection) == 4
    # A language column with other languages is a language axis, as before.
    axis = write(
        tmp_path,
        text.replace("score", "language,score")
        .replace(",5", ",de,5")
        .replace(",4", ",de,4")
        .replace(",6", ",de,6"),
        "de.csv",
    )
    assert read_design(settings(axis, source_language="en")).source_language == "en"


def test_a_language_axis_without_other_languages_for_a_pair_is_refused(tmp_path):
    table = write(
        tmp_path,
        "source,target,language,gain\na,t,de,1\na,t,en,2\nb,t,en,3\nc,t,en,0\n",
    )
    with pytest.raises(PublishedTableError) as error:
        read_design(settings(table, values="gains", source_language="en"))
    assert str(error.value).startswith(
        f"{table}: 2 (model, source, target) have only published.source_language 'en' rows, "
        "so no zero-shot gain: [('m', 'b', 't'), ('m', 'c', 't')]"
    )


def _no_language_axis_results():
    correlations = pd.DataFrame(
        {
            "model": "m",
            "method": "paper",
            "scope": "pooled",
            "target": "*",
            "language": "*",
            "statistic": "spearman",
            "estimate": [0.9],
            "ci_low": 0.5,
            "ci_high": 1.0,
            "p_permutation": 0.01,
            "p_adjusted": 0.01,
            "n": 6,
        }
    )
    summary = pd.DataFrame(
        {
            "model": "m",
            "source": ["a", "b"],
            "target": "t",
            "metric": "acc",
            "gain_mean": [1.0, -0.5],
            "gain_std": np.nan,
            "n_seeds": 1,
            "n_languages": 1,
            "spread_exceeds_gain": False,
        }
    )
    similarity = summary[["model", "source", "target"]].assign(method="paper", value=[0.9, 0.1])
    return correlations, summary, similarity


def test_without_a_language_axis_answer_and_plots_speak_of_transfer_gain(tmp_path):
    correlations, summary, similarity = _no_language_axis_results()
    text = answer(correlations, zero_shot=False)
    assert text.startswith("Does task similarity predict the transfer gain of m?")
    assert "zero-shot" not in text
    assert "zero-shot transfer gain" in answer(correlations)  # a language axis, as before
    heatmap = plot_gain_heatmap(summary, tmp_path / "h.png", zero_shot=False)
    assert heatmap.get_suptitle() == "Transfer gain over the target-only baseline"
    scatter = plot_similarity_vs_gain(
        summary, similarity, correlations, tmp_path / "s.png", zero_shot=False
    )
    titles = [ax.get_title() for ax in scatter.axes if ax.get_visible()]
    labels = [ax.get_ylabel() for ax in scatter.axes if ax.get_visible()]
    assert titles[0].startswith("m — paper vs transfer gain\n")
    assert labels == ["transfer gain\n(primary metric)"]
    zero_shot = plot_gain_heatmap(summary, tmp_path / "z.png")
    assert zero_shot.get_suptitle() == "Zero-shot gain over the target-only baseline"


def test_published_gains_give_an_absolute_regret_without_baseline_rows(tmp_path):
    table = write(tmp_path, "source,target,gain\na,t,2.0\nb,t,0.5\nc,t,-1.0\n")
    grid = read_design(settings(table, values="gains"))
    means = pair_means(load_results(settings(table, values="gains")), grid.source_language)
    similarity = means[["model", "source", "target"]].assign(method="s", value=[1, 3, 2])
    # s ranks b (0.5) first, then c (-1.0), then a (2.0, the best).
    mean = evaluate_selection(means, similarity, None, ks=[1, 2]).set_index(["predictor", "k"])
    best = evaluate_selection(means, similarity, None, ks=[2], regret="best")
    assert mean.loc[("s", 1), "regret_points"] == pytest.approx(2.0 - 0.5)
    assert mean.loc[("s", 2), "regret_points"] == pytest.approx((2.0 + 0.5) / 2 - (0.5 - 1.0) / 2)
    assert best.set_index("predictor").loc["s", "regret_points"] == pytest.approx(2.0 - 0.5)
    assert mean["regret"].isna().all()  # relative regret needs target scores


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
    table = evaluate_selection(pair_means(gains), similarity, None, ks=[1])
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


def test_a_similarity_table_missing_a_result_pair_fails_the_dry_run(tmp_path):
    folder = workflow_copy(tmp_path)
    table = folder / "config" / "published" / "example_similarity.csv"
    lines = table.read_text().splitlines(keepends=True)
    table.write_text("".join(line for line in lines if not line.startswith("qqp,xnli,")))
    result = subprocess.run(
        [*SNAKEMAKE, "-n", "--configfile", f"config/{EXAMPLE.name}"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert (
        "example_similarity.csv: method 'paper_taskemb' has no value for 1 (model, source, "
        "target) of the results table: [('xlmr-base', 'qqp', 'xnli')]"
    ) in result.stdout + result.stderr
    assert not (folder / "results").exists()


@pytest.mark.workflow
def test_a_monolingual_grid_without_its_diagonal_runs_as_transfer_gain(tmp_path):
    folder = workflow_copy(tmp_path)
    shutil.copytree(ENGLISH.with_suffix(""), folder / "published_english")
    shutil.copy(ENGLISH, folder / ENGLISH.name)
    result = subprocess.run(
        [*SNAKEMAKE, "--cores", "2", "--configfile", ENGLISH.name],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = folder / "results" / "published_english"
    selection = pd.read_parquet(results / "source_selection.parquet")
    # 4 targets x 2 predictors (paper_sim, paper_anti) + random, at k = 1 and 2: none dropped.
    top1 = selection[selection["k"] == 1]
    assert set(top1["target"]) == {"mnli", "qqp", "sst2", "rte"}
    assert top1.groupby("predictor")["ndcg"].mean()["paper_sim"] == pytest.approx(1.0)
    assert selection["regret_points"].notna().all()
    text = (results / "answer.txt").read_text()
    assert text.startswith("Does task similarity predict the transfer gain of bert-base?")
    page = (results / "summary.html").read_text()
    assert "zero-shot" not in text and "zero-shot" not in page.lower()
    gains = pd.read_parquet(results / "gain_summary.parquet")
    assert len(gains) == 12 and gains["n_languages"].eq(1).all()


def test_a_gold_label_column_decides_regrets_gold_top_k(tmp_path):
    # Scores 70, 72, 75 for a, b, c; the paper's gold label ranks a first (TaskWeb's way).
    text = "source,target,score,gold\nnone,t,60,\na,t,70,3\nb,t,72,2\nc,t,75,1\n"
    table = write(tmp_path, text)
    gains = load_results(settings(table, gold_label="gold"))
    assert gains.set_index("source")["gold_label"].to_dict() == {"a": 3.0, "b": 2.0, "c": 1.0}
    means = pair_means(gains, None)
    similarity = means[["model", "source", "target"]].assign(method="paper", value=[0, 1, 2])
    picked_c = evaluate_selection(means, similarity, None, ks=[1]).set_index("predictor")
    # The paper's similarity picks c (75) against the label's gold a (70): (70 - 75) / 70.
    assert picked_c.loc["paper", "regret"] == pytest.approx(-5 / 70)
    assert picked_c.loc["paper", "regret_points"] == pytest.approx(-5.0)
    assert set(picked_c["regret_gold"]) == {"gold_label"}
    # Without the label the gold is the best score, c: no regret.
    plain = write(tmp_path, "source,target,score\nnone,t,60\na,t,70\nb,t,72\nc,t,75\n", "p.csv")
    by_value = evaluate_selection(pair_means(load_results(settings(plain)), None), similarity,
                                  None, ks=[1]).set_index("predictor")  # fmt: skip
    assert by_value.loc["paper", "regret"] == 0.0 and set(by_value["regret_gold"]) == {"values"}
    with pytest.raises(PublishedTableError, match="names column 'rank', which the table lacks"):
        load_results(settings(table, gold_label="rank"))
    with pytest.raises(PublishedTableError, match=r"must hold a finite number .* rows 3 do not"):
        load_results(
            settings(write(tmp_path, text.replace(",2\n", ",\n"), "g.csv"), gold_label="gold")
        )
    with pytest.raises(PublishedTableError, match=r"unknown column\(s\) \['gold'\]"):
        load_results(settings(table))


def test_a_target_with_fewer_than_three_sources_is_refused_by_name(tmp_path):
    # Three sources over the table, but target u has one: never scored NDCG 1 by every method.
    text = "source,target,gain\na,t,1\nb,t,2\nc,t,0\na,u,3\n"
    with pytest.raises(PublishedTableError) as error:
        read_design(settings(write(tmp_path, text), values="gains"))
    assert "target(s) with fewer than 3 source tasks: u (m): 1;" in str(error.value)
