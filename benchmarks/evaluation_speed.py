"""Evaluation throughput: the kinds' evaluation (longest examples first, inference mode) against a
naive loop of the same model (rows in dataset order, each batch padded to its longest row,
no_grad), on the same test splits with the same batch size, both timed from the standardised
split (tokenising included); interleaved repeats, examples/s of each, their ratio, and the
tokens each processes (real and padding). The predictions of both are checked equal. Run after
`make demo` (it reads the demo's MNLI source checkpoint and XNLI test splits), e.g.

    .venv/bin/python benchmarks/evaluation_speed.py --threads 1 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from accelerate import Accelerator
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

from xltransfer.data.load import read_standard
from xltransfer.kinds import get_kind
from xltransfer.kinds.base import longest_first
from xltransfer.kinds.encoding_cache import example_length
from xltransfer.models.factory import load_tokenizer

KIND = get_kind("classification")
LABELS = ("entailment", "neutral", "contradiction")


def naive(model, frame: pd.DataFrame, tokenizer, batch: int, max_length: int) -> np.ndarray:
    """Predictions of a plain loop: the split tokenised, read in dataset order with dynamic
    padding under no_grad."""
    examples = KIND.encode(frame, tokenizer, max_length)
    collate = DataCollatorWithPadding(tokenizer)
    model.eval()  # the kind's loop hands the model back in training mode, as training wants
    predictions = []
    with torch.no_grad():
        for start in range(0, len(examples), batch):
            rows = collate(examples[start : start + batch])
            rows.pop("labels")
            predictions.append(model(**rows).logits.argmax(-1).numpy())
    return np.concatenate(predictions)


def ours(model, frame: pd.DataFrame, tokenizer, accelerator, batch: int, max_length: int):
    """Predictions of the kind's evaluation (longest first, inference mode), and its scores."""
    eval_set = KIND.eval_set(frame, tokenizer, accelerator, LABELS, max_length, batch)
    predictions, _ = KIND.predict(model, eval_set.loader, accelerator)
    restored = np.empty_like(predictions)
    restored[eval_set.order] = predictions
    return restored


def padded_tokens(lengths: list[int], batch: int) -> int:
    """Tokens a model processes when each batch is padded to its longest row."""
    return sum(
        len(lengths[s : s + batch]) * max(lengths[s : s + batch])
        for s in range(0, len(lengths), batch)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results/demo", type=Path)
    parser.add_argument("--checkpoint", default=None, help="default: the MNLI source checkpoint")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    checkpoint = args.checkpoint or str(next((args.results / "models").glob("*/seed*/source/mnli")))
    tokenizer = load_tokenizer(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint)
    frame = pd.concat(
        [read_standard(p) for p in sorted((args.results / "data" / "xnli").glob("*/test.parquet"))],
        ignore_index=True,
    )
    examples = KIND.encode(frame, tokenizer, args.max_length)
    accelerator = Accelerator(cpu=True)
    model.eval()
    times: dict[str, list[float]] = {"naive": [], "ours": []}
    for _ in range(args.repeats):  # interleaved, so drifts in machine load hit both alike
        start = time.perf_counter()
        plain = naive(model, frame, tokenizer, args.batch, args.max_length)
        times["naive"].append(time.perf_counter() - start)
        start = time.perf_counter()
        sorted_ = ours(model, frame, tokenizer, accelerator, args.batch, args.max_length)
        times["ours"].append(time.perf_counter() - start)
    assert (plain == sorted_).all(), "the two loops disagree on a prediction"
    lengths = [example_length(e) for e in examples]
    order = longest_first(examples)
    rate = {k: len(examples) / statistics.median(v) for k, v in times.items()}
    print(
        f"{len(examples)} XNLI test rows ({frame.shape[0]}), batch {args.batch}, "
        f"{args.threads} thread(s), {args.repeats} interleaved repeats (median)"
    )
    print("| loop | examples/s | tokens processed | of them padding |")
    print("| --- | ---: | ---: | ---: |")
    real = sum(lengths)
    for name, tokens in (
        ("naive (dataset order)", padded_tokens(lengths, args.batch)),
        ("ours (longest first)", padded_tokens([lengths[i] for i in order], args.batch)),
    ):
        key = "naive" if name.startswith("naive") else "ours"
        print(f"| {name} | {rate[key]:,.0f} | {tokens:,} | {tokens - real:,} |")
    print(f"ratio ours / naive: {rate['ours'] / rate['naive']:.2f}")


if __name__ == "__main__":
    main()
