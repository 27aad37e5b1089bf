"""Tests for xltransfer.report.plots (and the atomic file helpers used to write figures)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xltransfer.analysis import gains as analysis
from xltransfer.io import atomic_path, write_bytes_atomic
from xltransfer.report import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _fake(models, sources, targets, methods=("taxonomy",)):
    rng = np.random.default_rng(0)
    summary, sim = [], []
    for m in models:
        for s in sources:
            for t in targets:
                summary.append(
                    {
                        "model": m,
                        "source": s,
                        "target": t,
                        "metric": "accuracy",
                        "gain_mean": rng.normal(scale=0.03),
                        "gain_std": 0.01,
                        "n_seeds": 3,
                        "n_languages": 4,
                    }
                )
                for method in methods:
                    sim.append(
                        {
                            "model": m,
                            "source": s,
                            "target": t,
                            "method": method,
                            "value": rng.uniform(),
                        }
                    )
    summary, sim = pd.DataFrame(summary), pd.DataFrame(sim)
    rows = []
    for (m, method), grp in sim.merge(summary).groupby(["model", "method"]):
        rows.append(
            [m, method, "pooled", "*", "non-en", "spearman", 0.25, 0.4, len(grp)]
            + [0.05, 0.45, 0.3, 0.3]
        )
    corr = pd.DataFrame(rows, columns=analysis.CORRELATION_COLUMNS)
    return summary, sim, corr


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5_000
    # Only the final file is left behind: no temp files from the atomic write.
    assert [p.name for p in path.parent.iterdir()] == [path.name]


@pytest.mark.parametrize(
    ("models", "sources", "targets"),
    [
        (["tiny-xlmr", "mbert"], ["mnli", "squad", "pos", "ner"], ["xnli", "pawsx", "udpos"]),
        (["tiny-xlmr"], ["mnli"], ["xnli"]),
    ],
)
def test_gain_heatmap(tmp_path: Path, models, sources, targets) -> None:
    summary, _, _ = _fake(models, sources, targets)
    path = tmp_path / "figs" / "heatmap.png"
    plots.plot_gain_heatmap(summary, path)
    _assert_png(path)


def test_gain_heatmap_handles_missing_cells_and_zero_gain(tmp_path: Path) -> None:
    summary, _, _ = _fake(["m"], ["a", "b"], ["x", "y"])
    summary = summary.iloc[1:].assign(gain_mean=0.0)
    path = tmp_path / "heatmap.png"
    plots.plot_gain_heatmap(summary, path)
    _assert_png(path)


@pytest.mark.parametrize(
    ("models", "sources", "targets", "methods"),
    [
        (["tiny-xlmr", "mbert"], ["mnli", "squad", "pos"], ["xnli", "pawsx"], ("tax", "emb")),
        (["tiny-xlmr"], ["mnli"], ["xnli"], ("taxonomy",)),
    ],
)
def test_similarity_vs_gain(tmp_path: Path, models, sources, targets, methods) -> None:
    summary, sim, corr = _fake(models, sources, targets, methods)
    path = tmp_path / "scatter.png"
    plots.plot_similarity_vs_gain(summary, sim, corr, path)
    _assert_png(path)


def test_similarity_vs_gain_without_correlations(tmp_path: Path) -> None:
    summary, sim, corr = _fake(["m"], ["a", "b", "c"], ["x"])
    path = tmp_path / "scatter.png"
    plots.plot_similarity_vs_gain(summary, sim, corr.iloc[0:0], path)
    _assert_png(path)


def test_empty_inputs_raise(tmp_path: Path) -> None:
    summary, sim, corr = _fake(["m"], ["a"], ["x"])
    with pytest.raises(ValueError):
        plots.plot_gain_heatmap(summary.iloc[0:0], tmp_path / "h.png")
    with pytest.raises(ValueError):
        plots.plot_similarity_vs_gain(summary, sim.iloc[0:0], corr, tmp_path / "s.png")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- io helpers


def test_write_bytes_atomic_replaces(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b.bin"
    write_bytes_atomic(path, b"one")
    write_bytes_atomic(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["b.bin"]


def test_atomic_path_failure_keeps_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        assert tmp.parent == path.parent
        tmp.write_bytes(b"partial")
        raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_atomic_path_directory(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint"
    target.mkdir()
    (target / "stale.bin").write_bytes(b"stale")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "weights.bin").write_bytes(b"half")
        raise RuntimeError("interrupted")
    # Failure: the old checkpoint is untouched and the temp dir is gone.
    assert sorted(p.name for p in target.iterdir()) == ["stale.bin"]
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "weights.bin").write_bytes(b"new")
    assert sorted(p.name for p in target.iterdir()) == ["weights.bin"]
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]


def test_transfer_gap_bars(tmp_path: Path) -> None:
    rows = [
        {"model": m, "target": t, "language": lang, "english": 0.8, "score": 0.7}
        for m in ("xlmr", "mbert")
        for t in ("xnli", "stsb_multi_mt", "sentiment")
        for lang in ("de", "sw", "ru")
    ]
    gaps = pd.DataFrame(rows).assign(gap_percent=12.5)
    plots.plot_transfer_gap(gaps, tmp_path / "gap.png")
    _assert_png(tmp_path / "gap.png")
    with pytest.raises(ValueError, match="empty"):
        plots.plot_transfer_gap(gaps.iloc[:0], tmp_path / "none.png")
