"""Entity F1 (seqeval) and tag accuracy on handmade sentences."""

from __future__ import annotations

import pytest

from xltransfer.kinds.tagging_metrics import entity_scores, tag_scores, word_level

GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "O"]]


def test_entity_f1_counts_whole_entities():
    # Three gold entities (PER, LOC, ORG). The prediction gets PER right, calls the LOC an ORG
    # and cuts the ORG short: 1 of 3 predicted entities is right, 1 of 3 gold ones is found.
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "B-ORG", "O", "O"]]
    scores = entity_scores(predicted, GOLD)
    assert scores == pytest.approx({"precision": 1 / 3, "recall": 1 / 3, "f1": 1 / 3})
    assert entity_scores(GOLD, GOLD)["f1"] == 1.0


def test_tag_accuracy_and_macro_f1_by_hand():
    gold = [["NOUN", "VERB", "NOUN"], ["DET", "NOUN"]]
    predicted = [["NOUN", "NOUN", "NOUN"], ["DET", "NOUN"]]
    scores = tag_scores(predicted, gold)
    assert scores["accuracy"] == pytest.approx(4 / 5)
    # NOUN: P 3/4, R 1 -> 6/7; VERB: 0; DET: 1 -> macro (6/7 + 0 + 1) / 3
    assert scores["f1_macro"] == pytest.approx((6 / 7 + 0 + 1) / 3)


def test_ignored_positions_are_dropped_and_mismatches_refused():
    names = ["O", "B-PER", "I-PER"]
    assert word_level([[-100, 1, -100, 2, 0, -100]], names) == [["B-PER", "I-PER", "O"]]
    with pytest.raises(ValueError, match="sentence 1: 3 predicted tags vs 4 gold"):
        entity_scores([GOLD[0], GOLD[1][:3]], GOLD)
    with pytest.raises(ValueError, match="length mismatch"):
        tag_scores([["O"]], [])


def test_entity_scores_only_for_iob_tag_sets():
    from xltransfer.kinds.tagging import is_iob

    assert is_iob(("O", "B-PER", "I-PER", "B-LOC", "I-LOC"))
    # UD-POS's 17 UPOS tags are plain tags: seqeval would misread e.g. "INTJ" as nothing.
    assert not is_iob(("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM"))
