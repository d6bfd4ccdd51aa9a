"""R5 (symbolic part): the Jacobian product expands to the sum over J_S, and the chain rule
d x_n/d x_0 = prod (I + lam J_i(x_{i-1})) holds exactly on SymPy-differentiated towers."""

import functools
import itertools
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from theorems.jacobian import jacobian_symbols, tanh_tower, verify_chain_rule, verify_r5_symbolic
from theorems.linear_paths import product_by_order, terms


@given(st.integers(min_value=1, max_value=9))
def test_R5_product_expands_to_the_path_sum(n):
    result = verify_r5_symbolic(n)
    assert result["holds"]
    assert result["terms_by_order"] == [math.comb(n, k) for k in range(n + 1)]


def test_R5_order_is_later_jacobians_on_the_left():
    (j1, j2, j3), _ = jacobian_symbols(3)
    assert product_by_order((j1, j2, j3))[3] == j3 * j2 * j1
    assert j3 * j2 * j1 != j1 * j2 * j3


@settings(max_examples=3)
@given(seed=st.integers(min_value=0, max_value=2**16))
def test_R5_chain_rule_on_tanh_towers(seed):
    assert verify_chain_rule(2, 2, seed=seed)


@pytest.mark.slow
@pytest.mark.parametrize("n,d", [(3, 2), (2, 3)])
def test_R5_chain_rule_deeper_and_wider(n, d):
    assert verify_chain_rule(n, d, seed=n * 10 + d)


def test_R5_chain_rule_fails_without_the_identity():
    """The checker can fail: dropping the skip connection's I from one factor breaks it."""
    weights, lam = tanh_tower(2, 2, seed=0)
    x0 = sp.Matrix(sp.symbols("x1:3", real=True))
    state, product = x0, sp.eye(2)
    for i, w in enumerate(weights):
        pre = w * state
        jac = sp.diag(*[1 - sp.tanh(p) ** 2 for p in pre]) * w
        product = ((sp.eye(2) if i else sp.zeros(2)) + lam * jac) * product
        state = state + lam * pre.applyfunc(sp.tanh)
    assert any(sp.expand(e) != 0 for e in state.jacobian(x0) - product)


def chain(factors) -> np.ndarray:
    """The product of 3x3 matrices in the order given (the identity for none)."""
    return functools.reduce(np.matmul, factors, np.eye(3))


@given(n=st.integers(min_value=1, max_value=6), seed=st.integers(0, 2**32 - 1),
       lam=st.floats(min_value=-2.0, max_value=2.0, allow_nan=False))
def test_R5_float64_substitution_of_the_expansion(n, seed, lam):
    """Second route: random float64 Jacobians substituted into the symbolic coefficients."""
    rng = np.random.default_rng(seed)
    mats = rng.standard_normal((n, 3, 3))
    blocks, _ = jacobian_symbols(n)
    value = dict(zip(blocks, mats))
    total = np.zeros((3, 3))
    for k, coeff in enumerate(product_by_order(blocks)):
        for t in terms(coeff):
            factors = t.args if isinstance(t, sp.Mul) else (() if t == 1 else (t,))
            total += lam**k * chain(value[f] for f in factors)
    product = np.eye(3)
    for a in mats:
        product = (np.eye(3) + lam * a) @ product
    scale = np.prod([1 + abs(lam) * np.linalg.norm(a, 2) for a in mats])
    assert np.linalg.norm(total - product) <= 8 * n * 3 * 2.2e-16 * scale
    brute = sum(lam ** len(S) * chain(mats[i] for i in reversed(S))
                for k in range(n + 1) for S in itertools.combinations(range(n), k))
    assert np.linalg.norm(brute - product) <= 8 * n * 3 * 2.2e-16 * scale


@pytest.mark.parametrize("n,d", [(0, 2), (2, 0), (1.5, 2), (True, 2)])
def test_R5_bad_sizes_are_rejected(n, d):
    with pytest.raises(ValueError):
        tanh_tower(n, d, seed=0)
