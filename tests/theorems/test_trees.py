"""R3: the tree expansion of a smooth tower, against SymPy's own series, THEORY's worked check,
linear branches (R1) and brute-force automorphism counts."""

import itertools
import math

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from theorems.counting import tree_count
from theorems.trees import (
    X,
    automorphisms,
    branch_functions,
    elementary_differential,
    label_decreasing_trees,
    tower_series,
    tree_size,
    tree_sum,
    verify_r3,
)


def test_R3_worked_check_n3_order3():
    """THEORY.md: f3'f2'f1 + f3''[f1,f1]/2 + f3''[f1,f2] + f3''[f2,f2]/2 + f2''[f1,f1]/2."""
    f1, f2, f3 = (f(X) for f in branch_functions(3))
    d1, d2 = (lambda g: g.diff(X)), (lambda g: g.diff(X, 2))
    stated = (d1(f3) * d1(f2) * f1 + sp.Rational(1, 2) * d2(f3) * f1**2 + d2(f3) * f1 * f2
              + sp.Rational(1, 2) * d2(f3) * f2**2 + sp.Rational(1, 2) * d2(f2) * f1**2)
    assert sp.expand(tree_sum(3, 3) - stated) == 0
    assert sp.expand(tower_series(3, 3)[3] - stated) == 0


@settings(max_examples=6)
@given(n=st.integers(min_value=1, max_value=4), order=st.integers(min_value=1, max_value=4))
def test_R3_series_equals_tree_sum(n, order):
    result = verify_r3(n, order)
    assert result["holds"]
    assert result["trees"] == [tree_count(n, k) for k in range(1, order + 1)]


def test_R3_series_equals_tree_sum_n5_order4():
    assert verify_r3(5, 4)["holds"]


@pytest.mark.parametrize("n", [2, 3])
def test_R3_sympy_series_of_the_composed_tower(n):
    """Second route: SymPy's ``series`` of the nested undefined functions, not our Taylor step."""
    lam = sp.Symbol("lam", positive=True)
    state = X
    for f in branch_functions(n):
        state = state + lam * f(state)
    series = sp.series(state, lam, 0, 4).removeO().doit()
    assert all(sp.expand(series.coeff(lam, k) - tree_sum(n, k)) == 0 for k in range(1, 4))


@given(st.lists(st.fractions(min_value=-2, max_value=2, max_denominator=5), min_size=1,
                max_size=4))
def test_R3_linear_branches_keep_only_chains(slopes):
    """f_i(y) = c_i y: every non-chain tree has a second derivative, so [lam^k] x_n = e_k(c) x."""
    y = sp.Symbol("y")
    c = [sp.Rational(q.numerator, q.denominator) for q in slopes]
    n = len(c)
    series = tower_series(n, n, X, functions=[sp.Lambda(y, ci * y) for ci in c])
    for k in range(1, n + 1):
        e_k = sp.Add(*(sp.Mul(*s) for s in itertools.combinations(c, k)))
        assert sp.expand(series[k] - e_k * X) == 0


def _brute_automorphisms(tree) -> int:
    """Permutations of the vertices preserving labels and the parent map."""
    labels, parents = [], []

    def walk(t, parent):
        index = len(labels)
        labels.append(t[0])
        parents.append(parent)
        for child in t[1]:
            walk(child, index)

    walk(tree, -1)
    count = 0
    for perm in itertools.permutations(range(len(labels))):
        if all(labels[perm[v]] == labels[v] for v in range(len(labels))) and all(
            (parents[v] == -1 and parents[perm[v]] == -1)
            or (parents[v] >= 0 and parents[perm[v]] == perm[parents[v]])
            for v in range(len(labels))
        ):
            count += 1
    return count


@pytest.mark.parametrize("n,k", [(3, 4), (4, 4), (2, 5)])
def test_R3_automorphisms_against_brute_force(n, k):
    for tree in label_decreasing_trees(n, k):
        assert automorphisms(tree) == _brute_automorphisms(tree)


@given(n=st.integers(min_value=1, max_value=5), k=st.integers(min_value=1, max_value=5))
def test_R3_enumeration_is_label_decreasing_and_distinct(n, k):
    trees = label_decreasing_trees(n, k)

    def decreasing(t):
        return all(c[0] < t[0] and decreasing(c) for c in t[1])

    assert len(set(trees)) == len(trees) == tree_count(n, k)
    assert all(tree_size(t) == k and decreasing(t) and 1 <= t[0] <= n for t in trees)


def test_R3_distinct_trees_can_share_a_monomial_in_one_dimension():
    """f4''[f3'f2, f1] and f4''[f3'f1, f2]: two trees, one monomial; trees are counted, not terms."""
    a = (4, ((1, ()), (3, ((2, ()),))))
    b = (4, ((2, ()), (3, ((1, ()),))))
    assert a in label_decreasing_trees(4, 4) and b in label_decreasing_trees(4, 4)
    assert a != b and elementary_differential(a) == elementary_differential(b)
    monomials = len(sp.Add.make_args(tree_sum(4, 4)))
    assert monomials < tree_count(4, 4) == 32


def test_R3_sigma_weights_of_the_cherries():
    assert automorphisms((3, ((1, ()), (1, ())))) == 2
    assert automorphisms((3, ((1, ()), (2, ())))) == 1
    assert automorphisms((5, ((2, ((1, ()),)), (2, ((1, ()),))))) == math.factorial(2)


@pytest.mark.parametrize("n,k", [(0, 2), (-1, 1), (2, -1), (1.5, 2), (2, True)])
def test_R3_bad_arguments_are_rejected(n, k):
    with pytest.raises(ValueError):
        label_decreasing_trees(n, k)
