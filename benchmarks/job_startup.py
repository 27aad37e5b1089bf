"""Start-up of a one-process training job: `accelerate launch` around it against the job's own
Python (what the training rules run since issue 15).

Each variant starts `xltransfer.cli.finetune` on a model of the demo's size and a 96-example
split, and is stopped right after its first optimizer step (XLTRANSFER_FAIL_AFTER_STEPS=1), so the
wall time is start-up: Python, imports, model and data loading, one step. `python -c "import
torch"` is timed beside them as the floor. Runs are interleaved so drift in machine load hits all
alike:

    .venv/bin/python benchmarks/job_startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from xltransfer.spec import FinetuneSpec, Hyperparameters, PretrainSpec, TaskHead
from xltransfer.training.loop import FAIL_AFTER_STEPS
from xltransfer.training.pretrain import build_model, train_tokenizer

REPO = Path(__file__).resolve().parents[1]
WORDS = "the a cat dog sees follows red blue small big house tree".split()


def tiny_job(folder: Path) -> str:
    """The demo's model size (config/config.yaml, untrained) and a toy pair task in `folder`;
    the run spec as JSON."""
    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    texts = [" ".join(random.Random(i).choices(WORDS, k=8)) for i in range(200)]
    tokenizer = train_tokenizer(texts, vocab_size=60)
    fixed = {"max_position_embeddings": 66, "mlm_probability": 0.15, "max_length": 32, "seed": 0}
    size = PretrainSpec.from_dict({**demo["models"]["tiny-xlmr"]["build"], **fixed})
    build_model(tokenizer, size).save_pretrained(folder / "model")
    tokenizer.save_pretrained(folder / "model")
    rng = random.Random(0)
    for role in ("train", "dev"):
        frame = pd.DataFrame(
            {
                "text_a": [" ".join(rng.choices(WORDS, k=6)) for _ in range(96)],
                "text_b": [" ".join(rng.choices(WORDS, k=6)) for _ in range(96)],
                "label": [rng.randrange(2) for _ in range(96)],
            }
        )
        frame.to_parquet(folder / f"{role}.parquet")
    hp = Hyperparameters(
        epochs=1,
        learning_rate=1e-3,
        weight_decay=0.0,
        warmup_ratio=0.0,
        global_batch_size=16,
        per_device_batch_size=16,
        max_length=32,
        max_grad_norm=1.0,
        mixed_precision="no",
        max_train_examples=None,
        eval_batch_size=32,
    )
    return FinetuneSpec(
        model="tiny",
        init_model=str(folder / "model"),
        revision=None,
        init_checkpoint=None,
        task=TaskHead("toy", "classification", ("different", "same"), "accuracy"),
        train_file=str(folder / "train.parquet"),
        dev_file=str(folder / "dev.parquet"),
        seed=0,
        hyperparameters=hp,
    ).to_json()


def timed(command: list[str], env: dict[str, str], stops_after_a_step: bool) -> float:
    started = time.perf_counter()
    run = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    # A job timed here must have reached its first step, not failed earlier.
    if stops_after_a_step and "failing as asked" not in run.stderr:
        raise SystemExit(f"{command[:3]} did not reach its first step:\n{run.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, FAIL_AFTER_STEPS: "1", "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        job = ["-m", "xltransfer.cli.finetune", "--spec", tiny_job(folder)]
        variants = {
            "import torch": [sys.executable, "-c", "import torch"],
            "accelerate launch": [
                str(Path(sys.executable).with_name("accelerate")),
                "launch", "--config_file", str(REPO / "config" / "accelerate.yaml"),
                "--num_processes", "1", "--main_process_port", "0",
                *job, "--output", str(folder / "launched"),
            ],
            "own Python": [sys.executable, *job, "--output", str(folder / "direct")],
        }  # fmt: skip
        times = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, command in variants.items():
                times[name].append(timed(command, env, name != "import torch"))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:>18}: median {medians[name]:5.2f} s  runs {[round(v, 2) for v in values]}")
    floor = medians["import torch"]
    for name in ("accelerate launch", "own Python"):
        print(f"{name:>18}: first step {medians[name] - floor:5.2f} s after import torch")
    ratio = medians["own Python"] / medians["accelerate launch"]
    print(f"ratio own Python / accelerate launch: {ratio:.2f}")
    print(f"{args.repeats} repeats, interleaved; python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
