"""XLM-R, BERT (mBERT) and mT5 through one factory: tiny offline builds of each train every head
kind through run_finetune, pass their encoder on across head kinds, save safetensors and embed
tasks."""

from __future__ import annotations

import dataclasses
import logging
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_train import HP

from xltransfer.spec import FinetuneSpec, PretrainSpec, TaskHead

ARCHITECTURES = ["xlmr", "bert", "mt5"]
NOUNS = ["dog", "cat", "bird"]
WORDS = NOUNS + "the a sees likes follows red big small old what does follow .".split()
HEADS = {
    "classification": TaskHead("first", "classification", tuple(NOUNS), "accuracy"),
    "regression": TaskHead("count", "regression", (), "pearson"),
    "token": TaskHead("nouns", "token", ("O", "N"), "accuracy"),
    "qa": TaskHead("follows", "qa", (), "f1"),
}
WIDTH = 32


def tiny_spec(architecture: str, **changes) -> PretrainSpec:
    values = dict(
        vocab_size=200,
        hidden_size=WIDTH,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=66,
        steps=1,
        batch_size=16,
        learning_rate=1e-3,
        mlm_probability=0.15,
        max_length=32,
        seed=0,
        architecture=architecture,
    )
    return PretrainSpec(**{**values, **changes})


def corpus(n: int = 300) -> list[str]:
    return [" ".join(random.Random(i).choices(WORDS, k=8)) for i in range(n)]


@pytest.fixture(scope="module", params=ARCHITECTURES)
def family(request, tmp_path_factory) -> tuple[str, Path]:
    """A randomly initialised 1-layer, 32-wide model of one family with its own tokenizer."""
    from transformers import set_seed

    from xltransfer.training.pretrain import build_model, train_tokenizer

    architecture = request.param
    folder = tmp_path_factory.mktemp(f"tiny-{architecture}")
    tokenizer = train_tokenizer(corpus(), 200, architecture)
    set_seed(0)  # the random initialisation, so every run tests the same model
    build_model(tokenizer, tiny_spec(architecture)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return architecture, folder


def toy_frame(head: str, n: int, seed: int) -> pd.DataFrame:
    """Learnable toys: the sentence's one noun (3 classes), the share of nouns, the nouns, what
    the cat follows."""
    rng = random.Random(seed)
    # One noun per sentence for the classifier; the other heads see nouns anywhere.
    vocabulary = WORDS[3:-3] if head == "classification" else WORDS[:-3]
    rows = []
    for _ in range(n):
        words = [rng.choice(vocabulary) for _ in range(6)]
        noun = rng.randrange(3)
        sentence = ["the", NOUNS[noun], "sees", *words]
        if head == "classification":
            rows.append({"text_a": " ".join(sentence), "text_b": None, "label": noun})
        elif head == "regression":
            share = sum(w in NOUNS for w in sentence) / len(sentence)
            rows.append({"text_a": " ".join(sentence), "text_b": None, "label": share})
        elif head == "token":
            tags = [int(w in NOUNS) for w in sentence]
            rows.append({"text_a": sentence, "text_b": None, "label": tags})
        else:
            answer = f"{rng.choice(['red', 'old'])} {NOUNS[noun]}"
            filler = " . ".join(f"the {rng.choice(NOUNS)} sees a bird" for _ in range(3))
            key = f"the cat follows the {answer}"
            context = f"{filler} . {key} . {filler}"
            start = context.index(key) + len(key) - len(answer)
            question = "what does the cat follow"
            rows.append(
                {"text_a": question, "text_b": context, "label": [answer], "answer_start": [start]}
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def toy_files(tmp_path_factory) -> dict[str, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("toys")
    files = {}
    for head in HEADS:
        files[head] = {}
        for role, (n, seed) in {"train": (192, 0), "dev": (48, 1)}.items():
            files[head][role] = folder / f"{head}-{role}.parquet"
            toy_frame(head, n, seed).to_parquet(files[head][role])
    return files


def finetune(model_dir: Path, head: str, files, output: Path, init_checkpoint=None):
    from xltransfer.training.loop import run_finetune

    # A 1-layer classifier reading one token can stall on 2 of 3 classes at 4 epochs of 3e-3.
    epochs, rate = (6, 5e-3) if head == "classification" else (4, 3e-3)
    changes = dict(epochs=epochs, learning_rate=rate, warmup_ratio=0.0, per_device_batch_size=16)
    hp = dataclasses.replace(HP, doc_stride=8, **changes)
    spec = FinetuneSpec(
        model="tiny",
        init_model=str(model_dir),
        revision=None,
        init_checkpoint=init_checkpoint,
        task=HEADS[head],
        train_file=str(files[head]["train"]),
        dev_file=str(files[head]["dev"]),
        seed=0,
        hyperparameters=hp,
    )
    return run_finetune(spec, output)


@pytest.fixture(scope="module")
def checkpoints(family, toy_files, tmp_path_factory) -> dict[str, tuple[Path, object]]:
    """Each head kind fine-tuned once per family; the three after the first start from the
    classification checkpoint, so run_finetune carries the encoder across head kinds."""
    architecture, model_dir = family
    folder = tmp_path_factory.mktemp(f"checkpoints-{architecture}")
    states = {"classification": finetune(model_dir, "classification", toy_files, folder / "c")}
    trained = {"classification": folder / "c"}
    for head in ("regression", "token", "qa"):
        states[head] = finetune(model_dir, head, toy_files, folder / head, str(folder / "c"))
        trained[head] = folder / head
    return {head: (trained[head], states[head]) for head in HEADS}


def test_tokenizer_has_the_family_layout(family):
    from xltransfer.models.factory import load_tokenizer

    architecture, model_dir = family
    tokenizer = load_tokenizer(str(model_dir))
    encoded = tokenizer("the dog", "a cat")
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    if architecture == "xlmr":
        assert tokens[0] == "<s>" and tokens.count("</s>") == 3
        assert "token_type_ids" not in encoded
    elif architecture == "bert":
        assert [tokens[0], tokens[-1]] == ["[CLS]", "[SEP]"] and tokens.count("[SEP]") == 2
        assert encoded["token_type_ids"] == [0] * 4 + [1] * 3  # [CLS] the dog [SEP] | a cat [SEP]
        assert {"[PAD]", "[MASK]", "[UNK]"} <= set(tokenizer.all_special_tokens)
    else:
        # T5's pair template "A </s> B </s>": no first token, no segment ids.
        assert tokens[0] != "</s>" and tokens[-1] == "</s>" and tokens.count("</s>") == 2
        assert "token_type_ids" not in encoded
        assert (tokenizer.pad_token_id, tokenizer.eos_token_id) == (0, 1)


def test_word_tags_go_on_each_words_first_sub_token(family):
    from xltransfer.kinds.token_labels import IGNORED_LABEL, encode_tagged_words
    from xltransfer.models.factory import load_tokenizer

    _, model_dir = family
    tokenizer = load_tokenizer(str(model_dir))
    words = [["the", "dogs", "followed", "cats"]]
    batch = encode_tagged_words(tokenizer, words, [[0, 1, 0, 1]], max_length=32)
    word_ids = tokenizer(words, is_split_into_words=True).word_ids(0)
    firsts = [i for i, w in enumerate(word_ids) if w is not None and w != word_ids[i - 1]]
    assert [batch.labels[0][i] for i in firsts] == [0, 1, 0, 1]
    others = [label for i, label in enumerate(batch.labels[0]) if i not in firsts]
    assert others and set(others) == {IGNORED_LABEL}  # later pieces and special tokens
    assert batch.labels[0][-1] == IGNORED_LABEL  # </s> or [SEP]


def test_qa_windows_map_answers_and_keep_the_null_slot_out_of_the_context(family):
    from xltransfer.kinds.extractive_qa import answer_windows
    from xltransfer.models.factory import load_tokenizer

    architecture, model_dir = family
    tokenizer = load_tokenizer(str(model_dir))
    frame = toy_frame("qa", 4, 0)
    windows = answer_windows(frame, tokenizer, max_length=24, doc_stride=8)
    assert len(windows.example) > len(frame)  # long contexts: several windows each
    held = 0
    for w, example in enumerate(windows.example):
        assert windows.offsets[w][0] is None  # position 0, the null answer, is never context
        start, end = windows.start_positions[w], windows.end_positions[w]
        context = frame["text_b"][example]
        if start:
            held += 1
            span = context[windows.offsets[w][start][0] : windows.offsets[w][end][1]]
            assert span.strip() == frame["label"][example][0]
        features = windows.features(w)
        if architecture == "bert":
            context_types = {
                t
                for t, s in zip(features["token_type_ids"], windows.offsets[w], strict=True)
                if s is not None
            }
            assert context_types == {1}
        else:
            assert "token_type_ids" not in features
    assert held >= len(frame)  # every answer lies wholly inside at least one window


def test_padding_to_a_multiple_of_8_does_not_change_the_logits(family):
    from transformers import AutoModelForSequenceClassification

    from xltransfer.kinds import get_kind
    from xltransfer.models.factory import load_tokenizer

    _, model_dir = family
    tokenizer = load_tokenizer(str(model_dir))
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=3).eval()
    kind = get_kind("classification")
    examples = kind.encode(toy_frame("classification", 6, 2), tokenizer, 32)
    plain, padded = (
        next(iter(kind.loader(examples, tokenizer, 6, shuffle=False, seed=0, mixed_precision=p)))
        for p in ("no", "bf16")
    )
    assert padded["input_ids"].shape[1] % 8 == 0
    assert padded["input_ids"].shape[1] > plain["input_ids"].shape[1]
    with torch.no_grad():
        logits = [
            model(**{k: v for k, v in b.items() if k != "labels"}).logits for b in (plain, padded)
        ]
    torch.testing.assert_close(logits[0], logits[1], atol=1e-5, rtol=1e-5)


def test_every_head_trains_and_scores(family, checkpoints, toy_files):
    from xltransfer.evaluation.zero_shot import evaluate_shard
    from xltransfer.training.loop import read_summary

    # Above chance: 3 balanced classes (1/3); ~80 % of words are not nouns; any signal; a span.
    bars = {"classification": 0.6, "token": 0.9, "regression": 0.2, "qa": 0.5}
    for head, (path, state) in checkpoints.items():
        assert state.best_score > bars[head], head
        assert np.isfinite(state.best_score), head
        scores = evaluate_shard(
            path,
            {"en": toy_files[head]["dev"]},
            context={"model": "tiny", "seed": 0, "source": "s", "target": head},
        ).set_index("metric")["value"]
        assert scores[HEADS[head].metric] == pytest.approx(state.best_score, abs=1e-6), head
        if head != "classification":  # a head kind the classification source lacks
            assert read_summary(path)["head_carried_over"] is False


def test_encoder_carried_across_head_kinds_equals_the_source_encoder(family, checkpoints, caplog):
    from transformers import set_seed

    from xltransfer.models.carry_over import encoder_state
    from xltransfer.models.factory import build_classifier, checkpoint_head_class

    _, model_dir = family
    caplog.set_level(logging.INFO, logger="xltransfer.models.factory")
    for source_head in ("classification", "token", "qa"):
        path = checkpoints[source_head][0]
        source = encoder_state(checkpoint_head_class(str(path)).from_pretrained(path))
        for target_head in HEADS:
            if target_head == source_head:
                continue
            set_seed(5)
            model, carried = build_classifier(str(model_dir), None, HEADS[target_head], str(path))
            set_seed(5)
            baseline, _ = build_classifier(str(model_dir), None, HEADS[target_head], None)
            assert not carried
            encoder = encoder_state(model)
            assert set(encoder) == set(source)
            for name, tensor in encoder.items():
                assert torch.equal(tensor, source[name]), (source_head, target_head, name)
            # The rest (head, BERT's pooler, mT5's decoder) is what the pretrained build holds;
            # mT5's decoder embedding is `shared` itself (tied), so it is carried with it.
            pointers = {tensor.data_ptr() for tensor in encoder.values()}
            fresh = baseline.state_dict()
            rest = {k: v for k, v in model.state_dict().items() if v.data_ptr() not in pointers}
            assert rest and all(torch.equal(v, fresh[k]) for k, v in rest.items()), target_head
            assert not all(torch.equal(v, fresh[k]) for k, v in model.state_dict().items())
    parts = {"mt5": "encoder/shared"}.get(family[0], "embeddings/encoder")
    assert f"tensors of {parts}); head new" in caplog.text  # the log says what was carried


def test_checkpoints_are_safetensors_and_tied_embeddings_survive(family, checkpoints, tmp_path):
    from xltransfer.models.factory import checkpoint_head_class

    architecture, _ = family
    for head, (path, _) in checkpoints.items():
        assert (path / "model.safetensors").exists(), head
        assert not list(path.glob("*.bin")), head
        model_class = checkpoint_head_class(str(path))
        loaded = model_class.from_pretrained(path)
        loaded.save_pretrained(tmp_path / head)
        again = model_class.from_pretrained(tmp_path / head)
        for name, tensor in loaded.state_dict().items():
            assert torch.equal(tensor, again.state_dict()[name]), (head, name)
        if architecture == "mt5":
            # T5 ties its encoder's (and decoder's) token embedding to `shared`.
            shared = again.get_input_embeddings().weight
            stacks = [again.get_encoder()]
            stacks += [again.get_decoder()] if again.config.is_encoder_decoder else []
            for stack in stacks:
                assert stack.embed_tokens.weight.data_ptr() == shared.data_ptr(), head


def test_task_embeddings_are_finite_vectors_of_the_encoder_width(family, checkpoints):
    from xltransfer.kinds import get_kind
    from xltransfer.similarity.embeddings import head_input_probe_embedding, text_embedding
    from xltransfer.similarity.task_fisher import fisher_components

    _, model_dir = family
    small = {"n_examples": 24, "max_length": 32}
    for head, (path, _) in checkpoints.items():
        train = toy_frame(head, 24, 3)
        kind = get_kind(HEADS[head].head)
        text = text_embedding(str(model_dir), train, kind=kind, **small)
        fine_tuned = fisher_components(str(path), train, **small)
        vectors = {"text": text} | {f"fine_tuned {c}": v for c, v in fine_tuned.items()}
        if head in ("classification", "token"):
            probe = head_input_probe_embedding(str(model_dir), train, kind=kind, **small)
            vectors["probe"] = probe
        for name, vector in vectors.items():
            assert vector.shape == (WIDTH,), (head, name)
            assert np.isfinite(vector).all(), (head, name)
        assert any(name.endswith(".attention") for name in fine_tuned), head
        assert all(vector.sum() > 0 for vector in fine_tuned.values()), head


@pytest.mark.parametrize("architecture", ["bert", "mt5"])
def test_pretraining_lowers_the_loss_and_saves_safetensors(architecture, tmp_path):
    import json

    from transformers import AutoConfig

    from xltransfer.jobs import pretrain, train_tokenizer

    # The rules' path: the build entry of the config, a corpus file, the tokenizer folder.
    build = dataclasses.asdict(tiny_spec(architecture, steps=60, learning_rate=3e-3))
    pd.DataFrame({"text": corpus()}).to_parquet(tmp_path / "corpus.parquet")
    train_tokenizer(tmp_path / "corpus.parquet", build, tmp_path / "tokenizer")
    pretrain(tmp_path / "corpus.parquet", tmp_path / "tokenizer", build, tmp_path / "model", 1)
    losses = json.loads((tmp_path / "model" / "pretraining_losses.json").read_text())
    assert len(losses) == 2 and losses[-1] < losses[0]
    assert (tmp_path / "model" / "model.safetensors").exists()
    expected = {"bert": "BertForMaskedLM", "mt5": "MT5ForConditionalGeneration"}[architecture]
    assert AutoConfig.from_pretrained(tmp_path / "model").architectures == [expected]


@pytest.mark.parametrize("architecture", ["xlmr", "bert"])
def test_masked_rows_loss_equals_the_models_own_loss_and_gradients(architecture):
    """Pretraining projects only masked positions onto the vocabulary: the loss and every
    gradient must equal those of the model's own forward over all positions."""
    from transformers import DataCollatorForLanguageModeling

    from xltransfer.models.architectures import (
        build_pretraining_model,
        masked_lm_loss,
        train_family_tokenizer,
    )

    texts = corpus()
    tokenizer = train_family_tokenizer(texts, 120, architecture)
    torch.manual_seed(0)
    model = build_pretraining_model(tokenizer, tiny_spec(architecture)).eval()
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.3)
    batch = collator([{"input_ids": ids} for ids in tokenizer(texts[:16])["input_ids"]])
    assert 0 < (batch["labels"] != -100).sum() < batch["labels"].numel()
    losses, gradients = [], []
    for compute in (lambda: model(**batch).loss, lambda: masked_lm_loss(model, batch)):
        model.zero_grad()
        loss = compute()
        loss.backward()
        losses.append(loss.item())
        gradients.append(
            {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        )
    assert losses[1] == pytest.approx(losses[0], rel=1e-6)
    assert gradients[0].keys() == gradients[1].keys()
    for name, gradient in gradients[0].items():
        torch.testing.assert_close(gradients[1][name], gradient, rtol=1e-4, atol=1e-7, msg=name)


def test_span_corruption_hides_spans_behind_sentinels_the_target_restores():
    from xltransfer.models.architectures import span_corruption

    ids = list(range(100, 140))
    sentinels, eos = [1000 + i for i in range(8)], 1
    inputs, targets = span_corruption(ids, sentinels, eos, np.random.default_rng(0), 0.15)
    assert inputs[-1] == targets[-1] == eos
    spans = {}
    for token in targets[:-1]:
        if token in sentinels:
            current = spans.setdefault(token, [])
        else:
            current.append(token)
    restored = [
        t for token in inputs[:-1] for t in (spans[token] if token in sentinels else [token])
    ]
    assert restored == ids
    assert sum(len(s) for s in spans.values()) == 6  # 15 % of 40 tokens
    assert all(spans[s] for s in sentinels[: len(spans) - 1])  # every used sentinel hides a span


def test_an_encoder_of_another_family_is_refused_by_name():
    from xltransfer.models.architectures import build_pretraining_model, train_family_tokenizer
    from xltransfer.models.carry_over import carry_encoder

    built = {
        a: build_pretraining_model(train_family_tokenizer(corpus(), 200, a), tiny_spec(a))
        for a in ("xlmr", "mt5")
    }
    with pytest.raises(ValueError, match="encoders differ: XLMRobertaForMaskedLM has"):
        carry_encoder(built["xlmr"], built["mt5"])
    wider = build_pretraining_model(
        train_family_tokenizer(corpus(), 200, "xlmr"), tiny_spec("xlmr", hidden_size=48)
    )
    with pytest.raises(ValueError, match=r"embeddings.word_embeddings.weight: \(\d+, 48\)"):
        carry_encoder(built["xlmr"], wider)


def test_the_schema_takes_the_three_architectures_and_defaults_to_xlmr():
    import copy

    import yaml
    from conftest import REPO
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    schema = str(REPO / "workflow" / "schemas" / "config.schema.yaml")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    default = copy.deepcopy(config)
    validate(default, schema)
    assert default["models"]["tiny-xlmr"]["build"]["architecture"] == "xlmr"
    for architecture in ARCHITECTURES:
        chosen = copy.deepcopy(config)
        chosen["models"]["tiny-xlmr"]["build"]["architecture"] = architecture
        validate(chosen, schema)
        build = chosen["models"]["tiny-xlmr"]["build"]
        assert PretrainSpec.from_dict(build).architecture == architecture
    config["models"]["tiny-xlmr"]["build"]["architecture"] = "gpt2"
    with pytest.raises(WorkflowError, match="gpt2"):
        validate(config, schema)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_biases_and_layer_norms_of_every_family_get_no_weight_decay(architecture):
    from transformers import AutoModelForSequenceClassification

    from xltransfer.models.architectures import build_pretraining_model, train_family_tokenizer
    from xltransfer.training.loop import build_optimizer

    tokenizer = train_family_tokenizer(corpus(), 200, architecture)
    config = build_pretraining_model(tokenizer, tiny_spec(architecture)).config
    model = AutoModelForSequenceClassification.from_config(config)
    decay, no_decay = build_optimizer(model, HP).param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    free = {names[id(p)] for p in no_decay["params"]}
    norms = {n for n in names.values() if "norm" in n.lower()}  # LayerNorm, layer_norm
    assert norms and norms <= free
    assert all("norm" not in names[id(p)].lower() for p in decay["params"])
    assert no_decay["weight_decay"] == 0.0 < decay["weight_decay"]


def test_bi_encoder_of_every_family_shares_its_encoder_with_other_heads(
    family, checkpoints, tmp_path
):
    from xltransfer.models.bi_encoder import BiEncoder
    from xltransfer.models.carry_over import encoder_state
    from xltransfer.models.factory import build_classifier, checkpoint_head_class, load_tokenizer

    _, model_dir = family
    path = checkpoints["classification"][0]
    source = encoder_state(checkpoint_head_class(str(path)).from_pretrained(path))
    sts = TaskHead(task="sts", head="bi_encoder", labels=(), metric="pearson")
    bi, _ = build_classifier(str(model_dir), None, sts, str(path))
    assert isinstance(bi, BiEncoder)
    carried = encoder_state(bi)  # mT5: the encoder stack alone, no decoder
    assert set(carried) == set(source)
    assert all(torch.equal(carried[name], source[name]) for name in source)
    bi.save_pretrained(tmp_path / "bi")
    tagger, _ = build_classifier(str(model_dir), None, HEADS["token"], str(tmp_path / "bi"))
    assert all(torch.equal(encoder_state(tagger)[name], source[name]) for name in source)
    tokenizer = load_tokenizer(str(model_dir))
    a, b = (
        tokenizer(["the cat sees"], return_tensors="pt"),
        tokenizer(["a dog"], return_tensors="pt"),
    )
    with torch.no_grad():
        cosine = bi(a["input_ids"], a["attention_mask"], b["input_ids"], b["attention_mask"]).logits
    assert cosine.shape == (1, 1) and -1 <= cosine.item() <= 1
