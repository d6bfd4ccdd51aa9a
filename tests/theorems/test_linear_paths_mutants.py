"""R1 (theorems.linear_paths): whole coefficient lists written out by hand, to kill mutants.

(1 + lam A3)(1 + lam A2)(1 + lam A1) = 1 + lam (A1 + A2 + A3) + lam^2 (A2 A1 + A3 A1 + A3 A2)
+ lam^3 A3 A2 A1: four coefficients, later blocks on the left. With a zero branch A2 = 0 the
product is 1 + lam A1 and its lam^2 coefficient is 0, although no lam^2 term is present.
"""

import pytest
import sympy as sp

from theorems.linear_paths import expanded_by_sympy, path_symbols, product_by_order, verify_r1


def test_R1_sympy_route_returns_every_order_of_depth_3():
    (a1, a2, a3), lam = path_symbols(3)
    expected = [1, a1 + a2 + a3, a2 * a1 + a3 * a1 + a3 * a2, a3 * a2 * a1]
    assert expanded_by_sympy((a1, a2, a3), lam) == expected
    assert product_by_order((a1, a2, a3)) == expected


def test_R1_zero_branch_leaves_its_orders_zero():
    (a1,), lam = path_symbols(1)
    assert expanded_by_sympy((a1, sp.Integer(0)), lam) == [1, a1, 0]


def test_R1_path_symbols_name_the_bad_depth():
    with pytest.raises(ValueError, match=r"^n must be a positive integer, got 0$"):
        path_symbols(0)


def test_R1_verify_reports_counts_and_their_binomials():
    """Depth 3: 1, 3, 3, 1 summands by order, C(3, k) expected, 8 in all."""
    assert verify_r1(3) == {"holds": True, "terms_by_order": [1, 3, 3, 1],
                            "expected": [1, 3, 3, 1], "total": 8}
