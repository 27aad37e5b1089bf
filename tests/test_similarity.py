"""Tests for xltransfer.similarity.measures."""

import pytest

from xltransfer.similarity.measures import SIMILARITY_COLUMNS, taxonomy_similarity

FACETS = {
    "mnli": {"format": "pair", "output": "cls", "domain": "mixed"},
    "xnli": {"format": "pair", "output": "cls", "domain": "wiki"},
    "pos": {"format": "single", "output": "tag"},
}


def _value(df, source: str, target: str) -> float:
    sel = df[(df["source"] == source) & (df["target"] == target)]
    assert len(sel) == 1
    return float(sel["value"].iloc[0])


def test_hand_computed_equal_weights() -> None:
    weights = {"format": 1.0, "output": 1.0, "domain": 1.0}
    df = taxonomy_similarity(FACETS, ["mnli", "pos"], ["xnli"], weights)
    assert list(df.columns) == [c for c in SIMILARITY_COLUMNS if c != "model"]
    assert set(df["method"]) == {"taxonomy"}
    # mnli vs xnli: agree on format and output, differ on domain -> 2/3
    assert _value(df, "mnli", "xnli") == pytest.approx(2 / 3)
    # pos vs xnli: differ on format and output; pos has no domain -> disagreement -> 0
    assert _value(df, "pos", "xnli") == pytest.approx(0.0)


def test_identical_tasks_are_one() -> None:
    df = taxonomy_similarity(FACETS, ["mnli"], ["mnli"], {"format": 1, "output": 1, "domain": 1})
    assert _value(df, "mnli", "mnli") == pytest.approx(1.0)


def test_weights_change_value() -> None:
    # mnli vs xnli with weights format=3, output=1, domain=4: agree on 3 + 1 of 8 -> 0.5
    df = taxonomy_similarity(FACETS, ["mnli"], ["xnli"], {"format": 3, "output": 1, "domain": 4})
    assert _value(df, "mnli", "xnli") == pytest.approx(0.5)
    # facets not in weights are ignored: only domain counts -> 0
    df = taxonomy_similarity(FACETS, ["mnli"], ["xnli"], {"domain": 1})
    assert _value(df, "mnli", "xnli") == pytest.approx(0.0)


def test_missing_facet_on_both_sides_is_disagreement() -> None:
    facets = {"a": {"format": "x"}, "b": {"format": "x"}}
    df = taxonomy_similarity(facets, ["a"], ["b"], {"format": 1, "domain": 1})
    assert _value(df, "a", "b") == pytest.approx(0.5)


def test_errors() -> None:
    with pytest.raises(ValueError, match="  squad: no taxonomy facets"):
        taxonomy_similarity(FACETS, ["squad"], ["xnli"], {"format": 1})
    with pytest.raises(ValueError, match="  tydiqa: no taxonomy facets"):
        taxonomy_similarity(FACETS, ["mnli"], ["tydiqa"], {"format": 1})
    with pytest.raises(ValueError, match="empty"):
        taxonomy_similarity(FACETS, ["mnli"], ["xnli"], {})
    with pytest.raises(ValueError, match="sum to 0"):
        taxonomy_similarity(FACETS, ["mnli"], ["xnli"], {"format": 0.0})


TREE = {
    "mnli": {"format": "classification", "input": "pair", "family": "inference"},
    "xnli": {"format": "classification", "input": "pair", "family": "inference"},
    "qqp": {"format": "classification", "input": "pair", "family": "paraphrase"},
    "sst2": {"format": "classification", "input": "single", "family": "sentiment"},
    "stsb": {"format": "regression", "input": "pair", "family": "similarity"},
}


def test_wu_palmer_by_hand():
    from xltransfer.similarity.measures import wu_palmer_similarity

    levels = ["format", "input", "family"]  # leaves at depth 5: root, 3 levels, task
    df = wu_palmer_similarity(TREE, ["mnli", "qqp", "sst2", "stsb", "xnli"], ["xnli"], levels)
    value = df.set_index("source")["value"]
    # LCA depths: mnli/xnli under the same family (4), qqp under classification/pair (3),
    # sst2 under classification (2), stsb only the root (1), xnli itself (5).
    assert value.to_dict() == pytest.approx(
        {"mnli": 8 / 10, "qqp": 6 / 10, "sst2": 4 / 10, "stsb": 2 / 10, "xnli": 1.0}
    )
    assert set(df["method"]) == {"wu_palmer"}


def test_wu_palmer_counts_a_lower_level_only_under_agreement_above():
    from xltransfer.similarity.measures import wu_palmer_similarity

    # stsb and qqp share `input: pair` but not the format above it: nothing beyond the root.
    df = wu_palmer_similarity(TREE, ["stsb"], ["qqp"], ["format", "input", "family"])
    assert df["value"].iloc[0] == pytest.approx(2 / 10)
    with pytest.raises(ValueError, match=r"mnli: no facet \['domain'\] of the tree"):
        wu_palmer_similarity(TREE, ["mnli"], ["xnli"], ["format", "domain"])


def test_every_missing_facet_of_every_task_is_named_at_once():
    from xltransfer.similarity.measures import taxonomy_similarity, wu_palmer_similarity

    facets = {"a": {"format": "x"}, "b": {"input": "pair"}}
    with pytest.raises(ValueError) as error:
        wu_palmer_similarity(facets, ["a", "b"], ["c", "d"], ["format", "input"])
    assert str(error.value) == (
        "4 task(s) lack taxonomy facets:\n"
        "  a: no facet ['input'] of the tree ['format', 'input']\n"
        "  b: no facet ['format'] of the tree ['format', 'input']\n"
        "  c: no taxonomy facets\n"
        "  d: no taxonomy facets"
    )
    with pytest.raises(ValueError, match=r"2 task\(s\) lack .*\n  c: no taxonomy facets\n  d:"):
        taxonomy_similarity(facets, ["a", "b"], ["c", "d"], {"format": 1})


def test_vocabulary_overlap_by_hand():
    from xltransfer.similarity.measures import top_vocabulary, vocabulary_overlap

    texts = ["the cat sat", "The cat ran", "a dog"]
    assert top_vocabulary(texts, 2) == {"the", "cat"}  # the two most frequent, lower-cased
    vocabularies = {"s": {"a", "b", "c"}, "t": {"b", "c", "d", "e"}, "u": {"x"}}
    df = vocabulary_overlap(vocabularies, ["s", "u"], ["t"])
    assert df["value"].tolist() == pytest.approx([2 / 5, 0.0])
    assert set(df["method"]) == {"vocab_overlap"}
    with pytest.raises(ValueError, match=r"no vocabulary for tasks \['v'\]"):
        vocabulary_overlap(vocabularies, ["v"], ["t"])
    with pytest.raises(ValueError, match="no text"):
        top_vocabulary(["", None], 5)
