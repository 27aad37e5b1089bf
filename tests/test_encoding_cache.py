"""The encoded cache: an entry reads back exactly what the kind's encoder gave, any change to
what the encoding depends on gets a new entry, and a damaged entry is encoded again."""

import logging
import random

import pytest
import torch
from test_kinds import LABELS, _frames

from xltransfer.kinds import KINDS
from xltransfer.kinds.encoding_cache import EncodedExamples, encode_once, example_lengths
from xltransfer.spec import TaskHead
from xltransfer.training.pretrain import train_tokenizer

WORDS = "a red cat dog the runs far who what is sits purrs barks no".split()


@pytest.fixture(scope="module")
def tokenizer():
    texts = [" ".join(random.Random(i).choices(WORDS, k=8)) for i in range(200)]
    return train_tokenizer(texts, vocab_size=60)


def same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    return type(a) is type(b) and a == b


VERBALISER = {
    "template": "{text_a} ? {text_b}",
    "label_words": ["no", "red"],
    "max_target_tokens": 4,
}


def kinds_to_check():
    """Every trainable kind, and text-to-text classification bound to a verbaliser."""
    heads = {name: (name, name) for name in _frames()}
    heads["text_to_text_classification"] = ("text_to_text_classification", "classification")
    return heads


def bound_kind(head: str, labels, verbaliser=None):
    t2t = head.startswith("text_to_text")
    task = TaskHead(
        "toy",
        head,
        labels,
        KINDS[head].metrics[0],
        text_to_text=verbaliser or (VERBALISER if t2t else None),
    )
    return task.kind


@pytest.mark.parametrize("name", sorted(kinds_to_check()))
def test_an_entry_reads_back_what_the_encoder_gave(name, tokenizer, tmp_path, caplog):
    head, frame_kind = kinds_to_check()[name]
    labels = LABELS.get(frame_kind, ())
    kind = bound_kind(head, labels)
    frame = _frames()[frame_kind]
    caplog.set_level(logging.INFO, "xltransfer.kinds.encoding_cache")

    encoded = encode_once(kind, frame, tokenizer, 32, 8, tmp_path)
    read = encode_once(kind, frame, tokenizer, 32, 8, tmp_path)

    assert isinstance(read, EncodedExamples) and not isinstance(encoded, EncodedExamples)
    assert ["miss", "hit"] == [r.getMessage().split()[2].rstrip(":") for r in caplog.records]
    assert len(read) == len(encoded) >= len(frame)
    for fresh, cached in zip(encoded, read, strict=True):
        assert fresh.keys() == cached.keys()
        assert all(same(fresh[key], cached[key]) for key in fresh), (fresh, cached)
    assert list(example_lengths(read)) == list(example_lengths(encoded))
    # The collated batches (what the model sees) are equal too.
    batches = [
        next(iter(kind.loader(ex, tokenizer, 2, shuffle=True, seed=1))) for ex in (encoded, read)
    ]
    assert batches[0].keys() == batches[1].keys()
    assert all(torch.equal(batches[0][key], batches[1][key]) for key in batches[0])


def test_every_setting_the_encoding_depends_on_gets_its_own_entry(tokenizer, tmp_path):
    kind = KINDS["qa"]
    frame = _frames()["qa"]
    other_tokenizer = train_tokenizer(["the red dog runs"] * 50, vocab_size=40)
    pairs = _frames()["classification"]
    changed_row = frame.assign(text_b=["the dog runs far away", "a red cat sits"])
    variants = [
        (kind, frame, tokenizer, 32, 8),
        (kind, frame, tokenizer, 24, 8),  # max_length
        (kind, frame, tokenizer, 32, 4),  # the QA window stride
        (kind, changed_row, tokenizer, 32, 8),  # the rows
        (kind, frame.iloc[:1], tokenizer, 32, 8),  # a sample of them
        (kind, frame, other_tokenizer, 32, 8),  # the tokenizer
        (KINDS["classification"], pairs, tokenizer, 32, 8),
        (KINDS["regression"], pairs, tokenizer, 32, 8),  # the kind
    ]
    for variant in variants:
        encode_once(*variant, tmp_path)
    assert len(list(tmp_path.glob("*.arrow"))) == len(variants)
    for variant in variants:  # and each is found again
        assert isinstance(encode_once(*variant, tmp_path), EncodedExamples)
    assert len(list(tmp_path.glob("*.arrow"))) == len(variants)
    assert not list(tmp_path.glob(".*"))  # no partial file left behind


def test_a_padding_side_or_a_verbaliser_changes_the_key(tokenizer, tmp_path):
    frame = _frames()["classification"]
    encode_once(KINDS["classification"], frame, tokenizer, 32, 8, tmp_path)
    tokenizer_left = train_tokenizer(
        [" ".join(random.Random(i).choices(WORDS, k=8)) for i in range(200)], vocab_size=60
    )
    tokenizer_left.padding_side = "left"
    encode_once(KINDS["classification"], frame, tokenizer_left, 32, 8, tmp_path)
    reworded = {**VERBALISER, "template": "premise: {text_a} hypothesis: {text_b}"}
    for verbaliser in (VERBALISER, reworded):
        kind = bound_kind("text_to_text_classification", ("no", "red"), verbaliser)
        encode_once(kind, frame, tokenizer, 32, 8, tmp_path)
    assert len(list(tmp_path.glob("*.arrow"))) == 4


def test_a_damaged_entry_is_encoded_again_and_replaced(tokenizer, tmp_path, caplog):
    kind, frame = KINDS["classification"], _frames()["classification"]
    encoded = encode_once(kind, frame, tokenizer, 32, 8, tmp_path)
    (entry,) = tmp_path.glob("*.arrow")
    entry.write_bytes(entry.read_bytes()[:40])
    with caplog.at_level(logging.WARNING, "xltransfer.kinds.encoding_cache"):
        again = encode_once(kind, frame, tokenizer, 32, 8, tmp_path)
    assert "unreadable" in caplog.text and str(entry) in caplog.text
    assert [e["input_ids"] for e in again] == [e["input_ids"] for e in encoded]
    assert isinstance(encode_once(kind, frame, tokenizer, 32, 8, tmp_path), EncodedExamples)


def test_no_folder_encodes_without_keeping(tokenizer, tmp_path):
    kind, frame = KINDS["classification"], _frames()["classification"]
    examples = encode_once(kind, frame, tokenizer, 32, 8, None)
    assert isinstance(examples, list) and len(examples) == 2


def test_entries_are_read_row_by_row_with_python_indexing(tokenizer, tmp_path):
    kind, frame = KINDS["token"], _frames()["token"]
    encode_once(kind, frame, tokenizer, 32, 8, tmp_path)
    read = encode_once(kind, frame, tokenizer, 32, 8, tmp_path)
    assert read[-1] == read[1] and read[0:2] == [read[0], read[1]]
    with pytest.raises(IndexError):
        read[2]


def test_a_folder_that_cannot_be_written_costs_only_the_entry(tokenizer, tmp_path, caplog):
    kind, frame = KINDS["classification"], _frames()["classification"]
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with caplog.at_level(logging.WARNING, "xltransfer.kinds.encoding_cache"):
        examples = encode_once(kind, frame, tokenizer, 32, 8, blocked / "encoded")
    assert len(examples) == 2 and "not written" in caplog.text
