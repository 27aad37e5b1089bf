"""The report's summary page: tables in the right order with the right numbers."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from pathlib import Path

import pandas as pd
import pytest

from xltransfer.analysis.gains import SUMMARY_COLUMNS
from xltransfer.analysis.mixed_model import MIXED_COLUMNS
from xltransfer.report.page import correlation_table, ranking_table, summary_page


def correlations() -> pd.DataFrame:
    columns = ["model", "method", "scope", "target", "language", "statistic", "estimate"]
    rows = [
        ["m", "taxonomy", "pooled", "*", "non-en", "kendall", 0.2],
        ["m", "taxonomy", "pooled", "*", "non-en", "spearman", 0.3],
        ["m", "textemb", "pooled", "*", "non-en", "spearman", 0.6],
        ["m", "textemb", "target", "xnli", "non-en", "spearman", 0.9],
        ["m", "textemb", "target_language", "xnli", "de", "spearman", 0.8],
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.assign(
        ci_low=frame["estimate"] - 0.1,
        ci_high=frame["estimate"] + 0.1,
        p_permutation=0.0123,
        p_adjusted=[0.05, 0.04, 0.03, 0.02, float("nan")],
        n=[18, 18, 18, 6, 6],
    )


def selection() -> pd.DataFrame:
    columns = ["model", "target", "candidates", "predictor", "k", "k_label", "ndcg", "regret"]
    columns += ["regret_points", "best_source_rank", "n_sources"]
    rows = [
        ["m", "a", "all", "textemb", 1, "1", 1.0, 0.0, 0.0, 1.0, 6],
        ["m", "b", "all", "textemb", 1, "1", 0.5, 0.2, 2.0, 3.0, 6],
        ["m", "a", "all", "random", 1, "1", 0.3, 0.1, 1.0, 3.5, 6],
        ["m", "b", "all", "random", 1, "1", 0.4, 0.3, 3.0, 3.5, 6],
        ["m", "a", "in_class", "textemb", 1, "1", 0.0, 0.9, 9.0, 2.0, 2],
    ]
    return pd.DataFrame(rows, columns=columns)


def test_correlation_table_puts_the_strongest_method_and_spearman_first():
    table = correlation_table(correlations())
    assert table["method"].tolist() == ["TextEmb", "TextEmb", "Taxonomy", "Taxonomy"]
    assert table["scope"].tolist() == ["pooled", "target", "pooled", "pooled"]
    assert table["statistic"].tolist()[2:] == ["spearman", "kendall"]
    assert table["CI"].iloc[0] == "[0.50, 0.70]"
    assert table["p (permutation)"].iloc[0] == "0.012"
    per_language = correlation_table(correlations(), scopes=("target_language",))
    assert per_language["languages"].tolist() == ["de"]
    assert per_language["p (adjusted)"].tolist() == ["—"]


def test_ranking_table_means_over_targets():
    table = ranking_table(selection())
    every = table[table["candidates"] == "all"].set_index("predictor")
    assert every.loc["TextEmb", "NDCG@k"] == "0.75" and every.loc["TextEmb", "Regret@k"] == "0.100"
    assert every.loc["TextEmb", "Regret@k (points)"] == "1.000"
    assert every.loc["TextEmb", "rank of best source"] == "2.0"
    assert every.loc["random", "NDCG@k"] == "0.35" and every.loc["random", "Regret@k"] == "0.200"
    assert every.index.tolist() == ["TextEmb", "random"]  # best NDCG first
    # The in-class rows are their own mean, not mixed into all sources'.
    in_class = table[table["candidates"] == "in_class"].set_index("predictor")
    assert in_class.loc["TextEmb", "NDCG@k"] == "0.00" and in_class.loc["TextEmb", "targets"] == 1


def mixed() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ["m", "textemb", 0.03, 0.01, 0.01, 0.05, 0.002, 18, 3, 5, True, "ols", ""]
            + ["pair_fixed", 6, 10, "per standard deviation of this grid's similarity", 0.2]
        ],
        columns=MIXED_COLUMNS,
    )


def gains() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ["m", "a", "t", "acc", 0.02, 0.05, 3, 4, True],
            ["m", "b", "t", "acc", 0.1, 0.01, 3, 4, False],
        ],
        columns=SUMMARY_COLUMNS,
    )


def transfer_gaps() -> pd.DataFrame:
    columns = ["model", "target", "language", "english", "score", "gap_percent"]
    rows = [["m", "t", "de", 0.8, 0.6, 25.0], ["m", "t", "fr", 0.8, 0.7, 12.5]]
    return pd.DataFrame(rows, columns=columns)


def write_png(path: Path, grey: int) -> bytes:
    """A real 1x1 greyscale PNG (signature, IHDR, IDAT, IEND), one per grey level."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(bytes([0, grey])))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return data


def plot_files(folder: Path) -> tuple[dict[str, Path], dict[str, bytes]]:
    paths = {
        "heatmap": folder / "gain_heatmap.png",
        "scatter": folder / "similarity_vs_gain.png",
        "transfer_gap": folder / "transfer_gap.png",
    }
    contents = {name: write_png(path, 40 * i) for i, (name, path) in enumerate(paths.items())}
    return paths, contents


def page_for(**kwargs) -> str:
    config = {"run": "demo", "experiment": {"sources": ["<mnli>"]}, "resources": {"x": 1}}
    return summary_page(
        config,
        "TextEmb predicts the gain.",
        correlations(),
        mixed(),
        selection(),
        gains(),
        **kwargs,
    )


def test_summary_page_holds_question_answer_tables_and_escaped_config():
    page = page_for()
    assert page.startswith("<!doctype html>")
    assert "Does task similarity" in page and "TextEmb predicts the gain." in page
    assert "[0.50, 0.70]" in page and "+0.030" in page and "NDCG@k" in page
    assert "+0.100 ± 0.010" in page and page.index("+0.100") < page.index("+0.020 ± 0.050")
    assert "&lt;mnli&gt;" in page and "<mnli>" not in page  # config text is escaped
    assert "resources" not in page  # only the sections that define the science
    # Without plots or a transfer-gap table (a published table): no figure, no gap section.
    assert "<img" not in page and "<h2>Transfer gap</h2>" not in page


def test_summary_page_embeds_each_plot_beside_the_table_it_summarises(tmp_path):
    paths, contents = plot_files(tmp_path)
    page = page_for(plots=paths, transfer_gap=transfer_gaps())
    assert page.count("<img") == 3  # each plot once, inline: the page is one file
    assert "src='data:image/png;base64," in page and ".png'" not in page
    blocks = re.findall(r"<div class='beside'>.*?</figure></div>", page, flags=re.DOTALL)
    assert len(blocks) == 3
    # The table each plot sits beside, by a column only that table has.
    expected = {
        "heatmap": "gain (mean ± SD over seeds)",
        "scatter": "p (permutation)",
        "transfer_gap": "mean gap (%)",
    }
    for block, (name, column) in zip(blocks, expected.items(), strict=True):
        assert f"<th>{column}</th>" in block, name
        (uri,) = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", block)
        decoded = base64.b64decode(uri, validate=True)
        assert decoded.startswith(b"\x89PNG\r\n\x1a\n")
        assert decoded == contents[name]  # the file's own bytes, not another plot's
        assert f"<code>{paths[name].name}</code>" in block
    # Each block sits in its own section, after its heading.
    for heading, block in zip(
        ("Transfer gains", "Similarity against gain", "Transfer gap"), blocks, strict=True
    ):
        section = page.split(f"<h2>{heading}</h2>", 1)[1].split("<h2>", 1)[0]
        assert block in section
    # The transfer-gap table: one row per (model, target), a column per language and the mean.
    gap = blocks[2]
    assert "<td>25.0</td>" in gap and "<td>12.5</td>" in gap and "<td>18.8</td>" in gap
    assert "<td>0.800</td>" in gap


@pytest.mark.parametrize("missing", ["heatmap", "scatter", "transfer_gap"])
def test_a_missing_plot_is_an_error_naming_the_file(tmp_path, missing):
    paths, _ = plot_files(tmp_path)
    paths[missing].unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(paths[missing]))):
        page_for(plots=paths, transfer_gap=transfer_gaps())


def test_a_plot_that_is_not_a_png_is_an_error_naming_the_file(tmp_path):
    paths, _ = plot_files(tmp_path)
    paths["scatter"].write_bytes(b"cut off")
    with pytest.raises(ValueError, match=re.escape(str(paths["scatter"]))):
        page_for(plots=paths)


def test_an_unknown_plot_name_is_refused(tmp_path):
    paths, _ = plot_files(tmp_path)
    with pytest.raises(KeyError, match="heat_map"):
        page_for(plots={"heat_map": paths["heatmap"]})


@pytest.mark.parametrize("missing", ["ci_low", "p_adjusted"])
def test_tables_name_a_missing_column(missing):
    with pytest.raises(KeyError, match=missing):
        correlation_table(correlations().drop(columns=missing))
