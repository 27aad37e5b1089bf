"""Shared fixtures: a tiny random XLM-R encoder and standardised splits, all built offline."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
# By their time in CI, longest first (see pytest_collection_modifyitems). Only test_slurm
# submits to the SLURM test cluster (its tests list and cancel the cluster's jobs, so they
# must not run beside another module's).
SLOWEST_MODULES = [
    "test_slurm",
    "test_end_to_end",
    "test_growth",
    "test_corrupt_workflow",
    "test_restage",
    "test_text_to_text",
    "test_staged_workflow",
]
WORDS = "the a dog cat bird sees likes follows not does red big small old".split()


def toy_pairs(n: int, seed: int) -> pd.DataFrame:
    """Pairs labelled 1 when both sentences start with the same noun: learnable in a few steps."""
    rng = random.Random(seed)
    nouns = ["dog", "cat", "bird"]
    rows = []
    for _ in range(n):
        a, b = rng.choice(nouns), rng.choice(nouns)
        rows.append(
            {
                "text_a": f"the {a} {rng.choice(['sees', 'likes'])} the {rng.choice(nouns)}",
                "text_b": f"the {b} {rng.choice(['follows', 'sees'])} a {rng.choice(nouns)}",
                "label": int(a == b),
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A randomly initialised 1-layer, 32-wide XLM-R masked LM with its own tokenizer."""
    from transformers import set_seed

    from xltransfer.spec import PretrainSpec
    from xltransfer.training.pretrain import build_model, train_tokenizer

    folder = tmp_path_factory.mktemp("tiny-model")
    texts = [" ".join(random.Random(i).choices(WORDS, k=8)) for i in range(200)]
    tokenizer = train_tokenizer(texts, vocab_size=60)
    spec = PretrainSpec(
        vocab_size=60,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=66,
        steps=1,
        batch_size=8,
        learning_rate=1e-3,
        mlm_probability=0.15,
        max_length=32,
        seed=0,
    )
    set_seed(0)  # the random initialisation: every session tests the same model
    build_model(tokenizer, spec).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def toy_splits(tmp_path) -> dict[str, Path]:
    """Standardised train/dev parquet files of the toy pair task."""
    paths = {}
    for role, (n, seed) in {"train": (96, 0), "dev": (48, 1)}.items():
        paths[role] = tmp_path / f"{role}.parquet"
        toy_pairs(n, seed).to_parquet(paths[role])
    return paths


def write_hub_repo(repo: Path, columns, rows, pretty_name: str, mirrors: str) -> Path:
    """A Hub-shaped dataset folder: `rows[config][split]` is a list of row dicts."""
    from xltransfer.demo.hub_layout import HubConfig, write_readme, write_split

    configs = []
    for name, splits in rows.items():
        config = HubConfig(name=name, columns=columns, data_dir=name)
        for split, split_rows in splits.items():
            data = {column: [row[column] for row in split_rows] for column, _ in columns}
            write_split(repo, config, split, data)
        configs.append(config)
    write_readme(repo, configs, pretty_name, mirrors)
    return repo


def standardised_files(task, roles, folder: Path) -> dict:
    """Standardised parquet files of a task's (language, role) splits, as prepare_data writes."""
    from xltransfer.data.load import load_split, standardize

    files = {}
    for language, role in roles:
        files[language, role] = folder / f"{language}-{role}.parquet"
        frame = standardize(task, load_split(task, language, role), language, role)
        frame.to_parquet(files[language, role])
    return files


def pytest_collection_modifyitems(items):
    """The slowest modules first, in this order, so that under `pytest -n 2 --dist loadfile
    --no-loadscope-reorder` (make test) the SLURM module, which mostly waits on the scheduler,
    runs beside the CPU-bound demo run, and the short modules fill in at the end. Within a
    module the order stays as written."""
    rank = {module: i for i, module in enumerate(SLOWEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))
