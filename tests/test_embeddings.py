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
