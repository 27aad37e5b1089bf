"""TextEmb and TaskEmb on the 1-layer test model, against direct computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import toy_pairs

from xltransfer.embeddings import cosine_similarities, task_embedding, text_embedding
from xltransfer.spec import TaskHead


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


@pytest.fixture
def fine_tuned(tiny_model_dir, tmp_path):
    from xltransfer.models import build_classifier

    head = TaskHead(task="toy", head="classification", labels=("different", "same"), metric="f1")
    model, _ = build_classifier(str(tiny_model_dir), None, head, None)
    model.save_pretrained(tmp_path / "model")
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(tmp_path / "model")
    return tmp_path / "model"


def test_task_embedding_is_the_mean_squared_gradient_at_the_head_input(fine_tuned):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    frame = toy_pairs(5, seed=1)
    ours = task_embedding(str(fine_tuned), frame, batch_size=2)
    tokenizer = AutoTokenizer.from_pretrained(fine_tuned)
    model = AutoModelForSequenceClassification.from_pretrained(fine_tuned).eval()
    squares = []
    for row in frame.itertuples():
        inputs = tokenizer(row.text_a, row.text_b, return_tensors="pt")
        out = model(**inputs, output_hidden_states=True)
        cls = out.hidden_states[-1]
        loss = torch.nn.functional.cross_entropy(out.logits, torch.tensor([row.label]))
        (grad,) = torch.autograd.grad(loss, cls)
        squares.append(grad[0, 0].double() ** 2)
    expected = torch.stack(squares).mean(0).numpy()
    assert ours.shape == (32,) and (ours >= 0).all()
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-12)
    # Batching changes nothing: the summed loss holds each example's own gradient.
    np.testing.assert_allclose(
        task_embedding(str(fine_tuned), frame, batch_size=5), ours, rtol=1e-4
    )


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

    from xltransfer.embeddings import head_input_gradients

    rng = np.random.default_rng(n_classes)
    features = rng.normal(size=(40, 5))
    labels = rng.integers(0, n_classes, size=40)
    ours = head_input_gradients(features, labels, "classification")
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
    from xltransfer.embeddings import head_input_gradients

    features = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.5]])
    labels = np.array([1.0, 2.0, 3.5, 2.0])
    from sklearn.linear_model import Ridge

    fit = Ridge(alpha=1.0).fit(features, labels)
    residual = features @ fit.coef_ + fit.intercept_ - labels
    np.testing.assert_allclose(
        head_input_gradients(features, labels, "regression"), residual[:, None] * fit.coef_
    )


def test_probe_task_embedding_separates_tasks_by_their_labels(tiny_model_dir):
    from xltransfer.embeddings import probe_task_embedding

    frame = toy_pairs(40, seed=2)
    same = probe_task_embedding(str(tiny_model_dir), frame, head="classification", seed=0)
    again = probe_task_embedding(str(tiny_model_dir), frame, head="classification", seed=0)
    shuffled = frame.assign(label=frame["label"].sample(frac=1, random_state=3).to_numpy())
    other = probe_task_embedding(str(tiny_model_dir), shuffled, head="classification", seed=0)
    assert same.shape == (32,) and (same >= 0).all()
    np.testing.assert_array_equal(same, again)  # a function of the data alone
    assert not np.allclose(same, other)  # the labels, not only the text, shape it
    with pytest.raises(ValueError, match="single label"):
        probe_task_embedding(
            str(tiny_model_dir), frame.assign(label=0), head="classification", seed=0
        )
