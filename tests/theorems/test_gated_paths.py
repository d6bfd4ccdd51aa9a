"""R2 symbolic side (theorems/gated_paths.py): the layer DP in augmented coordinates."""

import cmath
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theorems.gated_paths import (
    coefficients_by_roots_of_unity,
    dp_block_applications,
    enumeration_block_applications,
    verify_r2,
)


@pytest.mark.parametrize(("n", "d"), [(1, 1), (2, 2), (3, 1), (4, 1), (3, 2)])
def test_R2_dp_spectrum_sums_to_the_affine_tower(n, d):
    result = verify_r2(n, d)
    assert result["holds"]
    assert result["augmented_coordinates"] == [1] + [0] * n


@given(seed=st.integers(0, 2**32 - 1), degree=st.integers(0, 12))
def test_R2_roots_of_unity_recover_polynomial_coefficients(seed, degree):
    coefficients = np.random.default_rng(seed).normal(size=degree + 1)
    nodes = [cmath.exp(2j * cmath.pi * j / (degree + 1)) for j in range(degree + 1)]
    values = [np.polynomial.polynomial.polyval(w, coefficients) for w in nodes]
    recovered = np.array(coefficients_by_roots_of_unity(values))
    scale = np.abs(coefficients).sum()
    assert np.max(np.abs(recovered - coefficients)) <= 64 * (degree + 1) * 2.0**-52 * scale


@pytest.mark.parametrize("n", range(1, 9))
def test_R2_cost_counts_match_brute_force(n):
    paths = itertools.product((0, 1), repeat=n)
    assert enumeration_block_applications(n) == sum(sum(path) for path in paths)
    assert dp_block_applications(n) == sum(range(1, n + 1))


def test_R2_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match="n must be"):
        verify_r2(0, 1)
    with pytest.raises(ValueError, match="at least one"):
        coefficients_by_roots_of_unity([])
