"""R5 (theorems.jacobian): the symbols and the term counts of the Jacobian expansion, by hand.

prod_{i=3}^{1} (I + lam J_i) has C(3, k) = 1, 3, 3, 1 terms of order k, in the non-commuting
symbols J1, J2, J3 (later Jacobians on the left).
"""

import sympy as sp

from theorems.jacobian import jacobian_symbols, verify_r5_symbolic


def test_R5_jacobian_symbols_are_noncommuting_J1_to_Jn():
    (j1, j2, j3), lam = jacobian_symbols(3)
    assert (j1, j2, j3) == sp.symbols("J1:4", commutative=False)
    assert j2 * j1 != j1 * j2 and lam.is_positive


def test_R5_expected_counts_are_binomial():
    result = verify_r5_symbolic(3)
    assert result == {"holds": True, "terms_by_order": [1, 3, 3, 1], "expected": [1, 3, 3, 1]}
