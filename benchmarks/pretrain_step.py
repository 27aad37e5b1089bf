"""Pretraining step time of the demo encoder: the model's own masked-LM forward (LM head over
every token) against `masked_lm_loss` (LM head over the masked rows only).

Both take the same seeded batches of the demo's corpus and the same optimizer steps from the
same initial weights; the script prints seconds per step of each, their ratio and the last loss
of each (equal up to float rounding). Run after `make demo` (it reads the demo's corpus and
tokenizer), e.g.

    .venv/bin/python benchmarks/pretrain_step.py --threads 2 --steps 100 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pyarrow.parquet as pq
import torch
import yaml
from torch.utils.data import DataLoader
from transformers import AutoTokenizer, DataCollatorForLanguageModeling

from xltransfer.config_schema import validate_config
from xltransfer.models.architectures import build_pretraining_model, masked_lm_loss
from xltransfer.spec import PretrainSpec


def run(examples, tokenizer, spec: PretrainSpec, steps: int, masked_rows: bool):
    """Seconds per step and the last loss of `steps` optimizer steps."""
    torch.manual_seed(spec.seed)
    model = build_pretraining_model(tokenizer, spec).train()
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=spec.mlm_probability)
    generator = torch.Generator().manual_seed(spec.seed)
    loader = DataLoader(
        examples, batch_size=spec.batch_size, shuffle=True, collate_fn=collator, generator=generator
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.learning_rate, weight_decay=0.01)
    batches = iter(loader)
    started = time.perf_counter()
    for _ in range(steps):
        batch = next(batches)
        loss = masked_lm_loss(model, batch) if masked_rows else model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
    return (time.perf_counter() - started) / steps, loss.item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--corpus", default="resources/demo_hub/corpus/corpus.parquet")
    parser.add_argument("--tokenizer", default="resources/tokenizers/tiny-xlmr")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    config = yaml.safe_load(Path(args.config).read_text())
    validate_config(config, "workflow/schemas/config.schema.yaml")  # fills the build defaults
    build = config["models"]["tiny-xlmr"]["build"]
    spec = PretrainSpec.from_dict({**build, "vocab_size": len(tokenizer)})
    texts = pq.read_table(args.corpus, columns=["text"]).column("text").to_pylist()
    ids = tokenizer(texts, truncation=True, max_length=spec.max_length)["input_ids"]
    examples = [{"input_ids": row} for row in ids]
    times = {"whole forward": [], "masked rows": []}
    losses = {}
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
        for name in times:
            seconds, losses[name] = run(
                examples, tokenizer, spec, args.steps, name == "masked rows"
            )
            times[name].append(seconds)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(
            f"{name:>13}: median {medians[name] * 1000:6.1f} ms/step, runs "
            f"{[round(v * 1000, 1) for v in values]}, last loss {losses[name]:.6f}"
        )
    ratio = medians["masked rows"] / medians["whole forward"]
    print(f"ratio masked rows / whole forward: {ratio:.2f}")
    print(
        f"{spec.steps} steps in the config: {spec.steps * medians['whole forward']:.0f} s -> "
        f"{spec.steps * medians['masked rows']:.0f} s; {args.threads} thread(s), "
        f"torch {torch.__version__}"
    )


if __name__ == "__main__":
    main()
