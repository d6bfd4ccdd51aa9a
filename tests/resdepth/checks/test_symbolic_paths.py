"""The symbolic R1/R3/R4/R5 checks of ``resdepth validate`` pass in quick mode and are registered
under their labels; a check row fails when its prediction is wrong."""

import math

import pytest
import sympy as sp

from resdepth.checks import CheckContext, load_checks, symbolic_paths
from theorems import linear_paths, trees, vector_trees

CHECKS = {
    "R1": [symbolic_paths.r1_symbolic_identity, symbolic_paths.r1_numeric_substitution],
    "R3": [symbolic_paths.r3_tree_expansion, symbolic_paths.r3_vector_trees,
           symbolic_paths.r3_exponential_tower, symbolic_paths.r3_autograd_taylor],
    "R4": [symbolic_paths.r4_tree_counts],
    "R5": [symbolic_paths.r5_symbolic_jacobian],
}


@pytest.mark.parametrize("label,check", [(lab, c) for lab, cs in CHECKS.items() for c in cs])
def test_symbolic_checks_pass_in_quick_mode(label, check):
    assert check in [entry.check for entry in load_checks()[label]]
    rows = check(CheckContext(quick=True))
    assert rows and all(row.label == label and row.kind == "exact" for row in rows)
    assert [row.verdict for row in rows] == ["pass"] * len(rows), [r.as_dict() for r in rows]
    assert all(row.criterion is not None and row.power.informative() for row in rows)
    for row in rows:
        assert row.criterion.holds(row.statistic)
        assert all(isinstance(v, int | float) for v in (row.prediction, row.measurement))


def test_R3_scalar_power_leaves_out_the_one_dimensional_twins():
    rows = symbolic_paths.r3_tree_expansion(CheckContext(quick=True))
    n4 = rows[-1]
    assert n4.details["one_dimensional_twins"] == 2  # 4[1, 3[2]] and 4[2, 3[1]]
    assert n4.power.value == sum(n4.details["trees_by_order"]) - 2


def _twin_listed_twice(original):
    twin, its_twin = (4, ((1, ()), (3, ((2, ()),)))), (4, ((2, ()), (3, ((1, ()),))))
    return lambda n, k: [twin if t == its_twin else t for t in original(n, k)]


def test_R3_vector_row_fails_where_the_scalar_rows_pass_a_twin_swap(monkeypatch):
    """A tree dropped and its 1-D twin listed twice: the scalar rows cannot see it."""
    swapped = _twin_listed_twice(trees.label_decreasing_trees)
    for module in (trees, vector_trees):
        monkeypatch.setattr(module, "label_decreasing_trees", swapped)
    vector_trees._differential.cache_clear()
    ctx = CheckContext(quick=True)
    assert {row.verdict for row in symbolic_paths.r3_tree_expansion(ctx)} == {"pass"}
    vector = symbolic_paths.r3_vector_trees(ctx)
    assert [row.verdict for row in vector] == ["pass", "pass", "fail"]  # order 4 has the twins


def test_R1_symbolic_check_fails_when_the_product_multiplies_on_the_right(monkeypatch):
    def right_product(blocks):
        coeffs = [sp.Integer(1)] + [sp.Integer(0)] * len(blocks)
        for i, block in enumerate(blocks, start=1):
            coeffs = [coeffs[0]] + [
                sp.Add(coeffs[k], *(sp.Mul(t, block) for t in linear_paths.terms(coeffs[k - 1])))
                for k in range(1, i + 1)] + coeffs[i + 1:]
        return coeffs

    monkeypatch.setattr(linear_paths, "product_by_order", right_product)
    rows = symbolic_paths.r1_symbolic_identity(CheckContext(quick=True))
    assert [row.verdict for row in rows] == ["pass"] + ["fail"] * (len(rows) - 1)  # n = 1: one word


def test_R4_check_fails_on_a_wrong_count(monkeypatch):
    monkeypatch.setattr(symbolic_paths, "tree_count", lambda n, k: n + k)
    rows = symbolic_paths.r4_tree_counts(CheckContext(quick=True))
    assert all(row.verdict == "fail" for row in rows)


def test_R3_autograd_check_fails_without_the_factorial(monkeypatch):
    coefficients = symbolic_paths.taylor_coefficients

    def derivatives(branches, x, order):
        series = coefficients(branches, x, order)
        return [c * math.factorial(k) for k, c in enumerate(series)]

    monkeypatch.setattr(symbolic_paths, "taylor_coefficients", derivatives)
    rows = symbolic_paths.r3_autograd_taylor(CheckContext(quick=True))
    assert all(row.verdict == "fail" for row in rows)
