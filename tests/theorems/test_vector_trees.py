"""R3 in several dimensions: vector elementary differentials against the tower's Taylor series,
and what they catch that the scalar check cannot."""

import itertools

import pytest
import sympy as sp

from theorems import trees, vector_trees
from theorems.trees import automorphisms, label_decreasing_trees, verify_r3
from theorems.vector_trees import (
    _component,
    collisions,
    coordinates,
    vector_elementary_differential,
    vector_tower_series,
    vector_tree_sum,
    verify_r3_vector,
)

TWIN, ITS_TWIN = (4, ((1, ()), (3, ((2, ()),)))), (4, ((2, ()), (3, ((1, ()),))))


@pytest.mark.parametrize("n,d,order", [(1, 2, 3), (2, 2, 3), (3, 2, 3), (2, 3, 3), (3, 3, 2)])
def test_R3_vector_series_equals_tree_sum(n, d, order):
    result = verify_r3_vector(n, d, order)
    assert result["differing"] == 0 and result["components"] == order * d
    assert result["trees"] == [len(label_decreasing_trees(n, k)) for k in range(1, order + 1)]


def test_R3_vector_order_one_is_the_sum_of_the_branches():
    series = vector_tower_series(3, 2, 1)
    assert series[0] == coordinates(2)
    for a in range(2):
        assert sp.expand(series[1][a] - sum(_component(i, a + 1, 2) for i in (1, 2, 3))) == 0


def test_R3_vector_differential_of_a_chain_is_a_jacobian_product():
    """F(3[2[1]]) = f3'(x) f2'(x) f1(x): the Jacobians in this order, not transposed."""
    x = coordinates(2)

    def jac(label):
        return sp.Matrix(2, 2, lambda a, b: _component(label, a + 1, 2).diff(x[b]))

    f1 = sp.Matrix([_component(1, a, 2) for a in (1, 2)])
    want = jac(3) * jac(2) * f1
    got = vector_elementary_differential((3, ((2, ((1, ()),)),)), 2)
    assert all(sp.expand(g - w) == 0 for g, w in zip(got, want))
    wrong = jac(2) * jac(3) * f1
    assert any(sp.expand(g - w) != 0 for g, w in zip(got, wrong))


def test_R3_no_two_trees_share_a_vector_differential_but_twins_exist_in_one_dimension():
    assert collisions(4, 4, 1) == 2  # 4[1, 3[2]] and 4[2, 3[1]]
    assert all(collisions(n, k, 2) == 0 for n in range(1, 5) for k in range(1, 5))
    assert sp.expand(trees.elementary_differential(TWIN)
                     - trees.elementary_differential(ITS_TWIN)) == 0


def _twin_listed_twice(original):
    """label_decreasing_trees with 4[2, 3[1]] replaced by a second copy of its 1-D twin."""
    def enumerate_(n, k):
        return [TWIN if t == ITS_TWIN else t for t in original(n, k)]
    return enumerate_


def test_R3_vector_check_catches_a_twin_swap_the_scalar_check_misses(monkeypatch):
    """A dropped tree replaced by its one-dimensional twin: same count, same scalar sum."""
    original = trees.label_decreasing_trees
    monkeypatch.setattr(trees, "label_decreasing_trees", _twin_listed_twice(original))
    monkeypatch.setattr(vector_trees, "label_decreasing_trees", _twin_listed_twice(original))
    assert verify_r3(4, 4) == {"holds": True, "differing": 0, "trees": [4, 6, 14, 32]}
    vector_trees._differential.cache_clear()
    result = verify_r3_vector(4, 2, 4)
    assert result["differing"] == 2  # both components of order 4
    assert result["trees"] == [4, 6, 14, 32]


def test_R3_vector_check_catches_a_transposed_jacobian_the_scalar_check_misses():
    """F(t)^a with d f^b / d x_a in place of d f^a / d x_b: invisible in one dimension."""
    def transposed(tree, d):
        label, children = tree
        x = coordinates(d)
        inner = [transposed(c, d) for c in children]
        out = []
        for a in range(1, d + 1):
            terms = []
            for index in itertools.product(range(d), repeat=len(children)):
                if len(index) == 1:  # a single child: the transposed Jacobian
                    head = _component(label, index[0] + 1, d).diff(x[a - 1])
                    terms.append(head * inner[0][a - 1])
                    continue
                f = _component(label, a, d)
                head = f.diff(*(x[b] for b in index)) if index else f
                terms.append(sp.Mul(head, *(v[b] for v, b in zip(inner, index))))
            out.append(sp.Add(*terms))
        return tuple(out)

    for d, expect_equal in ((1, True), (2, False)):
        series = vector_tower_series(3, d, 3)
        wrong = [sp.Add(*(transposed(t, d)[a] / automorphisms(t)
                          for t in label_decreasing_trees(3, 3))) for a in range(d)]
        same = all(sp.expand(series[3][a] - wrong[a]) == 0 for a in range(d))
        assert same is expect_equal


def test_R3_vector_check_catches_a_wrong_weight(monkeypatch):
    monkeypatch.setattr(vector_trees, "automorphisms",
                        lambda t: 1 if any(c == t[1][0] for c in t[1][1:]) else automorphisms(t))
    assert verify_r3_vector(3, 2, 3)["differing"] > 0


def test_R3_vector_tree_sum_of_the_worked_check_has_five_trees():
    total = vector_tree_sum(3, 3, 2)
    assert len(total) == 2 and all(len(sp.Add.make_args(sp.expand(c))) > 5 for c in total)


@pytest.mark.parametrize("call", [lambda: coordinates(0), lambda: vector_tower_series(2, 2, 0),
                                  lambda: vector_tree_sum(2, 0, 2),
                                  lambda: vector_elementary_differential((1, ()), 0),
                                  lambda: collisions(2, 2, 0)])
def test_R3_vector_bad_arguments_are_rejected(call):
    with pytest.raises(ValueError):
        call()
