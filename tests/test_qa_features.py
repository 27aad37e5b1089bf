"""QA windows map answers to tokens and back; the best span is read from the logits."""

from __future__ import annotations

import numpy as np
import pytest

from xltransfer.kinds.qa_features import best_answers, check_answers, make_windows

FILLER = "the dog sees a cat and the bird likes the old cat"
ANSWER = "small red bird"
CONTEXT = f"{FILLER} . {FILLER} . the {ANSWER} follows the dog . {FILLER}"
QUESTION = "what follows the dog"


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def windows(tokenizer, start):
    return make_windows(
        tokenizer, [QUESTION], [CONTEXT], max_length=32, doc_stride=8, answers=([start], [ANSWER])
    )


def test_long_contexts_overlap_and_answers_map_to_their_tokens(tokenizer):
    start = CONTEXT.index(ANSWER)
    result = windows(tokenizer, start)
    assert len(result.input_ids) > 2 and set(result.example) == {0}
    assert all(len(ids) <= 32 for ids in result.input_ids)
    inside = [w for w, s in enumerate(result.start_positions) if s > 0]
    assert inside, "some window must hold the answer"
    assert len(inside) < len(result.input_ids)  # and some must not (they point at <s>)
    for w in inside:
        s, e = result.start_positions[w], result.end_positions[w]
        span = CONTEXT[result.offsets[w][s][0] : result.offsets[w][e][1]]
        assert span.strip() == ANSWER
    # Question tokens and special tokens have no context offsets.
    assert result.offsets[0][0] is None and result.offsets[0][1] is None


def test_the_best_span_is_read_back_from_the_logits(tokenizer):
    result = windows(tokenizer, CONTEXT.index(ANSWER))
    w = next(w for w, s in enumerate(result.start_positions) if s > 0)
    starts = [np.zeros(len(ids)) for ids in result.input_ids]
    ends = [np.zeros(len(ids)) for ids in result.input_ids]
    starts[w][result.start_positions[w]] = 5.0
    ends[w][result.end_positions[w]] = 5.0
    # A higher-scoring but invalid span (end before start) must lose.
    starts[w][result.end_positions[w] + 1] = 9.0
    (answer,) = best_answers(result, starts, ends, [CONTEXT])
    assert answer.strip() == ANSWER
    # SQuAD v2: a first-token score above every span means "no answer".
    starts[0][0] = ends[0][0] = 50.0
    assert best_answers(result, starts, ends, [CONTEXT], allow_empty=True) == [""]


def test_unanswerable_examples_point_at_the_first_token(tokenizer):
    result = windows(tokenizer, None)
    assert set(result.start_positions) == {0} and set(result.end_positions) == {0}


def test_an_answer_missing_from_its_context_names_the_row():
    check_answers(["a red bird"], [2], ["red"], "squad/train")
    with pytest.raises(ValueError, match="squad/train, row 1: answer 'blue' does not occur"):
        check_answers(["a red bird", "a red bird"], [2, 2], ["red", "blue"], "squad/train")
