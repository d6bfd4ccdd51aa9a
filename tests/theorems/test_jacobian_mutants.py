"""R5 (theorems.jacobian): the symbols and the term counts of the Jacobian expansion, by hand.

prod_{i=3}^{1} (I + lam J_i) has C(3, k) = 1, 3, 3, 1 terms of order k, in the non-commuting
symbols J1, J2, J3 (later Jacobians on the left).
"""

import pytest
import sympy as sp

from theorems.jacobian import jacobian_symbols, tanh_tower, verify_r5_symbolic
from theorems.linear_paths import path_symbols


def test_R5_jacobian_symbols_are_noncommuting_J1_to_Jn():
    (j1, j2, j3), lam = jacobian_symbols(3)
    assert (j1, j2, j3) == sp.symbols("J1:4", commutative=False)
    assert j2 * j1 != j1 * j2 and lam.is_positive


def test_R5_expected_counts_are_binomial():
    result = verify_r5_symbolic(3)
    assert result == {"holds": True, "terms_by_order": [1, 3, 3, 1], "expected": [1, 3, 3, 1]}


def test_R5_tanh_tower_accepts_depth_and_width_1_and_refuses_bools():
    weights, lam = tanh_tower(1, 1, seed=0)
    assert len(weights) == 1 and weights[0].shape == (1, 1)
    assert lam == path_symbols(1)[1]  # the positive lam of R1, so the expansions compare
    with pytest.raises(ValueError, match="^d must be"):
        tanh_tower(1, True, seed=0)


def test_R5_tanh_tower_is_fixed_by_its_seed():
    assert tanh_tower(2, 2, seed=7)[0] == tanh_tower(2, 2, seed=7)[0]
    assert all(entry.is_Rational for w in tanh_tower(2, 2, seed=7)[0] for entry in w)
