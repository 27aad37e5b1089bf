"""Token-classification scores: entity-level F1 with seqeval for NER (PAN-X, CoNLL-2003) and
tag accuracy and macro F1 for POS (UD-POS), over the first sub-token of every word.

Sequences are lists of string tags per sentence; positions the model does not predict (the
label -100 of non-first sub-tokens and special tokens) are dropped before scoring.
"""

from __future__ import annotations

from collections.abc import Sequence

from xltransfer.kinds.token_labels import IGNORED_LABEL


def _checked(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> None:
    if len(predictions) != len(references):
        raise ValueError(
            f"length mismatch: {len(predictions)} predicted vs {len(references)} gold sentences"
        )
    if not references:
        raise ValueError("empty input: no sentences to score")
    for i, (predicted, gold) in enumerate(zip(predictions, references, strict=True)):
        if len(predicted) != len(gold):
            raise ValueError(f"sentence {i}: {len(predicted)} predicted tags vs {len(gold)} gold")


def entity_scores(
    predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Micro precision, recall and F1 over whole entities (IOB2, conlleval's rules)."""
    from seqeval.metrics import f1_score, precision_score, recall_score

    _checked(predictions, references)
    predicted, gold = [list(s) for s in predictions], [list(s) for s in references]
    return {
        "precision": float(precision_score(gold, predicted, zero_division=0)),
        "recall": float(recall_score(gold, predicted, zero_division=0)),
        "f1": float(f1_score(gold, predicted, zero_division=0)),
    }


def tag_scores(
    predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Accuracy and macro F1 over every word's tag (POS)."""
    from sklearn.metrics import accuracy_score, f1_score

    _checked(predictions, references)
    predicted = [tag for sentence in predictions for tag in sentence]
    gold = [tag for sentence in references for tag in sentence]
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "f1_macro": float(f1_score(gold, predicted, average="macro", zero_division=0)),
    }


def word_level(label_ids: Sequence[Sequence[int]], names: Sequence[str]) -> list[list[str]]:
    """Tag names of the scored positions: ids mapped through `names`, -100 positions dropped."""
    return [[names[i] for i in sentence if i != IGNORED_LABEL] for sentence in label_ids]
