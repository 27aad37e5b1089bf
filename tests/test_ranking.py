"""NDCG@k and Regret@k against hand-computed values."""

from __future__ import annotations

import math

import pytest

from xltransfer.ranking import ndcg_at_k, regret_at_k


def test_ndcg_by_hand():
    gains = [3.0, 2.0, 0.0, 1.0]  # relevance is the gain above the worst source: the same here
    predicted = [0.1, 0.9, 0.5, 0.3]  # ranks sources 1, 2, 3, 0
    dcg = 2 / math.log2(2) + 0 / math.log2(3) + 1 / math.log2(4)
    ideal = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(predicted, gains, k=3) == pytest.approx(dcg / ideal)
    assert ndcg_at_k([4, 3, 1, 2], gains, k=4) == pytest.approx(1.0)
    # Shifting all gains leaves relevance (gain above the worst) unchanged.
    assert ndcg_at_k(predicted, [g - 5 for g in gains], 3) == pytest.approx(dcg / ideal)


def test_regret_by_hand():
    scores = [70.0, 75.0, 60.0, 72.0]
    predicted = [0.9, 0.1, 0.5, 0.3]  # ranks sources 0, 2, 3, 1
    assert regret_at_k(predicted, scores, 1) == pytest.approx(5 / 75)
    assert regret_at_k(predicted, scores, 2) == pytest.approx(5 / 75)
    assert regret_at_k(predicted, scores, 3) == pytest.approx(3 / 75)
    assert regret_at_k(predicted, scores, 4) == 0.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ndcg_at_k([1, 2], [1, 2], k=3), "between 1 and the number of sources"),
        (lambda: ndcg_at_k([1, 2, 3], [1, 2], k=1), "equal-length"),
        (lambda: regret_at_k([1, 2], [-1, -2], k=1), "must be positive"),
        (lambda: regret_at_k([1, math.nan], [1, 2], k=1), "finite"),
    ],
)
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
