"""Padding tokens a training epoch processes under three batchings of the same examples: every row
padded to max_length (fixed), seeded random batches each padded to its longest row (what
training does), and length-grouped random batches (HF Trainer's `group_by_length`: shuffle, cut
into mega-batches of 50 batches, sort each by length, then shuffle the batches). Reads the
English training splits of a finished run and encodes them as each task's kind does. Run after
`make demo`, e.g.

    .venv/bin/python benchmarks/padding.py --batch 32 --max-length 64
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import yaml

from xltransfer.data.load import read_standard
from xltransfer.data.tasks import load_registry
from xltransfer.kinds.encoding_cache import example_length
from xltransfer.models.factory import load_tokenizer

MEGA_BATCH = 50  # batches per sorted mega-batch, as transformers' LengthGroupedSampler


def padded(lengths: list[int], batches: list[list[int]]) -> int:
    return sum(len(b) * max(lengths[i] for i in b) for b in batches)


def random_batches(n: int, batch: int, seed: int) -> list[list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [order[s : s + batch] for s in range(0, n, batch)]


def grouped_batches(lengths: list[int], batch: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    size = batch * MEGA_BATCH
    batches = []
    for start in range(0, len(order), size):
        mega = sorted(order[start : start + size], key=lambda i: -lengths[i])
        batches += [mega[s : s + batch] for s in range(0, len(mega), batch)]
    rng.shuffle(batches)
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml", type=Path)
    parser.add_argument("--results", default="results/demo", type=Path)
    parser.add_argument("--tokenizer", default="resources/models/tiny-xlmr")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    registry = load_registry(yaml.safe_load(args.config.read_text())["tasks"])
    tokenizer = load_tokenizer(args.tokenizer)
    print(f"batch {args.batch}, max_length {args.max_length}; tokens per epoch (real + padding)")
    print(
        "| task | rows | real tokens | fixed | random batches | length-grouped | grouped / random |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    totals = [0, 0, 0, 0]
    for path in sorted(args.results.glob("data/*/en/train.parquet")):
        task = registry.get(path.parent.parent.name)
        if task is None or not task.kind.trainable:
            continue
        examples = task.kind.encode(read_standard(path), tokenizer, args.max_length, 16)
        lengths = [example_length(e) for e in examples]
        rows = len(lengths)
        width = max(lengths) if task.kind.name == "multiple_choice" else args.max_length
        counts = [
            sum(lengths),
            rows * width,
            padded(lengths, random_batches(rows, args.batch, args.seed)),
            padded(lengths, grouped_batches(lengths, args.batch, args.seed)),
        ]
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        real, fixed, shuffled, grouped = counts
        print(
            f"| {task.name} | {rows:,} | {real:,} | {fixed:,} | {shuffled:,} | {grouped:,} | "
            f"{grouped / shuffled:.2f} |"
        )
    real, fixed, shuffled, grouped = totals
    print(
        f"| all | | {real:,} | {fixed:,} | {shuffled:,} | {grouped:,} | {grouped / shuffled:.2f} |"
    )
    print(
        f"padding share: fixed {1 - real / fixed:.0%}, random batches {1 - real / shuffled:.0%}, "
        f"length-grouped {1 - real / grouped:.0%}"
    )


if __name__ == "__main__":
    main()
