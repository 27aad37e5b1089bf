"""The answer's verdict on one method: decided by one primary test, fixed before the data.

`analysis.primary_test` names it: the pooled Spearman's source-permutation test or the mixed
model's t-test, each adjusted over the methods of a model. The other one is the secondary test:
it never decides, and the answer says where it disagrees. Shared by the answer and by the
calibration benchmark, which measures how often each verdict is said under no effect.
"""

from __future__ import annotations

PRIMARY_TESTS = ("pooled_permutation", "mixed_model")


def verdict(primary_rejects: bool, secondary_rejects: bool = False) -> str:
    """'predicts' when the primary test rejects; 'weak' when only the secondary one does (said
    as no reliable evidence, with the disagreement); 'none' otherwise."""
    if primary_rejects:
        return "predicts"
    return "weak" if secondary_rejects else "none"
