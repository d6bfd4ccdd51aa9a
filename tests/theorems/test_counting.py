"""R4: chain and tree counts by generating function, against enumeration, brute force, the
SymPy closed forms, and the exponential tower (weighted sums)."""

import itertools
import math

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from theorems import counting
from theorems.counting import (
    chain_count,
    mset_coefficient,
    tree_count,
    tree_count_polynomial,
    tree_counts,
    weighted_tree_sum,
    weighted_tree_sums,
)
from theorems.trees import automorphisms, label_decreasing_trees

N = sp.Symbol("n", integer=True, nonnegative=True)


@given(n=st.integers(min_value=0, max_value=12), k=st.integers(min_value=0, max_value=14))
def test_R4_chain_count_is_the_number_of_k_subsets(n, k):
    assert chain_count(n, k) == sum(1 for _ in itertools.combinations(range(n), k))


@given(n=st.integers(min_value=1, max_value=6), k=st.integers(min_value=1, max_value=6))
def test_R4_tree_count_matches_enumeration(n, k):
    assert tree_count(n, k) == len(label_decreasing_trees(n, k))


@given(n=st.integers(min_value=0, max_value=300))
def test_R4_order_zero_is_the_identity_term(n):
    assert tree_count(n, 0) == 1 and weighted_tree_sum(n, 0) == 1


@pytest.mark.parametrize("k,stated", [
    (1, N), (2, sp.binomial(N, 2)), (3, sp.binomial(N, 3) + sp.binomial(N + 1, 3)),
])
def test_R4_theory_closed_forms_proved_by_summation(k, stated):
    assert sp.expand(tree_count_polynomial(k, N) - sp.expand_func(stated)) == 0


@given(n=st.integers(min_value=0, max_value=200), k=st.integers(min_value=0, max_value=5))
def test_R4_closed_forms_match_the_generating_function(n, k):
    assert tree_count_polynomial(k, N).subs(N, n) == tree_count(n, k)


@given(n=st.integers(min_value=1, max_value=200))
def test_R4_low_orders_against_math_comb(n):
    assert [tree_count(n, k) for k in (1, 2, 3)] == [
        n, math.comb(n, 2), math.comb(n, 3) + math.comb(n + 1, 3)]


def test_R4_mset_coefficient_counts_multisets():
    """[z^3] MSET of a class with b_1 = 2, b_2 = 1, b_3 = 1: brute-force over multisets."""
    objects = [1, 1, 2, 3]  # sizes of four distinct objects
    brute = sum(1 for r in range(4) for combo in itertools.combinations_with_replacement(
        range(4), r) if sum(objects[i] for i in combo) == 3)
    assert mset_coefficient(3, {1: 2, 2: 1, 3: 1}) == brute


@given(n=st.integers(min_value=1, max_value=5), k=st.integers(min_value=1, max_value=5))
def test_R4_weighted_sum_matches_enumeration(n, k):
    exact = sum((sp.Rational(1, automorphisms(t)) for t in label_decreasing_trees(n, k)),
                sp.Integer(0))
    assert weighted_tree_sum(n, k) == exact
    assert isinstance(weighted_tree_sum(n, k), sp.Rational)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_R4_weighted_sum_is_the_exponential_tower(n):
    """x_i = x_{i-1} + lam exp(x_{i-1}) at x = 0, expanded by SymPy's own series."""
    lam, x = sp.Symbol("lam"), sp.Integer(0)
    state = x
    for _ in range(n):
        state = state + lam * sp.exp(state)
    series = sp.series(state, lam, 0, 5).removeO()
    assert [series.coeff(lam, k) for k in range(1, 5)] == [
        weighted_tree_sum(n, k) for k in range(1, 5)]


def test_R4_tables_agree_with_single_lookups():
    table = tree_counts(30, 8)
    weights = weighted_tree_sums(10, 5)
    assert all(table[n][k] == tree_count(n, k) for n in range(31) for k in range(9))
    assert all(weights[n][k] == weighted_tree_sum(n, k) for n in range(11) for k in range(6))


def euler_transform_counts(depth: int, order: int) -> list[list[int]]:
    """Oracle: N(n, k) by the Euler transform in Python integers, one depth at a time
    (m c_m = sum_j s_j c_{m-j}, s_j = sum_{d | j} d N(r, d)), no residues."""
    rows = [[1] + [0] * order]
    for _ in range(depth):
        s = [sum(d * rows[-1][d] for d in range(1, j + 1) if j % d == 0)
             for j in range(order + 1)]
        c = [1] + [0] * order
        for m in range(1, order + 1):
            c[m] = sum(s[j] * c[m - j] for j in range(1, m + 1)) // m
        rows.append([1] + [rows[-1][k] + c[k - 1] for k in range(1, order + 1)])
    return rows


@given(depth=st.integers(min_value=0, max_value=45), order=st.integers(min_value=0, max_value=45))
def test_R4_residue_tables_match_the_integer_euler_transform(depth, order):
    """The multi-modular table (theorems.residues) against plain big-integer arithmetic."""
    counting._TREES = counting._TreeTable()  # a table of exactly this size, not a cached one
    assert tree_counts(depth, order) == euler_transform_counts(depth, order)
    assert tree_counts(depth) == [row[: n + 1] for n, row in
                                  enumerate(euler_transform_counts(depth, depth))]


def test_R4_depth_120_counts_need_many_primes_and_stay_exact():
    expected = euler_transform_counts(120, 120)
    counting._TREES = counting._TreeTable()
    assert tree_counts(120, 120) == expected
    assert expected[120][120].bit_length() > 27 * 30  # dozens of primes were combined


def test_R4_large_depth_counts_are_exact_integers():
    assert tree_count(200, 3) == math.comb(200, 3) + math.comb(201, 3)
    assert tree_count(200, 5) == tree_count_polynomial(5, N).subs(N, 200)
    assert isinstance(tree_count(60, 60), int) and tree_count(60, 60) > 2**60


@pytest.mark.parametrize("n,k", [(-1, 0), (0, -1), (1.0, 1), (2, "1"), (True, 1)])
def test_R4_bad_arguments_are_rejected(n, k):
    for function in (chain_count, tree_count, weighted_tree_sum):
        with pytest.raises(ValueError, match="must be"):
            function(n, k)
