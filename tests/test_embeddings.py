"""TextEmb and TaskEmb on the 1-layer test model, against direct computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import toy_pairs

from xltransfer.kinds import get_kind
from xltransfer.similarity.embeddings import cosine_similarities, text_embedding


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread, as the workflow's embedding jobs run (similarity `threads`): on
    shared cores a second one makes the per-example Fisher loop tens of times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_text_embedding_is_the_mean_of_mean_pooled_states(tiny_model_dir):
    from transformers import AutoModel, AutoTokenizer

    frame = toy_pairs(6, seed=0)
    ours = text_embedding(str(tiny_model_dir), frame, batch_size=4)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    encoder = AutoModel.from_pretrained(tiny_model_dir).eval()
    pooled = []
    with torch.no_grad():
        for row in frame.itertuples():
            inputs = tokenizer(row.text_a, row.text_b, return_tensors="pt")
            pooled.append(encoder(**inputs).last_hidden_state[0].mean(0))  # no padding alone
    assert ours.shape == (32,)
    np.testing.assert_allclose(ours, torch.stack(pooled).mean(0).numpy(), atol=1e-5)


def test_cosine_similarities_by_hand():
    vectors = {"s": np.array([1.0, 0.0]), "t": np.array([1.0, 1.0]), "u": np.array([0.0, 2.0])}
    out = cosine_similarities(vectors, ["s", "u"], ["t"], "textemb")
    assert out["value"].tolist() == pytest.approx([1 / np.sqrt(2), 1 / np.sqrt(2)])
    assert out["method"].unique().tolist() == ["textemb"]
    with pytest.raises(ValueError, match=r"textemb: no embedding for tasks \['v'\]"):
        cosine_similarities(vectors, ["v"], ["t"], "textemb")


def test_nothing_to_embed_is_refused(tiny_model_dir):
    with pytest.raises(ValueError, match="no examples"):
        text_embedding(str(tiny_model_dir), pd.DataFrame(columns=["text_a", "text_b", "label"]))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_probe_gradient_equals_autograd_through_the_fitted_head(n_classes):
    from sklearn.linear_model import LogisticRegression

    from xltransfer.similarity.embeddings import head_input_gradients

    rng = np.random.default_rng(n_classes)
    features = rng.normal(size=(40, 5))
    labels = rng.integers(0, n_classes, size=40)
    ours = head_input_gradients(features, labels, "softmax")
    fit = LogisticRegression(max_iter=5000).fit(features, labels)  # the same convex fit
    x = torch.tensor(features, requires_grad=True)
    weight, bias = torch.tensor(fit.coef_), torch.tensor(fit.intercept_)
    if n_classes == 2:  # sklearn's binary head is the sigmoid of one logit
        logit = x @ weight[0] + bias[0]
        losses = torch.nn.functional.binary_cross_entropy_with_logits(
            logit, torch.tensor(labels, dtype=torch.float64), reduction="sum"
        )
    else:
        losses = torch.nn.functional.cross_entropy(
            x @ weight.T + bias, torch.tensor(labels), reduction="sum"
        )
    (expected,) = torch.autograd.grad(losses, x)
    np.testing.assert_allclose(ours, expected.numpy(), atol=1e-10)


def test_probe_regression_gradient_by_hand():
    from xltransfer.similarity.embeddings import head_input_gradients

    features = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.5]])
    labels = np.array([1.0, 2.0, 3.5, 2.0])
    from sklearn.linear_model import Ridge

    fit = Ridge(alpha=1.0).fit(features, labels)
    residual = features @ fit.coef_ + fit.intercept_ - labels
    np.testing.assert_allclose(
        head_input_gradients(features, labels, "ridge"), residual[:, None] * fit.coef_
    )


def test_head_input_probe_embedding_separates_tasks_by_their_labels(tiny_model_dir):
    from xltransfer.similarity.embeddings import head_input_probe_embedding

    frame = toy_pairs(40, seed=2)
    same = head_input_probe_embedding(
        str(tiny_model_dir), frame, kind=get_kind("classification"), seed=0
    )
    again = head_input_probe_embedding(
        str(tiny_model_dir), frame, kind=get_kind("classification"), seed=0
    )
    shuffled = frame.assign(label=frame["label"].sample(frac=1, random_state=3).to_numpy())
    other = head_input_probe_embedding(
        str(tiny_model_dir), shuffled, kind=get_kind("classification"), seed=0
    )
    assert same.shape == (32,) and (same >= 0).all()
    np.testing.assert_array_equal(same, again)  # a function of the data alone
    assert not np.allclose(same, other)  # the labels, not only the text, shape it
    with pytest.raises(ValueError, match="single label"):
        head_input_probe_embedding(
            str(tiny_model_dir), frame.assign(label=0), kind=get_kind("classification"), seed=0
        )


def test_head_input_probe_of_a_binary_task_is_a_scalar_times_the_squared_weights(tiny_model_dir):
    """The collapse that makes it a baseline only: (p − y)·w at the features, squared."""
    from sklearn.linear_model import LogisticRegression

    from xltransfer.similarity.embeddings import head_input_probe_embedding, pooled_states

    frame = toy_pairs(30, seed=5)
    ours = head_input_probe_embedding(
        str(tiny_model_dir), frame, kind=get_kind("classification"), n_examples=None
    )
    features, y = pooled_states(str(tiny_model_dir), frame), frame["label"].to_numpy()
    fit = LogisticRegression(max_iter=5000).fit(features, y)
    p, w = fit.predict_proba(features)[:, 1], fit.coef_[0]
    np.testing.assert_allclose(ours, np.mean((p - y) ** 2) * w * w, rtol=1e-6)


def _layer_linears(encoder):
    return [m.weight for n, m in encoder.named_modules() if isinstance(m, torch.nn.Linear)][:-1]


def test_task2vec_fisher_equals_a_per_example_autograd_loop(tiny_model_dir):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from transformers import AutoModel, AutoTokenizer

    from xltransfer.similarity.embeddings import task2vec_embedding

    frame = toy_pairs(8, seed=4)
    ours = task2vec_embedding(
        str(tiny_model_dir), frame, kind=get_kind("classification"), n_examples=None, labels="gold"
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    encoder = AutoModel.from_pretrained(tiny_model_dir).eval()
    # Every linear weight of the one layer, in module order (the pooler, last, is not read).
    weights = _layer_linears(encoder)
    assert [tuple(w.shape) for w in weights] == [(32, 32)] * 4 + [(64, 32), (32, 64)]
    inputs = [tokenizer(r.text_a, r.text_b, return_tensors="pt") for r in frame.itertuples()]
    with torch.no_grad():
        pooled = torch.stack([encoder(**x).last_hidden_state[0].mean(0) for x in inputs])
    scaler = StandardScaler().fit(pooled.double().numpy())
    fit = LogisticRegression(max_iter=5000).fit(
        scaler.transform(pooled.double().numpy()), frame.label
    )
    w, b = torch.tensor(fit.coef_[0]).float(), float(fit.intercept_[0])
    mean, scale = torch.tensor(scaler.mean_).float(), torch.tensor(scaler.scale_).float()
    squares = [torch.zeros_like(weight, dtype=torch.float64) for weight in weights]
    for x, label in zip(inputs, frame.label, strict=True):
        h = encoder(**x).last_hidden_state[0].mean(0)
        logit = ((h - mean) / scale) @ w + b  # sigmoid(logit) = p(label 1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            logit, torch.tensor(float(label))
        )
        for total, grad in zip(squares, torch.autograd.grad(loss, weights), strict=True):
            total += grad.double() ** 2
    expected = torch.cat([(total / len(frame)).mean(1) for total in squares]).numpy()
    assert list(ours) == ["layer00"] and ours["layer00"].shape == (224,)
    np.testing.assert_allclose(ours["layer00"][:32], expected[:32], rtol=2e-3)  # the query
    np.testing.assert_allclose(ours["layer00"], expected, rtol=2e-3)


def test_task2vec_sampled_labels_are_seeded(tiny_model_dir):
    from xltransfer.similarity.embeddings import task2vec_embedding

    frame = toy_pairs(10, seed=6)
    # The same examples every time.
    options = {"kind": get_kind("classification"), "n_examples": None}
    first = task2vec_embedding(str(tiny_model_dir), frame, **options, seed=0)
    again = task2vec_embedding(str(tiny_model_dir), frame, **options, seed=0)
    other = task2vec_embedding(str(tiny_model_dir), frame, **options, seed=1)
    gold = task2vec_embedding(str(tiny_model_dir), frame, **options, labels="gold")
    np.testing.assert_array_equal(first["layer00"], again["layer00"])
    assert not np.allclose(first["layer00"], other["layer00"])  # other labels drawn
    assert not np.allclose(first["layer00"], gold["layer00"])
    with pytest.raises(ValueError, match="labels must be"):
        task2vec_embedding(str(tiny_model_dir), frame, **options, labels="true")


def test_sampled_labels_follow_the_probe_distribution():
    from xltransfer.similarity.embeddings import ProbeHead, sample_probe_labels

    one = torch.ones(1, dtype=torch.float64)
    # logits (0, log 4) give p = (0.2, 0.8) on every unit.
    classifier = ProbeHead(
        "softmax", 0 * one, one, torch.tensor([[0.0], [1.0]]), torch.tensor([0.0, 0.0])
    )
    states = [torch.full((4000, 1), float(np.log(4)))]
    draws = sample_probe_labels(classifier, states, torch.Generator().manual_seed(0))[0]
    assert abs(draws.double().mean().item() - 0.8) < 0.03
    repeat = sample_probe_labels(classifier, states, torch.Generator().manual_seed(0))[0]
    assert torch.equal(draws, repeat)
    # Regression: y ~ N(ŷ, variance), ŷ = 2·x + 1 = 3 at x = 1.
    ridge = ProbeHead(
        "ridge", 0 * one, one, torch.tensor([[2.0]]), torch.tensor([1.0]), variance=0.25
    )
    ys = torch.cat(
        sample_probe_labels(ridge, [torch.ones(1, 1)] * 4000, torch.Generator().manual_seed(1))
    )
    assert abs(ys.mean().item() - 3.0) < 0.03 and abs(ys.var().item() - 0.25) < 0.02


@pytest.mark.parametrize("n_classes", [2, 3])
def test_probe_head_standardises_its_features(n_classes):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from xltransfer.similarity.embeddings import fit_probe_head

    rng = np.random.default_rng(n_classes)
    features = rng.normal(size=(60, 4)) * np.array([0.1, 1.0, 3.0, 10.0]) + 3.0
    labels = rng.integers(0, n_classes, size=60)
    probe, scaled = (fit_probe_head(x, labels, "softmax") for x in (features, features * 10))
    p = probe.scores(torch.tensor(features)).softmax(-1).numpy()
    np.testing.assert_allclose(scaled.scores(torch.tensor(features * 10)).softmax(-1), p, atol=1e-8)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    np.testing.assert_allclose(p, pipeline.fit(features, labels).predict_proba(features), atol=1e-6)
    # Without the standardisation the L2 penalty makes the fit depend on the scale.
    raw = [LogisticRegression(max_iter=5000).fit(x, labels) for x in (features, features * 10)]
    assert not np.allclose(
        raw[0].predict_proba(features), raw[1].predict_proba(features * 10), atol=1e-3
    )


def test_probe_head_regression_is_standardised_ridge_with_its_residual_variance():
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    from xltransfer.similarity.embeddings import fit_probe_head

    rng = np.random.default_rng(0)
    features = rng.normal(size=(50, 3)) * np.array([0.1, 1.0, 30.0])
    y = features @ np.array([4.0, -1.0, 0.05]) + rng.normal(size=50)
    probe, scaled = (fit_probe_head(x, y, "ridge") for x in (features, features * 10))
    z = StandardScaler().fit_transform(features)
    fit = Ridge(alpha=1.0).fit(z, y)
    np.testing.assert_allclose(probe.scores(torch.tensor(features)), fit.predict(z), atol=1e-8)
    np.testing.assert_allclose(
        scaled.scores(torch.tensor(features * 10)), fit.predict(z), atol=1e-8
    )
    assert probe.variance == pytest.approx(np.mean((fit.predict(z) - y) ** 2))


def test_centred_cosine_by_hand():
    from xltransfer.similarity.embeddings import centred_cosine_similarities

    vectors = {"s": np.array([1.0, 0.0]), "t": np.array([0.0, 1.0]), "u": np.array([1.0, 1.0])}
    # mean (2/3, 2/3): s − mean = (1/3, −2/3), t − mean = (−2/3, 1/3), u − mean = (1/3, 1/3).
    out = centred_cosine_similarities(vectors, ["s", "u"], ["t"], "textemb")
    assert out["value"].tolist() == pytest.approx([-4 / 5, -1 / np.sqrt(10)])
    # Every task given moves the mean, sources and targets or not: v's row is (1, 1) as well.
    widened = {**vectors, "v": np.array([1.0, 1.0])}  # mean (3/4, 3/4)
    # s − mean = (1/4, −3/4), t − mean = (−3/4, 1/4): (−3/16 − 3/16) / (10/16).
    out = centred_cosine_similarities(widened, ["s"], ["t"], "textemb")
    assert out["value"].tolist() == pytest.approx([-6 / 10])


def _pooled_rows(tiny_model_dir, encodings):
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(tiny_model_dir).eval()
    with torch.no_grad():
        return torch.stack([encoder(**x).last_hidden_state[0].mean(0) for x in encodings])


def test_text_embedding_of_every_example(tiny_model_dir):
    from transformers import AutoTokenizer

    frame = toy_pairs(7, seed=8)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    inputs = [tokenizer(r.text_a, r.text_b, return_tensors="pt") for r in frame.itertuples()]
    every = _pooled_rows(tiny_model_dir, inputs).mean(0).numpy()
    ours = text_embedding(str(tiny_model_dir), frame, n_examples=None, batch_size=3)
    np.testing.assert_allclose(ours, every, atol=1e-5)
    some = text_embedding(str(tiny_model_dir), frame, n_examples=3, batch_size=3)
    assert not np.allclose(some, every, atol=1e-3)


def test_text_embedding_reads_every_qa_window(tiny_model_dir):
    from transformers import AutoTokenizer

    context = " ".join(["the dog sees the cat", "a bird likes the old dog"] * 6)
    frame = pd.DataFrame(
        {
            "text_a": ["who sees the cat", "what does a bird like"],
            "text_b": [context, context],
            "label": [["dog"], ["the old dog"]],
            "answer_start": [[4], [context.index("the old dog")]],
        }
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    windows = []
    for row in frame.itertuples():  # question + context slices, overlapping by 24 // 4 tokens
        encoded = tokenizer(
            row.text_a,
            row.text_b,
            truncation="only_second",
            max_length=24,
            stride=6,
            return_overflowing_tokens=True,
        )
        windows += [{"input_ids": torch.tensor([ids])} for ids in encoded["input_ids"]]
    assert len(windows) > 4
    expected = _pooled_rows(tiny_model_dir, windows).mean(0).numpy()
    qa = get_kind("qa")
    ours = text_embedding(str(tiny_model_dir), frame, n_examples=None, max_length=24, kind=qa)
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    truncated = text_embedding(
        str(tiny_model_dir), frame, n_examples=None, max_length=24, qa_windows=False, kind=qa
    )
    assert not np.allclose(truncated, expected, atol=1e-3)


def _fisher_by_loop(weights, losses) -> np.ndarray:
    """Per-example squared gradients averaged over examples, each matrix averaged over its input
    dimension, concatenated: computed one loss at a time with plain autograd."""
    squares = [torch.zeros_like(weight, dtype=torch.float64) for weight in weights]
    count = 0
    for loss in losses:
        for total, grad in zip(squares, torch.autograd.grad(loss, weights), strict=True):
            total += grad.double() ** 2
        count += 1
    return torch.cat([(total / count).mean(1) for total in squares]).numpy()


def test_task2vec_token_fisher_reads_each_word_first_sub_token(tiny_model_dir):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from transformers import AutoModel, AutoTokenizer

    from xltransfer.similarity.embeddings import task2vec_embedding

    kinds = {"dog": 1, "cat": 1, "bird": 1, "sees": 2, "likes": 2, "follows": 2}
    words = [row.text_a.split() for row in toy_pairs(6, seed=9).itertuples()]
    frame = pd.DataFrame(
        {"text_a": words, "text_b": None, "label": [[kinds.get(w, 0) for w in s] for s in words]}
    )
    ours = task2vec_embedding(
        str(tiny_model_dir), frame, kind=get_kind("token"), n_examples=None, labels="gold"
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    encoder = AutoModel.from_pretrained(tiny_model_dir).eval()
    rows = []
    for encoded in get_kind("token").encode(frame, tokenizer, 128):
        scored = [t for t, tag in enumerate(encoded["labels"]) if tag != -100]
        tags = torch.tensor([encoded["labels"][t] for t in scored])
        rows.append((torch.tensor([encoded["input_ids"]]), scored, tags))
    assert sum(len(tags) for _, _, tags in rows) == sum(len(s) for s in words)  # every word

    def states(ids, scored):
        return encoder(input_ids=ids).last_hidden_state[0, scored]

    with torch.no_grad():
        features = torch.cat([states(ids, scored) for ids, scored, _ in rows]).double().numpy()
    tags = torch.cat([t for _, _, t in rows]).numpy()
    scaler = StandardScaler().fit(features)
    fit = LogisticRegression(max_iter=5000).fit(scaler.transform(features), tags)
    w, b = torch.tensor(fit.coef_).float(), torch.tensor(fit.intercept_).float()
    mean, scale = torch.tensor(scaler.mean_).float(), torch.tensor(scaler.scale_).float()
    losses = (  # each sentence's loss: the mean over its words (the tags 0, 1, 2 are the logits)
        torch.nn.functional.cross_entropy(((states(ids, s) - mean) / scale) @ w.T + b, t)
        for ids, s, t in rows
    )
    expected = _fisher_by_loop(_layer_linears(encoder), losses)
    np.testing.assert_allclose(ours["layer00"], expected, rtol=2e-3)


def test_task2vec_choice_fisher_has_a_softmax_over_the_choices(tiny_model_dir):
    from sklearn.preprocessing import StandardScaler
    from transformers import AutoModel, AutoTokenizer

    from xltransfer.kinds.multiple_choice import fit_choice_head
    from xltransfer.similarity.embeddings import task2vec_embedding

    pairs = toy_pairs(6, seed=10)
    frame = pd.DataFrame(
        {
            "text_a": pairs["text_a"],
            "text_b": None,
            "label": [i % 3 for i in range(len(pairs))],
            "choices": [[b, "the dog", "a cat sees"] for b in pairs["text_b"]],
        }
    )
    ours = task2vec_embedding(
        str(tiny_model_dir), frame, kind=get_kind("multiple_choice"), n_examples=None, labels="gold"
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    encoder = AutoModel.from_pretrained(tiny_model_dir).eval()
    inputs = [
        [tokenizer(row.text_a, choice, return_tensors="pt") for choice in row.choices]
        for row in frame.itertuples()
    ]

    def pooled(example):  # (choices, width), each pair on its own: no padding
        return torch.stack([encoder(**x).last_hidden_state[0].mean(0) for x in example])

    with torch.no_grad():
        features = torch.stack([pooled(example) for example in inputs]).double().numpy()
    scaler = StandardScaler().fit(features.reshape(-1, 32))
    z = scaler.transform(features.reshape(-1, 32)).reshape(features.shape)
    w = torch.tensor(fit_choice_head(z, frame["label"].to_numpy())).float()
    mean, scale = torch.tensor(scaler.mean_).float(), torch.tensor(scaler.scale_).float()
    losses = (
        -torch.log_softmax(((pooled(example) - mean) / scale) @ w, 0)[gold]
        for example, gold in zip(inputs, frame["label"], strict=True)
    )
    expected = _fisher_by_loop(_layer_linears(encoder), losses)
    np.testing.assert_allclose(ours["layer00"], expected, rtol=2e-3)
