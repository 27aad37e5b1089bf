"""SQuAD and MLQA exact match and F1 on strings whose scores are worked out by hand."""

from __future__ import annotations

import pytest

from xltransfer.kinds.qa_metrics import exact_match, normalize_answer, squad_scores, token_f1


def test_squad_normalisation_drops_case_punctuation_articles_and_spaces():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert normalize_answer("theatre") == "theatre"  # only whole-word articles


def test_exact_match_and_f1_by_hand():
    assert exact_match("the Eiffel tower.", "Eiffel Tower") == 1.0
    # prediction "eiffel tower paris" vs gold "tower": precision 1/3, recall 1 -> F1 = 0.5
    assert token_f1("Eiffel Tower, Paris", "the tower") == pytest.approx(0.5)
    # "new" twice against once: common tokens = min of the counts = 1; P = 1/3, R = 1/2
    assert token_f1("new new york", "new jersey") == pytest.approx(2 * (1 / 3) * (1 / 2) / (5 / 6))
    assert token_f1("Paris", "London") == 0.0


def test_squad_scores_take_the_best_gold_answer_and_average():
    scores = squad_scores(
        ["Denver Broncos", "in 1990", ""],
        [["Broncos", "Denver Broncos"], ["1991"], []],  # third: unanswerable, empty prediction
    )
    assert scores["exact_match"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx((1.0 + 0.0 + 1.0) / 3)
    with pytest.raises(ValueError, match="length mismatch"):
        squad_scores(["a"], [])


def test_mlqa_normalises_per_language():
    # Unicode punctuation (the Spanish ¿ and the fullwidth comma) is dropped, not only ASCII.
    assert normalize_answer("¿El Museo del Prado?", "es") == "museo del prado"
    assert normalize_answer("Der Rhein", "de") == "rhein"
    assert normalize_answer("القاهرة", "ar") == "قاهرة"  # the article is a prefix in Arabic
    # Chinese: characters are tokens, so one shared character of two gives F1 0.5.
    assert token_f1("北京", "北方", "zh") == pytest.approx(0.5)
    assert token_f1("北京，中国", "北京 中国", "zh") == 1.0
    with pytest.raises(ValueError, match="no MLQA normalisation for language 'xx'"):
        normalize_answer("a", "xx")
