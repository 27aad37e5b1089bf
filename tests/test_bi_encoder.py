"""The Siamese bi-encoder for STS: cosine of mean-pooled states, trained through the production
loop, evaluated zero-shot, and passing its encoder on to other heads."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO
from snakemake.utils import validate
from test_train import HP, make_spec
from transformers import AutoModel

from xltransfer.config import ConfigError, check_config
from xltransfer.kinds.bi_encoder import SentencePairCollator
from xltransfer.models.bi_encoder import MARKER_FILE, BiEncoder, mean_pool
from xltransfer.models.factory import build_classifier, load_tokenizer
from xltransfer.spec import FinetuneSpec, TaskHead

STS = TaskHead(task="sts", head="bi_encoder", labels=(), metric="pearson")
NOUNS = ["dog", "cat", "bird"]
FILLER = "the a sees likes follows red big small old".split()


def toy_sts(n: int, seed: int) -> pd.DataFrame:
    """Pairs scored 0-5 by the overlap of their nouns, among filler words."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = (
            set(rng.sample(NOUNS, rng.choice([1, 2]))),
            set(rng.sample(NOUNS, rng.choice([1, 2]))),
        )

        def sentence(nouns):
            words = [*nouns, *rng.sample(FILLER, 3)]
            rng.shuffle(words)
            return " ".join(words)

        rows.append(
            {"text_a": sentence(a), "text_b": sentence(b), "label": 5 * len(a & b) / len(a | b)}
        )
    return pd.DataFrame(rows)


@pytest.fixture
def sts_splits(tmp_path):
    paths = {}
    for role, (n, seed) in {"train": (256, 0), "dev": (64, 1)}.items():
        paths[role] = tmp_path / f"sts-{role}.parquet"
        toy_sts(n, seed).to_parquet(paths[role])
    return paths


def sts_spec(model_dir, splits, **changes) -> FinetuneSpec:
    hp = dataclasses.replace(HP, epochs=4, learning_rate=1e-2, warmup_ratio=0.0)
    return make_spec(
        model_dir, splits, **{"task": STS, "seed": 0, "hyperparameters": hp, **changes}
    )


def test_prediction_is_the_cosine_of_mean_pooled_states(tiny_model_dir):
    tokenizer = load_tokenizer(str(tiny_model_dir))
    model = BiEncoder.from_pretrained(tiny_model_dir).eval()
    collate = SentencePairCollator(tokenizer)
    a, b = tokenizer(["the dog sees a cat", "red bird"]), tokenizer(["a cat", "the old red bird"])
    batch = collate(
        [
            {"input_ids": a["input_ids"][i], "attention_mask": a["attention_mask"][i],
             "input_ids_b": b["input_ids"][i], "attention_mask_b": b["attention_mask"][i],
             "labels": 0.5}
            for i in range(2)
        ]
    )  # fmt: skip
    # Each side is padded to its own longest sentence.
    assert batch["input_ids"].shape[1] == max(len(ids) for ids in a["input_ids"])
    assert batch["input_ids_b"].shape[1] == max(len(ids) for ids in b["input_ids"])
    with torch.no_grad():
        predicted = model(**{k: v for k, v in batch.items() if k != "labels"}).logits.squeeze(-1)
        swapped = model(
            input_ids=batch["input_ids_b"],
            attention_mask=batch["attention_mask_b"],
            input_ids_b=batch["input_ids"],
            attention_mask_b=batch["attention_mask"],
        ).logits.squeeze(-1)
        encoder = AutoModel.from_pretrained(tiny_model_dir).eval()
        for i, (left, right) in enumerate(
            zip(["the dog sees a cat", "red bird"], ["a cat", "the old red bird"], strict=True)
        ):
            u, v = (
                encoder(**tokenizer(t, return_tensors="pt")).last_hidden_state.mean(1)[0]
                for t in (left, right)
            )
            assert predicted[i].item() == pytest.approx(
                torch.cosine_similarity(u, v, 0).item(), abs=1e-5
            )
    assert torch.allclose(predicted, swapped)  # Siamese: the order of the pair does not matter


def test_mean_pool_ignores_padding():
    states = torch.tensor([[[1.0, 1.0], [3.0, 5.0], [100.0, 100.0]]])
    assert mean_pool(states, torch.tensor([[1, 1, 0]])).tolist() == [[2.0, 3.0]]


def test_bi_encoder_learns_sts_and_scores_zero_shot(tiny_model_dir, sts_splits, tmp_path):
    from xltransfer.evaluation.zero_shot import evaluate_shard
    from xltransfer.training.loop import run_finetune

    out = tmp_path / "sts"
    state = run_finetune(sts_spec(tiny_model_dir, sts_splits), out)
    first, best = state.history[0]["pearson"], state.best_score
    assert best > 0.7 and best > first + 0.1  # the cosine learnt to follow noun overlap
    assert (out / MARKER_FILE).exists() and (out / "model.safetensors").exists()
    scores = evaluate_shard(
        out,
        {"en": sts_splits["dev"]},
        context={"model": "tiny", "seed": 0, "source": "none", "target": "sts"},
    ).set_index("metric")["value"]
    # Zero-shot evaluation reloads the kept epoch and reproduces its dev score.
    assert scores["pearson"] == pytest.approx(best, abs=1e-4)
    assert {"pearson", "spearman"} <= set(scores.index)


def test_encoder_passes_between_bi_encoder_and_cross_encoder(tiny_model_dir, sts_splits, tmp_path):
    from xltransfer.training.loop import run_finetune

    source = tmp_path / "sts"
    run_finetune(sts_spec(tiny_model_dir, sts_splits, hyperparameters=dataclasses.replace(
        HP, epochs=1)), source)  # fmt: skip
    trained = BiEncoder.from_pretrained(source).encoder.state_dict()
    pair = TaskHead(task="nli", head="classification", labels=("a", "b"), metric="accuracy")
    model, carried = build_classifier(str(tiny_model_dir), None, pair, str(source))
    assert not carried
    for name, value in model.base_model.state_dict().items():
        assert torch.equal(value, trained[name]), name
    # And back: a cross-encoder source's encoder feeds a bi-encoder target.
    cross = tmp_path / "cross"
    model.save_pretrained(cross)
    load_tokenizer(str(tiny_model_dir)).save_pretrained(cross)
    bi, _ = build_classifier(str(tiny_model_dir), None, STS, str(cross))
    for name, value in bi.encoder.state_dict().items():
        assert torch.equal(value, trained[name]), name


def _config() -> dict:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def test_bi_encoder_is_for_pair_regression_only():
    config = _config()
    config["tasks"]["stsb"]["architecture"] = "bi_encoder"
    config["similarity"]["taskemb_model"] = "task2vec"  # a bi-encoder has no head to take
    check_config(config)
    config["tasks"]["mnli"]["architecture"] = "bi_encoder"
    with pytest.raises(
        ConfigError,
        match=r"tasks\.mnli\.architecture: bi_encoder fine-tunes task types \['pair_regression'\]",
    ):
        check_config(config)


def test_fine_tuned_taskemb_refuses_a_bi_encoder_task():
    config = _config()
    config["tasks"]["stsb"]["architecture"] = "bi_encoder"
    config["similarity"]["taskemb_model"] = "fine_tuned"
    with pytest.raises(ConfigError, match=r"tasks.stsb.architecture: .* use task2vec"):
        check_config(config)


def _planted_sts(n: int = 200, width: int = 6, seed: int = 0):
    """English pair embeddings whose cosine is the label, and a foreign copy seen through an
    angle-distorting linear map."""
    rng = np.random.default_rng(seed)
    u, v = rng.normal(size=(n, width)), rng.normal(size=(n, width))
    labels = (u * v).sum(1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
    distortion = np.diag([8.0, 4.0, 1.0, 1.0, 0.25, 0.1]) @ np.linalg.qr(rng.normal(size=(6, 6)))[0]
    vectors = {}
    for i in range(n):
        vectors[f"en-a{i}"], vectors[f"en-b{i}"] = u[i], v[i]
        vectors[f"xx-a{i}"], vectors[f"xx-b{i}"] = u[i] @ distortion, v[i] @ distortion
    frames = {
        lang: pd.DataFrame(
            {"text_a": [f"{lang}-a{i}" for i in range(n)],
             "text_b": [f"{lang}-b{i}" for i in range(n)], "label": labels}
        )
        for lang in ("en", "xx")
    }  # fmt: skip
    return frames, lambda texts: np.stack([vectors[t] for t in texts])


def test_least_squares_alignment_undoes_a_planted_distortion_of_sts_embeddings():
    from xltransfer.evaluation.alignment import aligned_sts_scores
    from xltransfer.kinds.metrics import compute_metrics

    frames, embed = _planted_sts()
    xx = frames["xx"]
    a, b = embed(xx["text_a"].tolist()), embed(xx["text_b"].tolist())
    plain_cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    plain = compute_metrics("regression", plain_cos, xx["label"].to_numpy())
    ls = aligned_sts_scores(embed, xx, frames["en"], method="least_squares", folds=2, seed=0)
    assert plain["pearson"] < 0.8 and ls["pearson_aligned"] > 0.99
    # An orthogonal map keeps every angle: the aligned scores are the plain ones.
    pr = aligned_sts_scores(embed, xx, frames["en"], method="procrustes", folds=2, seed=0)
    assert pr["pearson_aligned"] == pytest.approx(plain["pearson"], abs=1e-9)
    assert pr["spearman_aligned"] == pytest.approx(plain["spearman"], abs=1e-9)


def test_sts_alignment_needs_a_translation_of_every_pair():
    from xltransfer.evaluation.alignment import aligned_sts_scores

    frames, embed = _planted_sts()
    with pytest.raises(ValueError, match="200 pairs against 199 English ones"):
        aligned_sts_scores(
            embed, frames["xx"], frames["en"].iloc[:199], method="procrustes", folds=2, seed=0
        )


def test_zero_shot_bi_encoder_adds_aligned_scores_outside_english(
    tiny_model_dir, sts_splits, tmp_path
):
    from xltransfer.evaluation.zero_shot import evaluate_shard
    from xltransfer.training.loop import run_finetune

    out = tmp_path / "sts"
    run_finetune(sts_spec(tiny_model_dir, sts_splits, hyperparameters=dataclasses.replace(
        HP, epochs=1)), out)  # fmt: skip
    english = pd.read_parquet(sts_splits["dev"])
    # A "translation" row for row: other filler words, the same nouns and scores.
    foreign = english.assign(
        text_a=english["text_a"].str.replace("sees", "likes"),
        text_b=english["text_b"].str.replace("red", "old"),
    )
    foreign.to_parquet(tmp_path / "xx.parquet")
    context = {"model": "tiny", "seed": 0, "source": "none", "target": "sts"}
    scores = evaluate_shard(
        out,
        {"en": sts_splits["dev"], "xx": tmp_path / "xx.parquet"},
        context=context,
        alignment={"method": "procrustes", "folds": 2, "seed": 0},
        english_test=sts_splits["dev"],
    ).set_index(["language", "metric"])
    assert ("xx", "pearson_aligned") in scores.index and (
        "en",
        "pearson_aligned",
    ) not in scores.index
    assert not scores.loc[("xx", "pearson_aligned"), "primary"]
    # Procrustes: the aligned cosine is the plain one (the map keeps angles).
    assert scores.loc[("xx", "pearson_aligned"), "value"] == pytest.approx(
        scores.loc[("xx", "pearson"), "value"], abs=1e-5
    )


@pytest.mark.workflow
def test_workflow_scores_an_aligned_bi_encoder_target(tmp_path, tiny_model_dir):
    import subprocess

    from test_retrieval import retrieval_config
    from test_workflow import SNAKEMAKE, dry_run_counts, workflow_copy, write_config

    from xltransfer.config import expected_job_counts

    folder = workflow_copy(tmp_path)
    config = retrieval_config()
    config["models"] = {"tiny-xlmr": {"path": str(tiny_model_dir)}}
    config["tasks"]["sts_bi"] = {
        "dataset": "resources/demo_hub/stsb_multi_mt",
        "config": "{lang}",
        "architecture": "bi_encoder",
        "splits": {"train": "train", "dev": "dev", "test": "test"},
        "columns": {"text_a": "sentence1", "text_b": "sentence2", "label": "similarity_score"},
        "type": "pair_regression",
        "metric": "pearson",
        "languages": ["en", "ov60", "cy0"],
        "taxonomy": {"family": "similarity", "format": "regression", "input": "pair"},
    }
    # English is not evaluated, but its test split is read: the translations alignment fits on.
    config["experiment"].update(
        sources=["sst2"], targets=["sts_bi"], target_languages={"sts_bi": ["ov60", "cy0"]}
    )
    config["analysis"]["alignment"]["method"] = "least_squares"
    config["similarity"]["taskemb_model"] = "task2vec"  # a bi-encoder has no fine-tuned head
    config["demo_benchmark"].update(train_size=100, dev_size=50, test_size=80)
    configfile = write_config(folder, config)
    counts = dry_run_counts(folder, configfile)
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    assert counts == expected_job_counts(config)
    result = subprocess.run(
        [
            *SNAKEMAKE,
            "results/retrieval/gains.parquet",
            "--cores",
            "2",
            "--configfile",
            str(configfile),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (folder / "results/retrieval/data/sts_bi/en/test.parquet").exists()
    gains = pd.read_parquet(folder / "results/retrieval/gains.parquet")
    aligned = gains.loc[gains["metric"] == "pearson_aligned"].set_index("language")
    assert sorted(aligned.index) == ["cy0", "ov60"]
    # Least squares is not orthogonal: alignment changes the score, by a finite amount.
    assert np.isfinite(aligned["alignment_gain"]).all()
    assert np.isfinite(aligned["baseline_alignment_gain"]).all()
