"""Word tags land on first sub-tokens; the rest is ignored, and truncation is counted."""

from __future__ import annotations

import pytest

from xltransfer.kinds.token_labels import IGNORED_LABEL, encode_tagged_words


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_each_word_tag_sits_on_its_first_sub_token(tokenizer):
    words = [["the", "bird", "follows", "a", "cat"], ["dogs", "see"]]
    tags = [[0, 1, 2, 0, 1], [3, 4]]
    batch = encode_tagged_words(tokenizer, words, tags, max_length=32)
    assert batch.truncated_words == 0
    for i, sentence_tags in enumerate(tags):
        labels = batch.labels[i]
        assert [label for label in labels if label != IGNORED_LABEL] == sentence_tags
        word_ids = tokenizer(words[i], is_split_into_words=True).word_ids()
        for position, word in enumerate(word_ids):
            first = word is not None and (position == 0 or word_ids[position - 1] != word)
            assert (labels[position] != IGNORED_LABEL) == first
        assert labels[0] == labels[-1] == IGNORED_LABEL  # <s> and </s>
    # Words the vocabulary lacks split into several pieces: only one of them carries the tag.
    assert len(batch.input_ids[1]) > len(words[1]) + 2


def test_truncated_words_are_counted_not_dropped_silently(tokenizer):
    words = [["the", "dog", "sees", "the", "cat"] * 4]
    batch = encode_tagged_words(tokenizer, words, [[1] * 20], max_length=8)
    kept = sum(label != IGNORED_LABEL for label in batch.labels[0])
    assert len(batch.input_ids[0]) == 8
    assert kept + batch.truncated_words == 20 and batch.truncated_words > 0


def test_mismatched_tags_are_refused(tokenizer):
    with pytest.raises(ValueError, match="sentence 0: 2 words but 1 tags"):
        encode_tagged_words(tokenizer, [["the", "dog"]], [[0]], max_length=8)
