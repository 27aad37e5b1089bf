"""Zero-shot evaluation: load a target checkpoint once and score every language of a shard."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from accelerate import Accelerator

from xltransfer.data.load import read_standard
from xltransfer.evaluation.alignment import aligned_sts_scores
from xltransfer.kinds.encoding_cache import cache_beside
from xltransfer.models.bi_encoder import sentence_embeddings
from xltransfer.models.checkpoints import checked_checkpoint
from xltransfer.models.factory import load_tokenizer, model_class
from xltransfer.results import score_rows
from xltransfer.spec import Hyperparameters, TaskHead
from xltransfer.training.loop import read_summary

log = logging.getLogger(__name__)


def evaluate_shard(
    checkpoint: Path,
    test_files: dict[str, Path],
    *,
    context: dict,
    threads: int = 1,
    alignment: dict | None = None,
    english_test: Path | None = None,
    task: TaskHead | None = None,
) -> pd.DataFrame:
    """Scores of one checkpoint on each language's test split, one row per (language, metric).

    A bi-encoder also gets `<metric>_aligned` scores in every language but English when
    `alignment` (method, folds, seed; method `none` for none) and the English test split, the
    translations the alignment is fit on, are given."""
    torch.set_num_threads(threads)
    with checked_checkpoint(checkpoint):
        summary = read_summary(checkpoint)
    spec = summary["spec"]
    hp = Hyperparameters.from_dict(spec["hyperparameters"])  # defaults for keys added later
    trained = TaskHead(**{**spec["task"], "labels": tuple(spec["task"]["labels"])})
    # A shared fine-tune (MLQA scored from XQuAD's SQuAD runs) is scored as the target it serves.
    task = task or trained
    if (task.head, task.labels) != (trained.head, trained.labels):
        raise ValueError(
            f"{checkpoint}: fine-tuned for {trained.task} ({trained.head}, "
            f"{list(trained.labels)}), which cannot score {task.task} ({task.head}, "
            f"{list(task.labels)})"
        )
    accelerator = Accelerator(mixed_precision=summary["mixed_precision"])
    tokenizer = load_tokenizer(str(checkpoint))
    with checked_checkpoint(checkpoint):
        model = model_class(trained.kind).from_pretrained(checkpoint)
    model = accelerator.prepare(model)
    scores, sizes = {}, {}
    embedded: dict[tuple[str, ...], object] = {}

    def embed_sentences(texts: list[str]):
        # Every language's alignment fits onto the same English sentences: embed them once.
        key = tuple(texts)
        if key not in embedded:
            embedded[key] = sentence_embeddings(
                accelerator.unwrap_model(model),
                tokenizer,
                texts,
                max_length=hp.max_length,
                batch_size=hp.eval_batch_size,
            )
        return embedded[key]

    # Read as it was trained (a text-to-text run's verbaliser), scored as the target it serves.
    kind = trained.kind
    batch_size = hp.eval_batch_size
    for language, path in test_files.items():
        frame = read_standard(Path(path))
        answer_language = task.answer_language(language)
        split = SplitToScore(frame, trained.labels, hp, answer_language, cache_beside(path))
        scores[language], batch_size = score_largest_batch(
            kind, model, tokenizer, accelerator, split, batch_size
        )
        if trained.kind.aligns_embeddings and _aligns(alignment, english_test, path):
            scores[language] |= aligned_sts_scores(
                embed_sentences,
                read_standard(Path(path)),
                read_standard(Path(english_test)),
                method=alignment["method"],
                folds=alignment["folds"],
                seed=alignment["seed"],
            )
        sizes[language] = len(frame)  # examples scored (QA: questions, not windows)
        log.info("%s %s: %s", context.get("target"), language, scores[language])
    rows = score_rows(
        scores,
        context=context,
        summary=summary,
        primary_metric=task.metric,
        n_examples=sizes,
    )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SplitToScore:
    """A standardised test split and how its run reads it."""

    frame: pd.DataFrame
    labels: tuple[str, ...]
    hyperparameters: Hyperparameters
    answer_language: str | None
    # Where the split's encoding is cached (None: encoded here, not kept).
    cache: Path | None = None


def score_largest_batch(
    kind, model, tokenizer, accelerator: Accelerator, split: SplitToScore, batch_size: int
) -> tuple[dict[str, float], int]:
    """The split's scores at the largest batch size that fits, starting from `batch_size` and
    halving on out-of-memory (Accelerate's test of the error); the size that fitted is returned,
    so the next language starts from it."""
    from accelerate.utils import find_executable_batch_size

    fitted = batch_size

    def halve() -> int:
        nonlocal fitted
        fitted //= 2
        log.warning("evaluation ran out of memory; batch size %d -> %d", fitted * 2, fitted)
        return fitted

    @find_executable_batch_size(starting_batch_size=batch_size, reduce_batch_size_fn=halve)
    def scored(size: int) -> dict[str, float]:
        hp = split.hyperparameters
        test_set = kind.eval_set(
            split.frame,
            tokenizer,
            accelerator,
            split.labels,
            hp.max_length,
            size,
            hp.doc_stride,
            answer_language=split.answer_language,
            cache=split.cache,
        )
        return kind.score(model, test_set, accelerator)

    return scored(), fitted


def _aligns(alignment: dict | None, english_test: Path | None, test_file: Path) -> bool:
    """Alignment is asked for, and this split is not the English one it maps onto."""
    if not alignment or alignment["method"] == "none" or english_test is None:
        return False
    return Path(test_file).resolve() != Path(english_test).resolve()
