"""Figures: gain heatmaps, similarity-vs-gain scatter plots and transfer gaps, rendered with Agg."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from xltransfer.io import atomic_path

GAIN_LABEL = "zero-shot gain (non-English mean, primary metric)"
# A published table without a language axis: one gain per pair, no languages to average.
TRANSFER_GAIN_LABEL = "transfer gain (primary metric)"


def _gain_label(zero_shot: bool) -> str:
    return GAIN_LABEL if zero_shot else TRANSFER_GAIN_LABEL


def _save(fig: Figure, path: Path) -> None:
    """Render `fig` as PNG onto `path` atomically."""
    # Using Figure with an explicit Agg canvas avoids pyplot's global state and any GUI backend.
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")


def _grid(n: int, max_cols: int = 3) -> tuple[int, int]:
    """Rows and columns for `n` subplots."""
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def plot_gain_heatmap(summary: pd.DataFrame, path: Path, zero_shot: bool = True) -> Figure:
    """Heatmap of mean zero-shot gain (source × target) for each model; `zero_shot` False (a
    table without a language axis) labels it the transfer gain. Returns the figure saved."""
    if summary.empty:
        raise ValueError("gain summary is empty; nothing to plot")
    models = sorted(summary["model"].unique())
    sources = sorted(summary["source"].unique())
    targets = sorted(summary["target"].unique())
    # One shared, symmetric colour scale so that 0 is the neutral colour and models compare.
    vmax = float(np.nanmax(np.abs(summary["gain_mean"].to_numpy(dtype=float)), initial=0.0))
    vmax = vmax if np.isfinite(vmax) and vmax > 0 else 1.0
    norm = Normalize(vmin=-vmax, vmax=vmax)
    cmap = colormaps["RdBu_r"]

    nrows, ncols = _grid(len(models), max_cols=2)
    cell_w, cell_h = 0.9, 0.55
    label_len = max(len(str(s)) for s in sources + targets)
    width = ncols * (2.5 + cell_w * len(targets) + 0.08 * label_len) + 1.5
    height = nrows * (1.8 + cell_h * len(sources) + 0.06 * label_len)
    fig = Figure(figsize=(max(width, 5.0), max(height, 3.5)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    image = None
    for ax, model in zip(axes.flat, models, strict=False):
        sub = summary.loc[summary["model"] == model]
        grid = sub.pivot_table(index="source", columns="target", values="gain_mean")
        grid = grid.reindex(index=sources, columns=targets).to_numpy(dtype=float)
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, aspect="auto")
        for i in range(len(sources)):
            for j in range(len(targets)):
                val = grid[i, j]
                text = "n/a" if not np.isfinite(val) else f"{val:+.3f}"
                # Rounded-to-zero values would otherwise print as a confusing "-0.000".
                text = "0.000" if text in ("+0.000", "-0.000") else text
                # Dark cells get white text so the annotation stays legible.
                strong = np.isfinite(val) and abs(val) > 0.55 * vmax
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if strong else "black",
                )
        ax.set_xticks(range(len(targets)), labels=targets, rotation=40, ha="right")
        ax.set_yticks(range(len(sources)), labels=sources)
        ax.set_xlabel("target task")
        ax.set_ylabel("source (intermediate) task")
        ax.set_title(str(model))
        # Thin white lines between cells make the grid readable when colours are close.
        ax.set_xticks(np.arange(-0.5, len(targets), 1), minor=True)
        ax.set_yticks(np.arange(-0.5, len(sources), 1), minor=True)
        ax.grid(which="minor", color="white", linewidth=1.5)
        ax.tick_params(which="minor", length=0)
    for ax in list(axes.flat)[len(models) :]:
        ax.set_visible(False)
    cbar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.9)
    cbar.set_label(_gain_label(zero_shot))
    fig.suptitle(("Zero-shot" if zero_shot else "Transfer") + " gain over the target-only baseline")
    _save(fig, Path(path))
    return fig


def _pooled_spearman(correlations: pd.DataFrame, model: str, method: str) -> str:
    """The pooled Spearman line of a panel title: estimate, interval, permutation p and n."""
    sel = correlations.loc[
        (correlations["model"] == model)
        & (correlations["method"] == method)
        & (correlations["scope"] == "pooled")
        & (correlations["statistic"] == "spearman")
    ]
    if sel.empty:
        return "pooled Spearman ρ undefined (n = 0)"
    row = sel.iloc[0]

    def number(value, spec: str = ".2f") -> str:
        return format(value, spec) if np.isfinite(value) else "undefined"

    text = f"pooled Spearman ρ = {number(row['estimate'])}"
    if "ci_low" in row and np.isfinite(row["ci_low"]):
        text += f" [{number(row['ci_low'])}, {number(row['ci_high'])}]"
    if "p_permutation" in row and np.isfinite(row["p_permutation"]):
        text += f", perm. p = {number(row['p_permutation'], '.2g')}"
    return text + f" (n = {int(row['n'])})"


def _overlaps(box: tuple[float, float, float, float], placed: list) -> bool:
    """Whether axes-fraction box (x0, y0, x1, y1) intersects any already placed box."""
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in placed)


def _label_points(
    ax: Axes, xs: np.ndarray, ys: np.ndarray, names: list[str], fontsize: float
) -> None:
    """Annotate points with names, nudging labels vertically so they do not overlap."""
    # Taxonomy similarity is discrete, so many points share an x value and their labels would
    # collide; a small greedy placement in axes-fraction space keeps them legible.
    fig_w, fig_h = ax.figure.get_size_inches()
    pos = ax.get_position()
    ax_w, ax_h = max(fig_w * pos.width, 1.0), max(fig_h * pos.height, 1.0)
    char_w = 0.6 * fontsize / 72 / ax_w
    line_h = 1.25 * fontsize / 72 / ax_h
    (xlo, xhi), (ylo, yhi) = ax.get_xlim(), ax.get_ylim()
    fx = (xs - xlo) / ((xhi - xlo) or 1.0)
    fy = (ys - ylo) / ((yhi - ylo) or 1.0)
    placed: list[tuple[float, float, float, float]] = []
    gap = 0.012
    for i in np.argsort(-fy, kind="stable"):
        width = char_w * len(names[i])
        candidates = []
        for k in range(8):
            for sign in (1, -1) if k else (1,):
                dy = sign * k * line_h
                candidates.append((fx[i] + gap, fy[i] + gap / 2 + dy))
                candidates.append((fx[i] - gap - width, fy[i] + gap / 2 + dy))
        chosen = candidates[0]
        for cx, cy in candidates:
            box = (cx, cy, cx + width, cy + line_h)
            if not _overlaps(box, placed) and 0 <= cx and cx + width <= 1.02:
                chosen = (cx, cy)
                break
        placed.append((chosen[0], chosen[1], chosen[0] + width, chosen[1] + line_h))
        moved = abs(chosen[1] - (fy[i] + gap / 2)) > 1e-9
        ax.annotate(
            names[i],
            (xs[i], ys[i]),
            xytext=chosen,
            textcoords="axes fraction",
            fontsize=fontsize,
            color="0.2",
            va="bottom",
            zorder=4,
            arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5} if moved else None,
        )


def plot_similarity_vs_gain(
    summary: pd.DataFrame,
    similarity: pd.DataFrame,
    correlations: pd.DataFrame,
    path: Path,
    zero_shot: bool = True,
) -> Figure:
    """Scatter of similarity vs mean gain per (model, method), coloured by target task; `zero_shot`
    False (a table without a language axis) labels it the transfer gain. Returns the figure."""
    data = summary.merge(
        similarity[["model", "source", "target", "method", "value"]],
        on=["model", "source", "target"],
    )
    if data.empty:
        raise ValueError("no (model, source, target) pairs shared by gain summary and similarity")
    models = sorted(data["model"].unique())
    methods = sorted(data["method"].unique())
    targets = sorted(data["target"].unique())
    palette = colormaps["tab10" if len(targets) <= 10 else "tab20"]
    colours = {t: palette(i % palette.N) for i, t in enumerate(targets)}

    # Each model gets its own block of rows, its methods wrapped at 3 per row, so a method sits
    # in the same panel position for every model and panels line up for comparison.
    rows_per_model, ncols = _grid(len(methods))
    nrows = len(models) * rows_per_model
    fig = Figure(figsize=(5.0 * ncols + 1.8, 4.3 * nrows + 0.3))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    fig.subplots_adjust(
        left=0.9 / fig.get_figwidth(),
        right=1 - 1.8 / fig.get_figwidth(),
        bottom=0.6 / fig.get_figheight(),
        top=1 - 0.7 / fig.get_figheight(),
        wspace=0.35,
        hspace=0.5,
    )
    any_fit = False
    gain = "zero-shot gain" if zero_shot else "transfer gain"
    for m in range(len(models)):  # the empty slots after each model's last method
        for i in range(len(methods), rows_per_model * ncols):
            axes[m * rows_per_model + i // ncols, i % ncols].set_visible(False)
    for m, model in enumerate(models):
        for i, method in enumerate(methods):
            ax = axes[m * rows_per_model + i // ncols, i % ncols]
            sub = data.loc[(data["model"] == model) & (data["method"] == method)]
            if sub.empty:
                ax.set_visible(False)
                continue
            any_fit = _scatter_panel(ax, sub, colours) or any_fit
            ax.set_title(
                f"{model} — {method} vs {gain}\n{_pooled_spearman(correlations, model, method)}",
                fontsize=10,
            )
            ax.set_xlabel(f"{method} similarity (source, target)")
            ax.set_ylabel(_gain_label(zero_shot).replace(" (", "\n(", 1), fontsize=9)
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            color=colours[t],
            markeredgecolor="black",
            markeredgewidth=0.4,
            label=str(t),
        )
        for t in targets
    ]
    if any_fit:
        handles.append(Line2D([], [], color="0.3", linestyle="--", label="least-squares fit"))
    fig.legend(
        handles=handles,
        title="target task",
        loc="upper left",
        bbox_to_anchor=(1 - 1.65 / fig.get_figwidth(), 1 - 0.7 / fig.get_figheight()),
        fontsize=8,
        title_fontsize=9,
        frameon=False,
    )
    _save(fig, Path(path))
    return fig


def _scatter_panel(ax: Axes, sub: pd.DataFrame, colours: dict) -> bool:
    """Draw one similarity-vs-gain panel; return whether a least-squares line was drawn."""
    x = sub["value"].to_numpy(dtype=float)
    y = sub["gain_mean"].to_numpy(dtype=float)
    ax.scatter(
        x,
        y,
        c=[colours[t] for t in sub["target"]],
        s=36,
        edgecolor="black",
        linewidth=0.4,
        zorder=3,
    )
    ax.axhline(0.0, color="0.75", linewidth=0.8, zorder=1)
    ok = np.isfinite(x) & np.isfinite(y)
    # A fitted line needs at least two distinct x values; otherwise it is undefined.
    fitted = bool(ok.sum() >= 2 and np.ptp(x[ok]) > 0)
    if fitted:
        slope, intercept = np.polyfit(x[ok], y[ok], 1)
        xs = np.linspace(x[ok].min(), x[ok].max(), 50)
        ax.plot(xs, slope * xs + intercept, color="0.3", linestyle="--", linewidth=1.2, zorder=2)
    ax.margins(x=0.15, y=0.15)
    ax.autoscale_view()
    _label_points(ax, x, y, [str(s) for s in sub["source"]], fontsize=6.5)
    return fitted


def plot_transfer_gap(gaps: pd.DataFrame, path: Path) -> None:
    """Bars of the relative transfer gap per target task and language, one panel per model."""
    if gaps.empty:
        raise ValueError("transfer-gap table is empty; nothing to plot")
    models = sorted(gaps["model"].unique())
    targets = sorted(gaps["target"].unique())
    languages = sorted(gaps["language"].unique())
    colours = {
        lang: colormaps["viridis"](i / max(len(languages) - 1, 1))
        for i, lang in enumerate(languages)
    }
    width = 0.8 / len(languages)
    fig = Figure(
        figsize=(max(5.0, 1.2 + 0.35 * len(targets) * len(languages)), 3.6 * len(models)),
        layout="constrained",
    )
    axes = fig.subplots(len(models), 1, squeeze=False)[:, 0]
    for ax, model in zip(axes, models, strict=True):
        sub = gaps.loc[gaps["model"] == model]
        for i, lang in enumerate(languages):
            values = sub.loc[sub["language"] == lang].set_index("target")["gap_percent"]
            heights = [values.get(t, np.nan) for t in targets]
            positions = np.arange(len(targets)) + (i - (len(languages) - 1) / 2) * width
            ax.bar(positions, heights, width, color=colours[lang], label=str(lang))
        mean = sub.groupby("target")["gap_percent"].mean()
        ax.scatter(
            range(len(targets)),
            [mean.get(t, np.nan) for t in targets],
            marker="_",
            s=600,
            color="black",
            zorder=3,
            label="mean over languages",
        )
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_xticks(range(len(targets)), labels=targets)
        ax.set_ylabel("transfer gap\n(% of the English score lost)")
        ax.set_xlabel("target task (target-only baseline)")
        ax.set_title(f"{model}: zero-shot transfer gap per language")
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="language")
    _save(fig, Path(path))
