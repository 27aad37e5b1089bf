"""Zero-shot evaluation: load a target checkpoint once and score every language of a shard."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch
from accelerate import Accelerator

from xltransfer.batches import encode_frame, make_loader
from xltransfer.data import read_standard
from xltransfer.evaluation import score
from xltransfer.models import head_class, load_tokenizer
from xltransfer.results import score_rows
from xltransfer.train import read_summary

log = logging.getLogger(__name__)


def evaluate_shard(
    checkpoint: Path,
    test_files: dict[str, Path],
    *,
    context: dict,
    threads: int = 1,
) -> pd.DataFrame:
    """Scores of one checkpoint on each language's test split, one row per (language, metric)."""
    torch.set_num_threads(threads)
    summary = read_summary(checkpoint)
    spec = summary["spec"]
    head, hp = spec["task"]["head"], spec["hyperparameters"]
    accelerator = Accelerator(mixed_precision=summary["mixed_precision"])
    tokenizer = load_tokenizer(str(checkpoint))
    model = accelerator.prepare(head_class(head).from_pretrained(checkpoint))
    scores, sizes = {}, {}
    for language, path in test_files.items():
        examples = encode_frame(read_standard(Path(path)), tokenizer, hp["max_length"], head)
        loader = accelerator.prepare(
            make_loader(
                examples,
                tokenizer,
                hp["eval_batch_size"],
                shuffle=False,
                seed=0,
                mixed_precision=accelerator.mixed_precision,
                head=head,
            )
        )
        scores[language] = score(model, loader, accelerator, head, spec["task"]["labels"])
        sizes[language] = len(examples)
        log.info("%s %s: %s", context.get("target"), language, scores[language])
    rows = score_rows(
        scores,
        context=context,
        summary=summary,
        primary_metric=spec["task"]["metric"],
        n_examples=sizes,
    )
    return pd.DataFrame(rows)
