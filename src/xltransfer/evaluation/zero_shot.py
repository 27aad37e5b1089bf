"""Zero-shot evaluation: load a target checkpoint once and score every language of a shard."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch
from accelerate import Accelerator

from xltransfer.data.load import read_standard
from xltransfer.evaluation.alignment import aligned_sts_scores
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
    for language, path in test_files.items():
        test_set = kind.eval_set(
            read_standard(Path(path)),
            tokenizer,
            accelerator,
            trained.labels,
            hp.max_length,
            hp.eval_batch_size,
            hp.doc_stride,
            answer_language=task.answer_language(language),
        )
        scores[language] = kind.score(model, test_set, accelerator)
        if trained.kind.aligns_embeddings and _aligns(alignment, english_test, path):
            scores[language] |= aligned_sts_scores(
                embed_sentences,
                read_standard(Path(path)),
                read_standard(Path(english_test)),
                method=alignment["method"],
                folds=alignment["folds"],
                seed=alignment["seed"],
            )
        sizes[language] = len(test_set)
        log.info("%s %s: %s", context.get("target"), language, scores[language])
    rows = score_rows(
        scores,
        context=context,
        summary=summary,
        primary_metric=task.metric,
        n_examples=sizes,
    )
    return pd.DataFrame(rows)


def _aligns(alignment: dict | None, english_test: Path | None, test_file: Path) -> bool:
    """Alignment is asked for, and this split is not the English one it maps onto."""
    if not alignment or alignment["method"] == "none" or english_test is None:
        return False
    return Path(test_file).resolve() != Path(english_test).resolve()
