"""Vu et al.'s TaskEmb (per-component activation Fisher) against direct autograd on the 1-layer
test model, and the rank fusion of component similarities against hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import toy_pairs

from xltransfer.similarity.rank_fusion import combine_component_similarities
from xltransfer.similarity.task_fisher import encoder_layers, fisher_components
from xltransfer.spec import TaskHead

COMPONENTS = {"layer00.attention", "layer00.output", "head"}
# The exact empirical Fisher, which the by-hand computations below redo example by example.
PER_EXAMPLE = {"estimator": "per_example"}


def _save(model, tokenizer_dir, folder):
    from transformers import AutoTokenizer

    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def classifier(tiny_model_dir, tmp_path_factory):
    """The tiny XLM-R with a fresh 2-way sentence head (dense + tanh + out_proj)."""
    from accelerate.utils import set_seed

    from xltransfer.models.factory import build_classifier

    head = TaskHead(task="toy", head="classification", labels=("different", "same"), metric="f1")
    # The fresh head is drawn from the global RNG: seeded, so the tests below do not depend on
    # which tests ran before (the toy tasks are near copies, and some head draws tie two of them).
    set_seed(0)
    model, _ = build_classifier(str(tiny_model_dir), None, head, None)
    return _save(model, tiny_model_dir, tmp_path_factory.mktemp("classifier"))


def _by_hand(checkpoint, frame, labels):
    """Per example, the gradient of its own cross-entropy at the tensors the reference keeps:
    the attention output projection's input, the layer's output and the head's dense + tanh
    output (the input of out_proj), named by path, each (tokens, width), no padding."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    layer = model.roberta.encoder.layer[0]
    grads = []
    for row, label in zip(frame.itertuples(), labels, strict=True):
        kept = {}

        def keep(name, tensor, kept=kept):
            kept.setdefault(name, tensor)  # returns None: the hook changes nothing

        hooks = [
            layer.attention.output.dense.register_forward_pre_hook(
                lambda m, i: keep("layer00.attention", i[0])
            ),
            layer.register_forward_hook(lambda m, i, o: keep("layer00.output", o)),
            model.classifier.out_proj.register_forward_pre_hook(lambda m, i: keep("head", i[0])),
        ]
        inputs = tokenizer(row.text_a, row.text_b, return_tensors="pt")
        logits = model(**inputs).logits
        for hook in hooks:
            hook.remove()
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([label]))
        names = sorted(kept)
        found = torch.autograd.grad(loss, [kept[n] for n in names])
        # The head's input is one vector per example: (1, width) as (tokens, width).
        grads.append(
            {n: g.reshape(-1, g.shape[-1]).double() for n, g in zip(names, found, strict=True)}
        )
    return grads


def test_per_example_fisher_is_the_mean_of_squared_token_gradients(classifier):
    frame = toy_pairs(5, seed=1)
    ours = fisher_components(str(classifier), frame, n_examples=None, batch_size=2, **PER_EXAMPLE)
    assert set(ours) == COMPONENTS  # XLM-R's head reads the last layer itself: no `pooled`
    grads = _by_hand(str(classifier), frame, frame["label"].tolist())
    for name in COMPONENTS:
        expected = torch.stack([g[name].pow(2).sum(0) for g in grads]).mean(0).numpy()
        assert ours[name].shape == (32,) and (ours[name] > 0).all()
        np.testing.assert_allclose(ours[name], expected, rtol=1e-4, atol=1e-14)
    # Padding and batching change nothing: each example's own gradient, its real tokens only.
    again = fisher_components(str(classifier), frame, n_examples=None, batch_size=5, **PER_EXAMPLE)
    for name in COMPONENTS:
        np.testing.assert_allclose(again[name], ours[name], rtol=1e-4)


def test_batch_estimator_is_the_reference_sum_then_square(classifier):
    """run_taskemb_CR.compute_Fisher: gradient of the batch-mean loss, summed over the batch
    and its real tokens, squared, divided by the batch's real tokens; batches summed and divided
    by the examples."""
    from transformers import AutoTokenizer

    frame = toy_pairs(5, seed=1)
    batch_size = 2
    ours = fisher_components(
        str(classifier), frame, n_examples=None, batch_size=batch_size, estimator="batch"
    )
    grads = _by_hand(str(classifier), frame, frame["label"].tolist())
    tokenizer = AutoTokenizer.from_pretrained(classifier)
    lengths = [len(tokenizer(r.text_a, r.text_b)["input_ids"]) for r in frame.itertuples()]
    for name in COMPONENTS:
        total = torch.zeros(32, dtype=torch.float64)
        for first in range(0, len(frame), batch_size):
            rows = range(first, min(first + batch_size, len(frame)))
            # ∇ of the batch mean = the per-example gradients over the batch size.
            summed = sum(grads[r][name].sum(0) for r in rows) / len(rows)
            total += summed.pow(2) / sum(lengths[r] for r in rows)
        np.testing.assert_allclose(ours[name], (total / len(frame)).numpy(), rtol=1e-4)


def _probabilities(checkpoint, frame) -> torch.Tensor:
    """The classifier's predictive distribution over each pair's labels, in one batch."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    inputs = tokenizer(
        frame.text_a.tolist(), frame.text_b.tolist(), padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        return torch.softmax(model(**inputs).logits.double(), -1)


def test_sampled_labels_come_from_the_predictive_distribution_by_seed(classifier):
    frame = toy_pairs(6, seed=2)
    options = {"n_examples": None, "batch_size": 6, "labels": "sampled", "label_draws": 1}
    options |= PER_EXAMPLE
    ours = fisher_components(str(classifier), frame, seed=3, **options)
    # The draws by hand: one batch, one categorical draw per example from a Generator seeded 3.
    probabilities = _probabilities(classifier, frame)
    drawn = torch.multinomial(probabilities, 1, generator=torch.Generator().manual_seed(3))
    grads = _by_hand(str(classifier), frame, drawn.squeeze(-1).tolist())
    for name in COMPONENTS:
        expected = torch.stack([g[name].pow(2).sum(0) for g in grads]).mean(0).numpy()
        np.testing.assert_allclose(ours[name], expected, rtol=1e-4, atol=1e-14)
    same = fisher_components(str(classifier), frame, seed=3, **options)
    other = fisher_components(str(classifier), frame, seed=4, **options)
    gold = fisher_components(
        str(classifier), frame, seed=3, n_examples=None, batch_size=6, **PER_EXAMPLE
    )
    assert all(np.array_equal(same[n], ours[n]) for n in COMPONENTS)
    assert not np.allclose(other["head"], ours["head"])
    assert not np.allclose(gold["head"], ours["head"])


def test_sampled_labels_average_their_draws_inside_the_gradient(classifier):
    """As the reference averages num_trials_for_FIM draws' log-likelihoods before the backward
    pass: with 3 draws per example, each example's gradient is the mean of its 3 draws'
    gradients, squared after."""
    frame = toy_pairs(4, seed=5)
    options = {"n_examples": None, "batch_size": 4, "labels": "sampled", **PER_EXAMPLE}
    ours = fisher_components(str(classifier), frame, seed=7, label_draws=3, **options)
    probabilities = _probabilities(classifier, frame)
    generator = torch.Generator().manual_seed(7)
    draws = [torch.multinomial(probabilities, 1, generator=generator) for _ in range(3)]
    per_draw = [_by_hand(str(classifier), frame, d.squeeze(-1).tolist()) for d in draws]
    for name in COMPONENTS:
        mean_gradients = [sum(g[r][name] for g in per_draw) / 3 for r in range(len(frame))]
        expected = torch.stack([g.pow(2).sum(0) for g in mean_gradients]).mean(0).numpy()
        np.testing.assert_allclose(ours[name], expected, rtol=1e-4, atol=1e-14)


def test_the_reference_draws_drive_the_sampled_fisher_towards_zero(classifier):
    """The averaged draws' gradient has expectation zero (E_y ∇ log p(y) = 0), so its square
    shrinks about as 1 / draws: 100 draws (the reference's) against one."""
    frame = toy_pairs(16, seed=6)
    options = {"n_examples": None, "batch_size": 8, "labels": "sampled"}
    one = fisher_components(str(classifier), frame, seed=1, label_draws=1, **options)
    reference = fisher_components(str(classifier), frame, seed=1, **options)
    ratio = one["head"].sum() / reference["head"].sum()
    assert 20 < ratio < 500, ratio


def test_parameter_components_are_the_reference_squared_batch_gradients(classifier):
    """compute_Fisher's parameter features: each batch's gradient of its mean loss squared,
    summed over batches and divided by the examples; named without the base model's prefix."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    frame = toy_pairs(6, seed=4)
    patterns = ("encoder.layer.0.output.dense.bias", "classifier.out_proj.*")
    ours = fisher_components(
        str(classifier), frame, n_examples=None, batch_size=4, parameters=patterns
    )
    names = {"encoder.layer.0.output.dense.bias", "classifier.out_proj.weight"}
    names |= {"classifier.out_proj.bias"}
    assert set(ours) == COMPONENTS | {f"param.{n}" for n in names}
    tokenizer = AutoTokenizer.from_pretrained(classifier)
    model = AutoModelForSequenceClassification.from_pretrained(classifier).eval()
    bias = model.roberta.encoder.layer[0].output.dense.bias
    weight = model.classifier.out_proj.weight
    totals = [torch.zeros_like(bias, dtype=torch.float64), torch.zeros(64, dtype=torch.float64)]
    for rows in (frame.iloc[:4], frame.iloc[4:]):
        inputs = tokenizer(
            rows.text_a.tolist(), rows.text_b.tolist(), padding=True, return_tensors="pt"
        )
        loss = model(**inputs, labels=torch.tensor(rows.label.tolist())).loss  # batch mean
        grads = torch.autograd.grad(loss, [bias, weight])
        for total, grad in zip(totals, grads, strict=True):
            total += grad.double().pow(2).flatten()
    np.testing.assert_allclose(
        ours["param.encoder.layer.0.output.dense.bias"], totals[0] / 6, rtol=1e-4, atol=1e-14
    )
    np.testing.assert_allclose(
        ours["param.classifier.out_proj.weight"], totals[1] / 6, rtol=1e-4, atol=1e-14
    )


def test_parameter_components_are_refused_where_they_cannot_be_computed(classifier):
    frame = toy_pairs(2, seed=0)
    with pytest.raises(ValueError, match=r"'decoder\.\*' matches no parameter"):
        fisher_components(str(classifier), frame, parameters=("decoder.*",))
    with pytest.raises(ValueError, match="need the batch estimator"):
        fisher_components(str(classifier), frame, parameters=("classifier.*",), **PER_EXAMPLE)


def test_bert_pooler_output_is_the_pooled_component(tiny_model_dir, tmp_path):
    """With a pooler (BERT), `pooled` is the reference's cls_output: the gradient at the pooler's
    output; a single linear classifier gives no separate `head`."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=60, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=66, num_labels=3,
    )  # fmt: skip
    model = BertForSequenceClassification(config).eval()
    checkpoint = _save(model, tiny_model_dir, tmp_path / "bert")
    frame = toy_pairs(3, seed=0).assign(label=[0, 2, 1])
    ours = fisher_components(str(checkpoint), frame, n_examples=None, batch_size=3, **PER_EXAMPLE)
    assert list(ours) == [
        "layer00.attention", "layer00.output", "layer01.attention", "layer01.output", "pooled"
    ]  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    squares = []
    for row in frame.itertuples():
        inputs = tokenizer(row.text_a, row.text_b, return_tensors="pt")
        out = model(**inputs, output_hidden_states=True)
        pooled = model.bert.pooler(out.hidden_states[-1])
        logits = model.classifier(pooled)
        np.testing.assert_allclose(logits.detach(), out.logits.detach(), atol=1e-6)
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([row.label]))
        last = torch.autograd.grad(loss, out.hidden_states[-1], retain_graph=True)[0]
        (grad,) = torch.autograd.grad(loss, pooled)
        squares.append((grad[0].double() ** 2, last[0].double().pow(2).sum(0)))
    np.testing.assert_allclose(
        ours["pooled"], torch.stack([s[0] for s in squares]).mean(0), rtol=1e-4
    )
    np.testing.assert_allclose(
        ours["layer01.output"], torch.stack([s[1] for s in squares]).mean(0), rtol=1e-4
    )


def test_token_head_fisher_averages_each_example_over_its_scored_words(tiny_model_dir, tmp_path):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from xltransfer.kinds.token_labels import IGNORED_LABEL, encode_tagged_words
    from xltransfer.models.factory import build_classifier

    head = TaskHead(task="ner", head="token", labels=("O", "B", "I"), metric="f1")
    model, _ = build_classifier(str(tiny_model_dir), None, head, None)
    checkpoint = _save(model, tiny_model_dir, tmp_path / "tagger")
    frame = pd.DataFrame(
        {
            "text_a": [["the", "dog", "sees"], ["a", "big", "cat", "likes"]],
            "label": [[0, 1, 2], [1, 2, 0, 0]],
        }
    )
    ours = fisher_components(str(checkpoint), frame, n_examples=None, batch_size=2, **PER_EXAMPLE)
    assert set(ours) == {"layer00.attention", "layer00.output"}  # the classifier reads the layer
    model = AutoModelForTokenClassification.from_pretrained(checkpoint).eval()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    encoded = encode_tagged_words(tokenizer, frame.text_a.tolist(), frame.label.tolist(), 32)
    squares = []
    for ids, tags in zip(encoded.input_ids, encoded.labels, strict=True):
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
        tags = torch.tensor(tags)
        scored = tags != IGNORED_LABEL
        loss = torch.nn.functional.cross_entropy(out.logits[0][scored], tags[scored])  # mean
        (grad,) = torch.autograd.grad(loss, out.hidden_states[-1])
        squares.append(grad[0].double().pow(2).sum(0))
    np.testing.assert_allclose(ours["layer00.output"], torch.stack(squares).mean(0), rtol=1e-4)


def test_an_unknown_layout_is_named():
    class Mystery(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.classifier = torch.nn.Linear(2, 2)

    with pytest.raises(ValueError, match="Mystery: unknown encoder layout"):
        encoder_layers(Mystery())
    with pytest.raises(ValueError, match="labels must be one of"):
        fisher_components("unused", pd.DataFrame(), labels="gold-ish")


def _vectors():
    """Three sources and a target with two components each, cosines chosen by hand:
    component a: cos(s1, t) = 1, cos(s2, t) = 0, cos(s3, t) = 0.6;
    component b: cos(s1, t) = 0, cos(s2, t) = 0.8, cos(s3, t) = 1."""
    return {
        "t": {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 2.0])},
        "s1": {"a": np.array([3.0, 0.0]), "b": np.array([5.0, 0.0])},
        "s2": {"a": np.array([0.0, 1.0]), "b": np.array([0.6, 0.8])},
        "s3": {"a": np.array([0.6, 0.8]), "b": np.array([0.0, 0.1])},
    }


def test_reciprocal_rank_fusion_by_hand():
    table = combine_component_similarities(_vectors(), ["s1", "s2", "s3"], ["t"], "taskemb")
    assert list(table.columns) == ["source", "target", "method", "value"]
    value = dict(zip(table.source, table.value, strict=True))
    # Ranks in a: s1 1, s3 2, s2 3; in b: s3 1, s2 2, s1 3.
    assert value["s1"] == pytest.approx(1 / 61 + 1 / 63)
    assert value["s2"] == pytest.approx(1 / 63 + 1 / 62)
    assert value["s3"] == pytest.approx(1 / 62 + 1 / 61)
    assert set(table.method) == {"taskemb"} and set(table.target) == {"t"}


def test_reciprocal_rank_fusion_shares_tied_ranks():
    vectors = _vectors()
    vectors["s2"]["a"] = np.array([2.0, 0.0])  # ties s1 at cosine 1: both rank 1.5 in a
    table = combine_component_similarities(vectors, ["s1", "s2", "s3"], ["t"], "taskemb", k=10)
    value = dict(zip(table.source, table.value, strict=True))
    assert value["s1"] == pytest.approx(1 / 11.5 + 1 / 13)
    assert value["s2"] == pytest.approx(1 / 11.5 + 1 / 12)


def test_concatenation_of_unit_components_by_hand():
    vectors = _vectors()
    table = combine_component_similarities(vectors, ["s1", "s2", "s3"], ["t"], "x", "concat")
    value = dict(zip(table.source, table.value, strict=True))
    for source in ("s1", "s2", "s3"):
        joined = {
            task: np.concatenate([v / np.linalg.norm(v) for v in vectors[task].values()])
            for task in (source, "t")
        }
        a, b = joined[source], joined["t"]
        assert value[source] == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert value["s3"] == pytest.approx((0.6 + 1.0) / 2)


def test_components_not_held_by_every_task_are_left_out():
    vectors = _vectors()
    vectors["s1"]["head"] = np.array([1.0, 1.0])  # only s1 has it
    table = combine_component_similarities(vectors, ["s1", "s2", "s3"], ["t"], "x", "concat")
    assert dict(zip(table.source, table.value, strict=True))["s1"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="zero embedding component"):
        vectors["s2"]["a"] = np.zeros(2)
        combine_component_similarities(vectors, ["s1", "s2"], ["t"], "x")


def test_embedding_jobs_write_one_row_per_component_and_compare_them(classifier, tmp_path):
    from xltransfer.jobs import compare_task_embeddings, task_embedding

    files = {}
    for task, seed in (("a", 0), ("b", 1), ("t", 2)):
        files[task] = tmp_path / f"{task}.parquet"
        toy_pairs(4, seed).to_parquet(files[task])
    settings = {"examples": 4, "max_length": 32, "seed": 0, "taskemb_model": "fine_tuned"}
    settings |= {"taskemb_labels": "gold", "taskemb_estimator": "per_example"}
    settings |= {"taskemb_combine": "rrf", "textemb_centre": True}
    settings |= {"textemb_all_examples": False, "textemb_qa_windows": True}
    per_task = []
    for task, path in files.items():
        per_task.append(tmp_path / f"{task}-vectors.parquet")
        one = task_embedding(
            "taskemb", "m", str(classifier), task, path, "classification", settings, per_task[-1]
        )
        assert len(one) == len(COMPONENTS) and set(one.task) == {task}
    outputs = {"similarity": tmp_path / "s.parquet", "vectors": tmp_path / "v.parquet"}
    table = compare_task_embeddings("taskemb", per_task, ["a", "b"], ["t"], settings, outputs)
    vectors = pd.read_parquet(outputs["vectors"])
    assert list(vectors.columns) == ["model", "task", "method", "component", "vector"]
    assert len(vectors) == 3 * len(COMPONENTS) and set(vectors.component) == COMPONENTS
    by_task = {
        task: {row.component: np.array(row.vector) for row in rows.itertuples()}
        for task, rows in vectors.groupby("task")
    }
    expected = combine_component_similarities(by_task, ["a", "b"], ["t"], "taskemb")
    np.testing.assert_allclose(table["value"], expected["value"])
    # Two sources: each is ranked 1 or 2 in each of the 3 components.
    assert table["value"].sum() == pytest.approx(3 * (1 / 61 + 1 / 62))
