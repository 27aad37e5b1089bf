"""One function per workflow job: read inputs, call the library, write outputs atomically.

Workflow scripts are thin adapters onto these, so every job can also run without Snakemake.
torch and matplotlib are imported inside the jobs that need them, so light jobs start fast.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from xltransfer.analysis import gains as analysis
from xltransfer.data.load import load_split, standardize
from xltransfer.data.tasks import TaskSpec
from xltransfer.io import (
    atomic_path,
    read_parquet_checked,
    read_parquets_checked,
    write_bytes_atomic,
    write_json_atomic,
    write_parquet_atomic,
)
from xltransfer.similarity import measures as similarity
from xltransfer.spec import PretrainSpec

log = logging.getLogger(__name__)
# Fault injection for the rerun tests (off unless set): evaluation shards named here, as
# comma-separated `source/target/shard` entries, fail instead of running.
FAIL_EVALUATE = "XLTRANSFER_FAIL_EVALUATE"


class InjectedFailure(RuntimeError):
    """A failure asked for through a fault-injection variable."""


def prepare_data(
    task: TaskSpec, language: str, role: str, output: Path, folder: Path | None = None
) -> pd.DataFrame:
    """Read one split (from `folder` where staging put a Hub dataset) and write it in the
    standard shape."""
    frame = standardize(task, load_split(task, language, role, folder), language, role)
    write_parquet_atomic(frame, output)
    log.info("%s/%s/%s: %d rows -> %s", task.name, language, role, len(frame), output)
    return frame


def demo_benchmark(settings: dict[str, Any], output: Path) -> None:
    """Generate the embedded synthetic benchmark."""
    from xltransfer.demo import build_benchmark

    build_benchmark(
        output,
        seed=settings["seed"],
        languages=settings["languages"],
        train_size=settings["train_size"],
        dev_size=settings["dev_size"],
        test_size=settings["test_size"],
        corpus_sentences_per_language=settings["corpus_sentences_per_language"],
    )


def _corpus_texts(corpus: Path) -> list[str]:
    # The corpus is <benchmark>/corpus/corpus.parquet, inside the demo benchmark's directory
    # output, which Snakemake does not look into: an unreadable corpus moves the whole benchmark
    # aside so that the next run generates it again.
    return read_parquet_checked(corpus, aside=corpus.parent.parent)["text"].tolist()


def train_tokenizer(corpus: Path, build: dict[str, Any], output: Path) -> None:
    """Train the demo model's tokenizer on every language of the corpus."""
    from xltransfer.training.pretrain import train_tokenizer as train

    texts = _corpus_texts(corpus)
    spec = PretrainSpec.from_dict(build)
    tokenizer = train(texts, spec.vocab_size, spec.architecture)
    with atomic_path(output) as staging:
        tokenizer.save_pretrained(staging)
    log.info("tokenizer with %d entries from %d sentences", len(tokenizer), len(texts))


def pretrain(corpus: Path, tokenizer: Path, build: dict[str, Any], output: Path, threads: int):
    """Pretraining of the demo model on the whole multilingual corpus."""
    from xltransfer.training.pretrain import pretrain_mlm

    texts = _corpus_texts(corpus)
    with atomic_path(output) as staging:
        losses = pretrain_mlm(texts, tokenizer, PretrainSpec.from_dict(build), staging, threads)
        (Path(staging) / "pretraining_losses.json").write_text(json.dumps(losses))


def shard_context(wildcards) -> dict:
    """The keys every score row of one evaluation shard carries, from its job's wildcards."""
    return {
        "run": wildcards.run,
        "model": wildcards.model,
        "source": wildcards.source,
        "target": wildcards.target,
        "seed": int(wildcards.seed),
        "shard": int(wildcards.shard),
    }


def evaluate(
    checkpoint: Path,
    tests: list[Path],
    languages: list[str],
    context: dict,
    output: Path,
    threads: int,
    alignment: dict | None = None,
    english_test: str | None = None,
    task: dict | None = None,
) -> pd.DataFrame:
    """Zero-shot scores of one checkpoint on a shard of languages (with projection-aligned ones
    for a bi-encoder when `alignment` and the English test split are given), scored as `task`
    (a TaskHead's fields) where the checkpoint is shared by several targets."""
    from xltransfer.evaluation.zero_shot import evaluate_shard
    from xltransfer.spec import TaskHead
    from xltransfer.training.finished import release_finished

    _fail_if_asked(context)
    frame = evaluate_shard(
        checkpoint,
        dict(zip(languages, tests, strict=True)),
        context=context,
        threads=threads,
        alignment=alignment,
        english_test=Path(english_test) if english_test else None,
        task=TaskHead(**{**task, "labels": tuple(task["labels"])}) if task else None,
    )
    write_parquet_atomic(frame, output)
    # Scored: the fine-tune its training kept for a retry is no longer needed.
    release_finished(checkpoint)
    return frame


def _fail_if_asked(context: dict) -> None:
    shard = f"{context['source']}/{context['target']}/{context['shard']}"
    if shard in os.environ.get(FAIL_EVALUATE, "").split(","):
        raise InjectedFailure(f"{FAIL_EVALUATE} names shard {shard}: failing as asked")


def evaluate_retrieval(
    encoder: str,
    revision: str | None,
    checkpoint: Path | None,
    files: dict[str, dict[str, Path]],
    settings: dict,
    context: dict,
    output: Path,
    threads: int,
) -> pd.DataFrame:
    """Retrieval scores of one encoder (a source checkpoint's, or with `checkpoint` None the
    pretrained model's) on a shard of languages; `files[lang][role]` are standardised splits."""
    from xltransfer.evaluation.retrieval import (
        RetrievalSetup,
        encoder_summary,
        evaluate_retrieval_shard,
    )
    from xltransfer.models.checkpoints import checked_checkpoint
    from xltransfer.training.loop import read_summary

    _fail_if_asked(context)
    trained = None
    if checkpoint is not None:
        with checked_checkpoint(checkpoint):
            trained = read_summary(checkpoint)
    summary = encoder_summary(trained, encoder, revision)
    alignment = settings["alignment"]
    frame = evaluate_retrieval_shard(
        checkpoint if checkpoint is not None else encoder,
        files,
        context=context,
        summary=summary,
        setup=RetrievalSetup(
            mine=settings["mine"],
            margin_k=settings["margin_k"],
            alignment=alignment["method"],
            folds=alignment["folds"],
            seed=settings["seed"],
        ),
        layer=settings["layer"],
        primary_metric=settings["metric"],
        max_length=settings["max_length"],
        batch_size=settings["batch_size"],
        revision=revision if checkpoint is None else None,
        threads=threads,
    )
    write_parquet_atomic(frame, output)
    return frame


def taxonomy_similarity(
    facets: dict,
    method: str,
    setting: dict | list,
    models: list[str],
    sources: list[str],
    targets: list[str],
    output: Path,
) -> pd.DataFrame:
    """Taxonomy similarity of every (source, target), repeated per model for uniform joins.

    `method` is `taxonomy` (`setting`: facet weights) or `wu_palmer` (`setting`: tree levels).
    """
    if method == "wu_palmer":
        base = similarity.wu_palmer_similarity(facets, list(sources), list(targets), list(setting))
    else:
        base = similarity.taxonomy_similarity(facets, list(sources), list(targets), dict(setting))
    return _write_for_every_model(base, models, output)


def _write_for_every_model(base: pd.DataFrame, models: list[str], output: Path) -> pd.DataFrame:
    """A model-independent similarity repeated per model, so every method joins the same way."""
    frame = pd.concat([base.assign(model=m) for m in models], ignore_index=True)
    frame = frame[similarity.SIMILARITY_COLUMNS]
    write_parquet_atomic(frame, output)
    return frame


def vocabulary_similarity(
    train_files: dict[str, Path],
    size: int,
    models: list[str],
    sources: list[str],
    targets: list[str],
    output: Path,
    heads: dict[str, str],
) -> pd.DataFrame:
    """Vocabulary overlap of every (source, task) from the tasks' English training text (a
    retrieval task's English sentences, a multiple-choice task's answers too); `heads[task]`
    names the task's kind."""
    from xltransfer.data.load import read_standard
    from xltransfer.kinds import get_kind

    vocabularies = {}
    for task, path in train_files.items():
        frame = read_standard(Path(path))
        # What the method reads of the task (a retrieval task: its English side).
        frame, kind = get_kind(heads[task]).similarity_view(frame, "vocab_overlap")
        texts = kind.vocabulary_texts(frame)
        vocabularies[task] = similarity.top_vocabulary(texts, size)
        log.info("vocab_overlap %s: %d word types", task, len(vocabularies[task]))
    base = similarity.vocabulary_overlap(vocabularies, list(sources), list(targets))
    return _write_for_every_model(base, models, output)


def merge_similarity(inputs: list[Path], output: Path) -> pd.DataFrame:
    """All similarity methods in one long table."""
    frame = pd.concat(read_parquets_checked(inputs), ignore_index=True)
    write_parquet_atomic(frame, output)
    return frame


def aggregate(expected: list[Path], allow_partial: bool, output: Path) -> pd.DataFrame:
    """All evaluation shards in one table (refuses a partial table unless allowed)."""
    frame = analysis.aggregate_scores([Path(p) for p in expected], allow_partial)
    write_parquet_atomic(frame, output)
    return frame


def gains(scores: Path, output: Path) -> pd.DataFrame:
    """Gain of every source over the target-only baseline, per score row."""
    from xltransfer.evaluation.alignment import add_alignment_gains

    table = read_parquet_checked(scores)
    frame = add_alignment_gains(analysis.compute_gains(table), table)
    write_parquet_atomic(frame, output)
    return frame


def import_published(settings: dict, output: Path) -> pd.DataFrame:
    """A published result table as the workflow's gains table."""
    from xltransfer.analysis.published import load_results

    frame = load_results(settings)
    write_parquet_atomic(frame, output)
    log.info(
        "imported %d %s rows of %s",
        len(frame),
        settings["values"],
        ", ".join(f"{c}={frame[c].nunique()}" for c in ("model", "source", "target", "language")),
    )
    return frame


def import_similarity(path: Path, grid, reserved: list[str], output: Path) -> pd.DataFrame:
    """A published similarity (or selection-score) table in the workflow's similarity layout."""
    from xltransfer.analysis.published import load_similarity

    frame = load_similarity(path, grid, list(reserved))
    write_parquet_atomic(frame[similarity.SIMILARITY_COLUMNS], output)
    return frame


def correlate(
    gains_file: Path,
    similarity_file: Path,
    source_language: str,
    outputs: dict[str, Path],
    inference: dict | None = None,
) -> str:
    """Per-(source, target) gain summary, correlations, the mixed model and the headline."""
    from xltransfer.analysis.mixed_model import mixed_effects

    settings = analysis.InferenceSettings(**(inference or {}))
    gains, similarity_table = read_parquets_checked([gains_file, similarity_file])
    summary = analysis.summarize_gains(gains, source_language)
    correlations = analysis.correlate(gains, similarity_table, source_language, settings)
    headline = analysis.headline(correlations)
    pairs = analysis.zero_shot_pairs(gains, similarity_table, source_language)
    mixed = mixed_effects(pairs, settings.confidence, variant=settings.mixed_model)
    write_parquet_atomic(mixed, outputs["mixed_effects"])
    write_parquet_atomic(summary, outputs["summary"])
    write_parquet_atomic(correlations, outputs["correlations"])
    write_bytes_atomic(Path(outputs["headline"]), (headline + "\n").encode())
    return headline


def transfer_gap(scores: Path, source_language: str, outputs: dict) -> pd.DataFrame:
    """Choi et al.'s per-task transfer gap of the target-only baselines: table and bars."""
    from xltransfer.report import plots

    gaps = analysis.transfer_gaps(read_parquet_checked(scores), source_language)
    write_parquet_atomic(gaps, outputs["table"])
    plots.plot_transfer_gap(gaps, Path(outputs["plot"]))
    return gaps


def task_embedding(
    method: str,
    model: str,
    embedder: str,
    task: str,
    train_file: Path,
    head: str,
    settings: dict,
    output: Path,
) -> pd.DataFrame:
    """TextEmb or TaskEmb vectors of one task under one model: one row per component.

    `embedder` is what embeds the task: the pretrained encoder for TextEmb and the probes
    (`task2vec`, `head_input_probe`), the checkpoint fine-tuned on that task for `fine_tuned`
    TaskEmb (Vu et al. 2020, `xltransfer.similarity.task_fisher`). `head` names the task's
    kind, whose `similarity_view` says what the method reads (a retrieval task: its English
    side, or its pairing for TaskEmb). One task per job: a task added to the grid, or one whose
    checkpoint changed, is embedded alone, and a temporary target-only checkpoint is read while
    it exists (`compare_task_embeddings` pairs the tasks).
    """
    import numpy as np
    import torch

    from xltransfer.data.load import read_standard
    from xltransfer.kinds import get_kind
    from xltransfer.similarity.embeddings import (
        EMBEDDING_COLUMNS,
        head_input_probe_embedding,
        task2vec_embedding,
        text_embedding,
    )
    from xltransfer.similarity.task_fisher import REFERENCE_LABEL_DRAWS, fisher_components

    torch.set_num_threads(int(settings.get("threads", 1)))
    frame, kind = get_kind(head).similarity_view(
        read_standard(Path(train_file)), method, settings["seed"]
    )
    common = {
        "n_examples": settings["examples"],
        "max_length": settings["max_length"],
        "seed": settings["seed"],
    }
    taskemb_model = settings.get("taskemb_model")
    if method == "textemb":
        if settings["textemb_all_examples"]:
            common["n_examples"] = None
        qa_windows = settings["textemb_qa_windows"]
        parts = {
            "mean": text_embedding(embedder, frame, **common, qa_windows=qa_windows, kind=kind)
        }
    elif taskemb_model == "head_input_probe":
        parts = {"head_input": head_input_probe_embedding(embedder, frame, kind=kind, **common)}
    elif taskemb_model == "task2vec":  # Task2Vec's own labels: sampled from the probe
        parts = task2vec_embedding(embedder, frame, kind=kind, **common)
    else:
        parts = fisher_components(
            embedder,
            frame,
            **common,
            labels=settings["taskemb_labels"],
            estimator=settings["taskemb_estimator"],
            label_draws=settings.get("taskemb_label_draws", REFERENCE_LABEL_DRAWS),
            parameters=tuple(settings.get("taskemb_parameters", ())),
        )
    rows = pd.DataFrame(
        [
            {
                "model": model,
                "task": task,
                "method": method,
                "component": component,
                "vector": np.asarray(vector, dtype=np.float64).tolist(),
            }
            for component, vector in parts.items()
        ],
        columns=EMBEDDING_COLUMNS,
    )
    log.info("%s %s %s: components %s", method, model, task, {c: len(v) for c, v in parts.items()})
    write_parquet_atomic(rows, output)
    return rows


def compare_task_embeddings(
    method: str,
    vector_files: list[Path],
    sources: list[str],
    targets: list[str],
    settings: dict,
    outputs: dict[str, Path],
) -> pd.DataFrame:
    """Similarities of every (source, target) per model from the tasks' vectors
    (`task_embedding`), and all the vectors in one table.

    TextEmb: one vector per task (component `mean`), compared by cosine, centred on the grid's
    mean vector under `textemb_centre`. TaskEmb `fine_tuned` and `task2vec`: one vector per
    component, compared per component and combined (`taskemb_combine`: reciprocal rank fusion
    or the cosine of the concatenated unit components, `xltransfer.similarity.rank_fusion`);
    `head_input_probe`: one vector (component `head_input`), cosine. The vectors table has one
    row per (model, task, method, component).
    """
    import numpy as np

    from xltransfer.similarity.embeddings import (
        EMBEDDING_COLUMNS,
        centred_cosine_similarities,
        cosine_similarities,
    )
    from xltransfer.similarity.rank_fusion import combine_component_similarities

    vectors = pd.concat(
        [read_parquet_checked(Path(path)) for path in vector_files], ignore_index=True
    )[EMBEDDING_COLUMNS]
    components = settings.get("taskemb_model") in ("fine_tuned", "task2vec")

    def compare(by_task: dict[str, dict[str, np.ndarray]], targets: list[str]) -> pd.DataFrame:
        if components:
            combine = settings["taskemb_combine"]
            return combine_component_similarities(by_task, sources, targets, method, combine)
        (name,) = {name for parts in by_task.values() for name in parts}
        single = {task: parts[name] for task, parts in by_task.items()}
        if method == "textemb" and settings["textemb_centre"]:
            return centred_cosine_similarities(single, sources, targets, method)
        return cosine_similarities(single, sources, targets, method)

    tables = []
    for model, rows in vectors.groupby("model", sort=False):
        by_task: dict[str, dict[str, np.ndarray]] = {}
        for row in rows.itertuples():
            by_task.setdefault(row.task, {})[row.component] = np.asarray(row.vector)
        # A method that covers only some targets (fine-tuned TaskEmb: those with a task head)
        # compares those; the others' pairs have no value under it.
        covered = [target for target in targets if target in by_task]
        tables.append(compare(by_task, covered).assign(model=model))
    frame = pd.concat(tables, ignore_index=True)[similarity.SIMILARITY_COLUMNS]
    write_parquet_atomic(vectors, outputs["vectors"])
    write_parquet_atomic(frame, outputs["similarity"])
    return frame


def pin_repository(repository: dict, key: str, cache: str, output: Path) -> str:
    """The commit one Hub repository (repo_id, repo_type, revision) is staged at, written to
    the run's commit file: its lock's, or where `XLTRANSFER_STAGE_UPDATE` names it (`make
    stage-update`), its revision's now. `key` names the config entry in messages."""
    from xltransfer.data.staging import STAGE_UPDATE, StageRequest, pin

    parsed = StageRequest.from_json({**repository, "key": key})
    update = os.environ.get(STAGE_UPDATE, "").split(",")
    commit = pin(parsed, cache, update="all" in update or parsed.repo_id in update)
    pinned = {"repo_id": parsed.repo_id, "repo_type": parsed.repo_type, "commit": commit}
    write_json_atomic(output, {**pinned, "revision": parsed.revision})
    log.info("%s: %s -> %s", parsed.what, parsed.revision, commit)
    return commit


def stage_repository(request: dict, cache: str, commit_file: Path, output: Path) -> dict:
    """Stage one Hub repository into the cache at its pinned commit and write the run's receipt
    (its lock)."""
    from xltransfer.data.staging import StageRequest, read_lock, stage

    parsed = StageRequest.from_json(request)
    lock = stage(parsed, cache, commit=read_lock(commit_file)["commit"])
    write_json_atomic(output, lock)
    size = sum(f["size"] for f in lock["files"])
    log.info("%s at %s: %d files, %d bytes", parsed.what, lock["commit"], len(lock["files"]), size)
    return lock


def stage_manifest(receipts: list[str], output: Path) -> dict:
    """Every staged repository of the run in one file: revision, commit, files and sizes."""
    from xltransfer.data.staging import read_lock

    manifest = {"repositories": [read_lock(path) for path in sorted(receipts)]}
    write_json_atomic(output, manifest)
    return manifest
