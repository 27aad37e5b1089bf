"""Published transfer results as input: the analysis of a grid someone else trained.

The results table (CSV or Parquet, chosen by the file's suffix) has one row per published number:

=========== ======== ==========================================================================
column      required meaning
=========== ======== ==========================================================================
source      yes      the intermediate (source) task; `published.baseline_source` (default
                     `none`) marks the no-intermediate baseline rows when the values are scores
target      yes      the target task
score       scores   the target score after source → target (and of the baseline rows)
gain        gains    the gain over the no-intermediate baseline as published (absolute or
                     relative, as the paper reports it; the table has no baseline rows)
model       no       default `published.model`
language    no       the target language (`avg`: a mean over the paper's zero-shot languages);
                     without the column the table has no language axis (see below)
seed        no       default 0
metric      no       default `published.metric`; one metric per (model, target)
note        no       free text, ignored
(label)     no       the column `published.gold_label` names: the paper's own gold ranking of
                     the sources (higher = better), by which Regret@k takes the gold top k
                     instead of by the values (TaskWeb's evaluation); empty on baseline rows
=========== ======== ==========================================================================

`published.values` says which of `score` and `gain` the table holds. An optional similarity
table (`published.similarity`) holds columns `source, target, method, value` (and optionally
`model`; without it a value holds for every model): any predictor of transfer, e.g. a paper's
own task-embedding similarity or source-selection score, so that it is scored by the same
correlations, NDCG@k and Regret@k as the methods computed here. It needs a value for every
(model, source, target) the results have, and may leave out the others (e.g. source = target);
`read_design` and `load_similarity` check that at the dry run.

A table without a `language` column, or whose rows all have `published.source_language`, has no
language axis (e.g. a monolingual English source × target grid): every row is kept
(`PublishedDesign.source_language` is None), and the answer, summary page and plots speak of the
transfer gain rather than of zero-shot transfer. A table with a language axis needs, for every
(model, source, target), a row in another language. A gains table needs no baseline rows: source
selection reports Regret@k in points from the gains (`regret_points`), relative Regret@k only
where target scores exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xltransfer.names import ALPHABET, is_safe_name
from xltransfer.similarity.measures import describe_missing, missing_facets

RESULT_DEFAULTS = {"language": "avg", "seed": 0}  # language `avg`: no language axis
OPTIONAL_COLUMNS = ("model", "language", "seed", "metric", "note")
SIMILARITY_FILE_COLUMNS = ("source", "target", "method", "value")


class PublishedTableError(ValueError):
    """A published table that cannot be read as documented; the message names file and rows."""


@dataclass(frozen=True)
class PublishedDesign:
    """The grid a published table covers: what the analysis rules iterate over.

    `source_language` is the language whose rows the zero-shot analysis leaves out; None when the
    table has no language axis (`has_language_axis` False), so that every row is kept. `pairs`
    are the (model, source, target) the results cover, which a similarity table must cover.
    """

    models: list[str]
    sources: list[str]
    targets: list[str]
    source_language: str | None
    has_language_axis: bool = True
    pairs: tuple[tuple[str, str, str], ...] | None = None


# The fewest source tasks per (model, target) a correlation over sources can be read from.
MIN_SOURCES = 3


def read_table(path: Path | str) -> pd.DataFrame:
    """A CSV or Parquet file as a frame, refusing other formats by name."""
    path = Path(path)
    if not path.is_file():
        raise PublishedTableError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise PublishedTableError(f"{path}: expected a .csv or .parquet file, not {suffix!r}")
    import pyarrow

    try:
        if suffix == ".csv":
            return pd.read_csv(path, comment="#", skipinitialspace=True)
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise PublishedTableError(f"{path}: the file is empty (no header, no rows)") from None
    except (pd.errors.ParserError, pyarrow.ArrowInvalid, UnicodeDecodeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PublishedTableError(f"{path}: cannot be read as {suffix[1:]}: {first}") from None


def _rows(mask: np.ndarray, limit: int = 10) -> str:
    # Data rows counted from 1, below the header and any comment lines.
    lines = [str(i + 1) for i in np.flatnonzero(mask)[:limit]]
    more = int(mask.sum()) - len(lines)
    return ", ".join(lines) + (f" and {more} more" if more > 0 else "")


def _checked_names(frame: pd.DataFrame, columns: list[str], where: str) -> None:
    for column in columns:
        text = frame[column].astype(str)
        bad = ~text.map(is_safe_name).to_numpy()
        if bad.any():
            raise PublishedTableError(
                f"{where}: column {column!r} has names that do not use only {ALPHABET} "
                f"(rows {_rows(bad)}): {sorted(set(text[bad]))[:5]}"
            )


def _checked_numbers(frame: pd.DataFrame, column: str, where: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = ~np.isfinite(values.to_numpy(dtype=float))
    if bad.any():
        raise PublishedTableError(
            f"{where}: column {column!r} must hold finite numbers; rows {_rows(bad)} do not"
        )
    return values.astype(float)


def load_results(settings: dict[str, Any]) -> pd.DataFrame:
    """The published results as the workflow's gains table (columns `GAIN_COLUMNS`)."""
    return _load_results(settings, read_table(settings["table"]))


def _load_results(settings: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    # Imported here: the Snakefile reads this module to plan, and gains pulls in scipy.
    from xltransfer.analysis.gains import GOLD_LABEL, SCORE_KEY

    path = Path(settings["table"])
    where = str(path)
    value_column = {"scores": "score", "gains": "gain"}[settings["values"]]
    required = ["source", "target", value_column]
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise PublishedTableError(
            f"{where}: missing column(s) {missing}; published.values is "
            f"{settings['values']!r}, so the table needs {required}"
        )
    label = settings.get("gold_label")
    if label is not None and label not in frame.columns:
        raise PublishedTableError(
            f"{where}: published.gold_label names column {label!r}, which the table lacks "
            f"(its columns: {list(frame.columns)})"
        )
    optional = [*OPTIONAL_COLUMNS, *([label] if label else [])]
    unknown = sorted(set(frame.columns) - set(required) - set(optional))
    if unknown:
        raise PublishedTableError(
            f"{where}: unknown column(s) {unknown}; allowed are {required} and {optional}"
        )
    if frame.empty:
        raise PublishedTableError(f"{where}: no rows")
    defaults = {**RESULT_DEFAULTS, "model": settings["model"], "metric": settings["metric"]}
    for column, default in defaults.items():
        if column not in frame.columns:
            frame[column] = default
        elif (empty := frame[column].isna().to_numpy()).any():
            raise PublishedTableError(f"{where}: column {column!r} is empty on rows {_rows(empty)}")
    frame[value_column] = _checked_numbers(frame, value_column, where)
    frame["seed"] = _checked_numbers(frame, "seed", where).astype("int64")
    for column in ("model", "source", "target", "language", "metric"):
        frame[column] = frame[column].astype(str)
    _checked_names(frame, ["model", "source", "target"], where)
    duplicated = frame.duplicated(SCORE_KEY, keep=False).to_numpy()
    if duplicated.any():
        raise PublishedTableError(
            f"{where}: more than one value for the same {SCORE_KEY} on rows {_rows(duplicated)}"
        )
    metrics = frame.groupby(["model", "target"])["metric"].nunique()
    if (metrics > 1).any():
        pairs = [f"{m}/{t}" for m, t in metrics[metrics > 1].index]
        raise PublishedTableError(f"{where}: more than one metric for model/target {pairs}")
    frame["primary"] = True
    baseline = settings["baseline_source"]
    gains = _gains(frame, value_column, baseline, where)
    if label is None:
        return gains
    labels = pd.to_numeric(frame[label], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(labels) & (frame["source"] != baseline).to_numpy()
    if bad.any():
        raise PublishedTableError(
            f"{where}: column {label!r} (published.gold_label) must hold a finite number on "
            f"every source's row; rows {_rows(bad)} do not"
        )
    frame[GOLD_LABEL] = labels
    labelled = frame[[*SCORE_KEY, GOLD_LABEL]]
    return gains.merge(labelled, on=SCORE_KEY, how="left", validate="one_to_one")


def _gains(frame: pd.DataFrame, value_column: str, baseline: str, where: str) -> pd.DataFrame:
    """The checked table as gains: computed against the baseline rows, or as published."""
    from xltransfer.analysis.gains import GAIN_COLUMNS, SCORE_KEY, compute_gains

    if value_column == "score":
        scores = frame.rename(columns={"score": "value"})
        if not (scores["source"] == baseline).any():
            raise PublishedTableError(
                f"{where}: published.values is 'scores' but no row has source {baseline!r} "
                "(published.baseline_source), so there is nothing to compute gains against"
            )
        trained = scores.loc[scores["source"] != baseline, ["model", "target"]].drop_duplicates()
        alone = (
            scores[["model", "target"]].drop_duplicates().merge(trained, how="left", indicator=True)
        )
        alone = alone[alone["_merge"] == "left_only"]
        if len(alone):
            pairs = [f"{m}/{t}" for m, t in alone[["model", "target"]].to_numpy()]
            raise PublishedTableError(
                f"{where}: model/target {pairs} have only baseline rows (source {baseline!r}), "
                "so no gain; give their source tasks' rows or drop them"
            )
        try:
            return compute_gains(scores, baseline)
        except ValueError as error:
            raise PublishedTableError(f"{where}: {error}") from error
    if (frame["source"] == baseline).any():
        raise PublishedTableError(
            f"{where}: published.values is 'gains' but rows "
            f"{_rows((frame['source'] == baseline).to_numpy())} have the baseline source "
            f"{baseline!r}; a gain of the baseline over itself is not a result"
        )
    frame["score"] = math.nan
    frame["baseline_score"] = math.nan
    return frame[GAIN_COLUMNS].sort_values(SCORE_KEY, kind="mergesort").reset_index(drop=True)


def language_axis(languages: pd.Series | None, source_language: str) -> bool:
    """Whether a table's `language` column (None: it has none) is a language axis: False
    without the column or when every row is `source_language` (a monolingual grid)."""
    if languages is None:
        return False
    return set(languages.astype(str)) != {str(source_language)}


def design(
    gains: pd.DataFrame,
    source_language: str,
    has_language_axis: bool = True,
    where: str = "published table",
) -> PublishedDesign:
    """Models, sources and targets a published gains table covers, in a stable order.

    With a language axis, every (model, source, target) needs a row in a language other than
    `source_language` (else it would drop out of the zero-shot analysis without a word)."""
    triple = ["model", "source", "target"]
    if has_language_axis:
        other = gains["language"] != source_language
        have = gains.loc[other, triple].drop_duplicates()
        lacking = gains[triple].drop_duplicates().merge(have, how="left", indicator=True)
        lacking = lacking.loc[lacking["_merge"] == "left_only", triple]
        if len(lacking):
            listed = list(map(tuple, lacking.to_numpy()[:5]))
            more = f" and {len(lacking) - 5} more" if len(lacking) > 5 else ""
            raise PublishedTableError(
                f"{where}: {len(lacking)} (model, source, target) have only "
                f"published.source_language {source_language!r} rows, so no zero-shot gain: "
                f"{listed}{more}; give their other languages' rows, or drop the language column "
                "for a table without a language axis"
            )
    pairs = tuple(sorted(map(tuple, gains[triple].drop_duplicates().astype(str).to_numpy())))
    return PublishedDesign(
        models=sorted(gains["model"].unique()),
        sources=sorted(gains["source"].unique()),
        targets=sorted(gains["target"].unique()),
        source_language=source_language if has_language_axis else None,
        has_language_axis=has_language_axis,
        pairs=pairs,
    )


def read_design(settings: dict[str, Any]) -> PublishedDesign:
    """The design of the table `settings` (the config's `published`) names, read and checked
    at parse time so that a malformed table fails the dry run."""
    frame = read_table(settings["table"])
    source_language = settings.get("source_language", "en")
    axis = language_axis(frame.get("language"), source_language)
    gains = _load_results(settings, frame)
    where = str(settings["table"])
    _check_enough_sources(gains, where)
    return design(gains, source_language, axis, where=where)


def _check_enough_sources(gains: pd.DataFrame, where: str) -> None:
    # Correlations over sources need three: with two, Spearman's rho is always +1 or -1; with
    # one, every ranking (random included) has NDCG 1. Counted per target, not over the table.
    counts = gains.groupby(["model", "target"])["source"].nunique()
    few = counts[counts < MIN_SOURCES]
    if len(few):
        listed = ", ".join(f"{t} ({m}): {n}" for (m, t), n in list(few.items())[:5])
        more = f" and {len(few) - 5} more" if len(few) > 5 else ""
        raise PublishedTableError(
            f"{where}: target(s) with fewer than {MIN_SOURCES} source tasks: {listed}{more}; a "
            "correlation over sources needs three (with two, Spearman's rho is always +1 or -1; "
            "with one, every ranking scores NDCG 1): give more sources' rows or drop the target"
        )


def table_has_language_axis(config: dict[str, Any]) -> bool:
    """Whether a run's gains have a language axis: always for a trained grid, and for a
    published table as `language_axis` reads its `language` column (a job's wording flag)."""
    published = config.get("published")
    if not published:
        return True
    frame = read_table(published["table"])
    return language_axis(frame.get("language"), published.get("source_language", "en"))


def check_taxonomy(config: dict[str, Any], sources: list[str], targets: list[str]) -> None:
    """Every missing taxonomy facet of every task of a published run, in one message."""
    methods = config["similarity"]["methods"]
    if not {"taxonomy", "wu_palmer"} & set(methods):
        return
    levels = config["similarity"]["taxonomy_tree"] if "wu_palmer" in methods else []
    facets = config["published"].get("taxonomy", {})
    missing = missing_facets(facets, [*sources, *targets], levels)
    if missing:
        raise PublishedTableError(
            f"published.taxonomy: {len(missing)} task(s) of the table lack facets that the "
            f"similarity methods {methods} need:\n{describe_missing(missing, levels)}"
        )


def load_similarity(path: Path | str, grid: PublishedDesign, reserved: list[str]) -> pd.DataFrame:
    """An external similarity (or selection score) table, one value per model/source/target."""
    frame = read_table(path)
    where = str(path)
    missing = [column for column in SIMILARITY_FILE_COLUMNS if column not in frame.columns]
    if missing:
        raise PublishedTableError(
            f"{where}: missing column(s) {missing}; a similarity table has "
            f"{list(SIMILARITY_FILE_COLUMNS)} and optionally 'model'"
        )
    frame["value"] = _checked_numbers(frame, "value", where)
    for column in ("source", "target", "method"):
        frame[column] = frame[column].astype(str)
    _checked_names(frame, ["source", "target", "method"], where)
    clash = sorted(set(frame["method"]) & set(reserved))
    if clash:
        raise PublishedTableError(
            f"{where}: methods {clash} are computed by this workflow (similarity.methods); "
            "rename the published ones, e.g. 'paper_taskemb'"
        )
    if "model" not in frame.columns:
        frame = pd.concat([frame.assign(model=m) for m in grid.models], ignore_index=True)
    frame["model"] = frame["model"].astype(str)
    duplicated = frame.duplicated(["model", "source", "target", "method"]).to_numpy()
    if duplicated.any():
        raise PublishedTableError(f"{where}: more than one value per model/source/target/method")
    pairs = grid.pairs or tuple(
        (m, s, t) for m in grid.models for s in grid.sources for t in grid.targets
    )
    needed = pd.DataFrame(list(pairs), columns=["model", "source", "target"])
    for method, rows in frame.groupby("method"):
        have = needed.merge(
            rows[["model", "source", "target"]].drop_duplicates(), how="left", indicator=True
        )
        absent = list(map(tuple, have.loc[have["_merge"] == "left_only"].to_numpy()[:, :3]))
        if absent:
            more = f" and {len(absent) - 5} more" if len(absent) > 5 else ""
            raise PublishedTableError(
                f"{where}: method {method!r} has no value for {len(absent)} (model, source, "
                f"target) of the results table: {absent[:5]}{more}"
            )
    return frame[["model", "source", "target", "method", "value"]].reset_index(drop=True)
