"""Projection alignment recovers a known rotation from synthetic parallel embeddings."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import special_ortho_group

from xltransfer.evaluation.alignment import apply_alignment, fit_alignment


def parallel(n: int = 400, d: int = 16, noise: float = 0.01, seed: int = 0):
    """English embeddings, and a foreign language that is English rotated by R plus noise."""
    rng = np.random.default_rng(seed)
    english = rng.normal(size=(n, d))
    rotation = special_ortho_group.rvs(d, random_state=seed)
    foreign = english @ rotation + rng.normal(scale=noise, size=(n, d))
    return foreign, english, rotation


@pytest.mark.parametrize("method", ["least_squares", "procrustes"])
def test_recovers_the_inverse_of_a_known_rotation(method):
    foreign, english, rotation = parallel()
    weights = fit_alignment(foreign, english, method)
    # foreign = english R, so the map back is R⁻¹ = Rᵀ.
    np.testing.assert_allclose(weights, rotation.T, atol=0.01)
    mapped = apply_alignment(foreign, weights)
    assert np.abs(mapped - english).mean() < 0.02
    assert np.abs(foreign - english).mean() > 0.5  # without alignment the spaces disagree


def test_procrustes_is_orthogonal_and_least_squares_fits_a_scaling():
    foreign, english, _ = parallel(noise=0.2, seed=1)
    procrustes = fit_alignment(foreign, english, "procrustes")
    np.testing.assert_allclose(procrustes.T @ procrustes, np.eye(16), atol=1e-10)
    # A stretched foreign space: only the unconstrained map can undo a scaling.
    least_squares = fit_alignment(3.0 * foreign, english, "least_squares")
    orthogonal = fit_alignment(3.0 * foreign, english, "procrustes")
    error = {
        "least_squares": np.linalg.norm(3.0 * foreign @ least_squares - english),
        "procrustes": np.linalg.norm(3.0 * foreign @ orthogonal - english),
    }
    assert error["least_squares"] < error["procrustes"] / 2


def test_bad_inputs_are_refused():
    foreign, english, _ = parallel(n=5, d=3)
    with pytest.raises(ValueError, match="one shape"):
        fit_alignment(foreign, english[:, :2], "procrustes")
    with pytest.raises(ValueError, match="at least 2"):
        fit_alignment(foreign[:1], english[:1], "least_squares")
    with pytest.raises(ValueError, match="unknown alignment method 'cca'"):
        fit_alignment(foreign, english, "cca")
    with pytest.raises(ValueError, match="width 2"):
        apply_alignment(foreign[:, :2], np.eye(3))
