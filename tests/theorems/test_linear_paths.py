"""R1: the linear path expansion, by three routes (distributive law, subset sum, SymPy expand)
and by exact and float64 substitution of concrete matrices."""

import itertools
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from theorems.linear_paths import (
    difference,
    expanded_by_sympy,
    numeric_product,
    numeric_subset_sum,
    path_symbols,
    product_by_order,
    subset_sum_by_order,
    terms,
    tower_product,
    verify_r1,
)

rationals = st.fractions(min_value=-3, max_value=3, max_denominator=7).map(
    lambda q: sp.Rational(q.numerator, q.denominator))


@given(st.integers(min_value=1, max_value=8))
def test_R1_product_equals_subset_sum_with_binomial_term_counts(n):
    result = verify_r1(n)
    assert result["holds"]
    assert result["terms_by_order"] == [math.comb(n, k) for k in range(n + 1)]
    assert result["total"] == 2**n


def test_R1_identity_at_depth_12():
    result = verify_r1(12)
    assert result["holds"] and result["total"] == 4096
    assert result["terms_by_order"] == [math.comb(12, k) for k in range(13)]


@pytest.mark.parametrize("n", [1, 3, 6])
def test_R1_sympy_expand_and_collect_agree(n):
    blocks, lam = path_symbols(n)
    by_sympy = expanded_by_sympy(blocks, lam)
    assert all(difference(p, q) == 0 for p, q in zip(product_by_order(blocks), by_sympy))


def test_R1_whole_identity_by_sympy_expand():
    blocks, lam = path_symbols(5)
    rhs = sp.Add(*(lam**k * c for k, c in enumerate(subset_sum_by_order(blocks))))
    assert sp.expand(tower_product(blocks, lam) - rhs) == 0


def test_R1_monomials_keep_the_block_order():
    """Later blocks sit on the left: A_S = A_{s_k} ... A_{s_1}; commuting would be wrong."""
    (a1, a2, a3), _ = path_symbols(3)
    order2 = product_by_order((a1, a2, a3))[2]
    assert set(terms(order2)) == {a2 * a1, a3 * a1, a3 * a2}
    assert difference(order2, a1 * a2 + a3 * a1 + a3 * a2) != 0


@given(n=st.integers(min_value=1, max_value=5), lam=rationals, seed=st.integers(0, 2**32 - 1))
def test_R1_exact_rational_matrices(n, lam, seed):
    """Second route: substitute exact rational 2x2 matrices and a rational lam."""
    rng = np.random.default_rng(seed)
    mats = [sp.Matrix(2, 2, [sp.Rational(int(v), 5) for v in rng.integers(-9, 10, 4)])
            for _ in range(n)]
    product = sp.eye(2)
    for a in mats:
        product = (sp.eye(2) + lam * a) * product
    total = sp.zeros(2, 2)
    for k in range(n + 1):
        for subset in itertools.combinations(range(n), k):
            term = sp.eye(2)
            for i in subset:
                term = mats[i] * term
            total += lam**k * term
    assert product == total
    blocks, _ = path_symbols(n)
    value = dict(zip(blocks, mats))
    substituted = sp.zeros(2, 2)
    for k, coeff in enumerate(product_by_order(blocks)):
        for t in terms(coeff):
            factors = t.args if isinstance(t, sp.Mul) else (() if t == 1 else (t,))
            substituted += lam**k * sp.Mul(sp.eye(2), *(value[f] for f in factors))
    assert substituted == product


@given(n=st.integers(min_value=1, max_value=10), seed=st.integers(0, 2**32 - 1),
       lam=st.floats(min_value=-1.0, max_value=1.0, allow_nan=False))
def test_R1_float64_matrices(n, seed, lam):
    rng = np.random.default_rng(seed)
    mats = rng.standard_normal((n, 3, 3)) / np.sqrt(3)
    product = numeric_product(mats, lam)
    scale = np.prod([1 + abs(lam) * np.linalg.norm(a, 2) for a in mats])
    assert np.linalg.norm(product - numeric_subset_sum(mats, lam)) <= 8 * n * 3 * 2.2e-16 * scale


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_R1_bad_depth_is_rejected(bad):
    with pytest.raises(ValueError, match="n must be"):
        path_symbols(bad)
