"""R2 cost counts (theorems.gated_paths): exact integers, derived by hand, that kill mutants.

The layer DP applies block i to y_0..y_{i-1}: 1 + 2 + ... + n = n(n+1)/2 applications; running
every path separately applies |S| blocks for each S: sum_k k C(n, k) = n 2^(n-1). Both are
integer counts, so they must be returned as ``int`` (a float 210.0 would pass an ``==`` test).
"""

import pytest

from theorems import gated_paths
from theorems.gated_paths import (
    augmented_tower,
    dp_block_applications,
    enumeration_block_applications,
    verify_r2,
)
from theorems.linear_paths import path_symbols


@pytest.mark.parametrize("n, dp, enumeration", [(1, 1, 1), (2, 3, 4), (3, 6, 12), (20, 210, 10485760)])
def test_R2_block_application_counts_are_exact_integers(n, dp, enumeration):
    """n = 3: DP 1 + 2 + 3 = 6; enumeration 3 * 2^2 = 12 (paths {1},{2},{3} once, pairs twice, all thrice)."""
    assert type(dp_block_applications(n)) is int and dp_block_applications(n) == dp
    assert type(enumeration_block_applications(n)) is int
    assert enumeration_block_applications(n) == enumeration


@pytest.mark.parametrize("function", [dp_block_applications, enumeration_block_applications])
def test_R2_cost_counts_name_the_bad_argument(function):
    with pytest.raises(ValueError, match=r"^n must be a positive integer, got 0$"):
        function(0)


def test_R2_augmented_tower_names_the_bad_width():
    with pytest.raises(ValueError, match=r"^d must be a positive integer, got 0$"):
        augmented_tower(1, 0)


def test_R2_shares_R1s_positive_lam():
    """R2 is R1 with A_i = J_i: both expansions are in the same positive symbol lam."""
    lam = augmented_tower(2, 1)[2]
    assert lam == path_symbols(1)[1] and lam.is_positive


def test_R2_verify_reports_its_sizes():
    assert verify_r2(1, 2) == {"n": 1, "d": 2, "holds": True, "augmented_coordinates": [1, 0]}


def test_R2_verify_fails_when_the_spectrum_misses_the_tower(monkeypatch):
    """A DP that doubles y_n (right degrees, right augmented coordinates, wrong sum) must make
    verify_r2 report ``holds = False``: the check can fail."""
    right = gated_paths.spectrum_by_dp

    def doubled_last(blocks, x0_aug, lam):
        ys = right(blocks, x0_aug, lam)
        return ys[:-1] + [2 * ys[-1]]

    monkeypatch.setattr(gated_paths, "spectrum_by_dp", doubled_last)
    assert verify_r2(1, 2) == {"n": 1, "d": 2, "holds": False, "augmented_coordinates": [1, 0]}
    result = verify_r2(2, 1)
    assert not result["holds"] and result["augmented_coordinates"] == [1, 0, 0]
