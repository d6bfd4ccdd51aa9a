"""R3 (theorems.trees): the verifier checks every order up to the one asked for.

A tree sum that is wrong only at the top order (k = order) must make verify_r3 report
``holds = False``; the trees counted by enumeration stay |T_1(2)| = 2, |T_2(2)| = 1.
"""

import pytest
import sympy as sp

from theorems import trees
from theorems.trees import X, elementary_differential, tower_series, tree_sum, verify_r3


def test_R3_verify_fails_when_the_top_order_is_wrong(monkeypatch):
    right = trees.tree_sum
    monkeypatch.setattr(trees, "tree_sum", lambda n, k, x=X: right(n, k, x) + (x if k == 2 else 0))
    result = verify_r3(2, 2)
    assert result["holds"] is False and result["trees"] == [2, 1]


def test_R3_tower_series_names_the_bad_order():
    with pytest.raises(ValueError, match=r"^order must be a non-negative integer, got -1$"):
        tower_series(1, -1)


def test_R3_elementary_differentials_at_another_point():
    """At a point y: F(3 -> (1, 1))(y) = f1(y)^2 f3''(y), and T_2(2) = {2 -> 1} gives f1(y) f2'(y)."""
    y = sp.Symbol("y")
    f1, f3 = sp.Function("f1")(y), sp.Function("f3")(y)
    assert elementary_differential((3, ((1, ()), (1, ()))), y) == f1**2 * f3.diff(y, 2)
    assert tree_sum(2, 2, y) == sp.Function("f1")(y) * sp.Function("f2")(y).diff(y)
