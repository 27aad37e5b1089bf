"""Tokenise once: encoding a training split against mapping its cached entry.

A split of the demo (standardised, English training) is repeated to the size of its real
counterpart (MNLI 392,702 rows; SQuAD 87,599 questions) and encoded by its kind, as every job
of the grid did before the cache; then the same through `encode_once` with a cache folder: the
first job's miss (encode + write) and every later job's hit (map the file). "hit + epoch" also
reads every row once the way a DataLoader does, which is the cost a hit moves into training.
Variants are interleaved per repeat. Run after `make demo`, e.g.

    .venv/bin/python benchmarks/encoding_cache.py --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from xltransfer.data.load import read_standard
from xltransfer.kinds import KINDS
from xltransfer.kinds.encoding_cache import encode_once
from xltransfer.models.factory import load_tokenizer

SPLITS = {"mnli": ("classification", 392_702), "squad": ("qa", 87_599)}


def timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def read_all(examples) -> int:
    """Every row once, as a sampler-driven DataLoader asks for them."""
    return sum(len(examples[i]["input_ids"]) for i in range(len(examples)))


def measure(kind, frame: pd.DataFrame, tokenizer, max_length: int, folder: Path) -> dict:
    seconds = {}
    seconds["encode"], encoded = timed(lambda: kind.encode(frame, tokenizer, max_length, 32))
    seconds["encode + epoch"] = seconds["encode"] + timed(lambda: read_all(encoded))[0]
    for entry in folder.glob("*.arrow"):
        entry.unlink()
    seconds["miss (encode + write)"], _ = timed(
        lambda: encode_once(kind, frame, tokenizer, max_length, 32, folder)
    )
    seconds["hit"], cached = timed(
        lambda: encode_once(kind, frame, tokenizer, max_length, 32, folder)
    )
    seconds["hit + epoch"] = seconds["hit"] + timed(lambda: read_all(cached))[0]
    seconds["examples"] = len(cached)
    seconds["MB on disk"] = sum(p.stat().st_size for p in folder.glob("*.arrow")) / 1e6
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resources/models/tiny-xlmr")
    parser.add_argument("--data", default="results/demo/data")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the real size")
    args = parser.parse_args()
    tokenizer = load_tokenizer(args.model)
    print(
        "| split (rows) | examples | MB | encode s | miss s | hit s | hit + epoch s "
        "| encode + epoch s | encode / hit |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    for task, (kind_name, rows) in SPLITS.items():
        demo = read_standard(Path(args.data) / task / "en" / "train.parquet")
        rows = int(rows * args.scale)
        frame = pd.concat([demo] * (rows // len(demo) + 1), ignore_index=True).iloc[:rows]
        runs = []
        with tempfile.TemporaryDirectory() as folder:
            for _ in range(args.repeats):
                runs.append(
                    measure(KINDS[kind_name], frame, tokenizer, args.max_length, Path(folder))
                )
        median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print(
            f"| {task} ({rows:,}) | {median['examples']:,.0f} | {median['MB on disk']:.0f} "
            f"| {median['encode']:.2f} | {median['miss (encode + write)']:.2f} "
            f"| {median['hit']:.3f} | {median['hit + epoch']:.2f} | {median['encode + epoch']:.2f} "
            f"| {median['encode'] / median['hit']:.0f} |"
        )


if __name__ == "__main__":
    main()
