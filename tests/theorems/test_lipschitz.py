"""S1 (theorems/lipschitz.py): the bound as a path sum, its tightness and its two scalings."""

import math
from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from theorems import lipschitz as s1

rationals = st.fractions(min_value=0, max_value=4, max_denominator=16)


@given(n=st.integers(min_value=0, max_value=12))
def test_S1_bound_is_the_sum_over_path_lengths(n):
    """S1: (1 + lam c)^n = sum_k C(n,k)(lam c)^k, symbolic lam and c (explicit sum)."""
    path_sum = sum(sp.binomial(n, k) * (s1.LAM * s1.C) ** k for k in range(n + 1))
    assert sp.expand(s1.S1_BOUND.subs(s1.N, n) - path_sum) == 0
    assert sp.expand(s1.S1_PATH_SUM.subs(s1.N, n).doit() - path_sum) == 0


@given(n=st.integers(min_value=0, max_value=10))
def test_S1_bound_is_attained_by_the_identity_tower(n):
    """S1 tightness: composing n maps x -> x + lam c x gives exactly (1 + lam c)^n."""
    assert sp.expand(s1.identity_tower_gain(n) - s1.S1_BOUND.subs(s1.N, n)) == 0


@given(n=st.integers(min_value=0, max_value=400), lam=rationals, c=rationals)
def test_S1_float_bound_matches_exact_rational(n, lam, c):
    """S1: the evaluator against (1 + lam c)^n in exact rationals (log space, relative 2e-13)."""
    exact = (1 + lam * c) ** n
    log10 = math.log10(exact.numerator) - math.log10(exact.denominator)
    assert s1.s1_log10_bound(n, lam, c) == pytest.approx(log10, rel=2e-13, abs=1e-15)
    if log10 < 300:
        assert s1.s1_bound(n, lam, c) == pytest.approx(float(exact), rel=2e-13)
    elif log10 > 308.3:
        with pytest.raises(OverflowError):
            s1.s1_bound(n, lam, c)


def test_S1_inv_depth_limit_and_inv_sqrt_divergence():
    """S1: lam = a/n gives e^{ac} in the limit; lam = a/sqrt(n) gives oo (sympy.limit)."""
    a, c = s1.A, s1.C
    assert sp.simplify(s1.limit_inv_depth() - sp.exp(a * c)) == 0
    assert s1.limit_inv_sqrt_depth() is sp.oo
    assert s1.inv_sqrt_depth_log_rate() == a * sp.Symbol("c", positive=True)


def test_S1_inv_depth_stays_below_exp_for_every_n():
    """S1: log(1+t) <= t proved by SymPy, hence (1 + ac/n)^n <= e^{ac} for all n."""
    lemma = s1.log_lemma()
    t = lemma["t"]
    assert lemma["h_at_0"] == 0
    assert sp.simplify(lemma["derivative"] - t / (1 + t)) == 0
    assert lemma["derivative"].is_nonnegative


@given(n=st.integers(min_value=1, max_value=10_000), a=rationals, c=rationals)
def test_S1_inv_depth_numeric_bound_below_exp(n, a, c):
    """S1: (1 + ac/n)^n <= e^{ac} numerically (one-sided, rounding slack 1e-13)."""
    assert s1.s1_bound(n, a / n, c) <= math.exp(a * c) * (1 + 1e-13)


@given(n=st.integers(min_value=1, max_value=10_000))
def test_S1_inv_sqrt_depth_grows_without_bound(n):
    """S1: with lam = 1/sqrt(n), c = 1: log bound >= sqrt(n)/(1 + 1/sqrt(n)) (log(1+t) >= t/(1+t))."""
    t = 1 / math.sqrt(n)
    assert s1.s1_log10_bound(n, t, 1) * math.log(10) >= n * t / (1 + t) * (1 - 1e-13)


@pytest.mark.parametrize("args, name", [((-1, 1, 1), "n"), ((1.5, 1, 1), "n"),
                                        ((2, float("nan"), 1), "lam"), ((2, 1, -1), "c")])
def test_bad_inputs(args, name):
    with pytest.raises(ValueError, match=f"^{name} must be"):
        s1.s1_bound(*args)


def test_S1_exact_values_pin_every_constant():
    """Exact values that move if any constant of the bound changes: the 1 in 1 + lam c, the
    power n, the log10 conversion and the float-range threshold (10^308.25)."""
    assert s1.s1_bound(3, 1, 1) == pytest.approx(8.0, rel=1e-15)
    assert s1.s1_bound(0, 5, 5) == 1.0 and s1.s1_bound(4, 0, 7) == 1.0
    assert s1.s1_bound(2, 0.5, 4) == pytest.approx(9.0, rel=1e-15)
    assert s1.s1_log10_bound(2, 1, 9) == pytest.approx(2.0, rel=1e-15)
    assert s1.s1_log10_bound(1, 0.5, 2) == pytest.approx(math.log10(2), rel=1e-15)
    assert s1.s1_log10_bound(0, 1, 1) == 0.0
    assert s1.s1_bound(1, 1, 1.5e308) == pytest.approx(1.5e308, rel=1e-12)  # 10^308.18 fits
    with pytest.raises(OverflowError, match="float range; use s1_log10_bound$"):
        s1.s1_bound(2, 1, 1e155)  # 10^310
    assert s1.S1_BOUND.subs({s1.N: 2, s1.LAM: 3, s1.C: 5}) == 256
    assert s1.S1_LOG_BOUND.subs({s1.N: 2, s1.LAM: 3, s1.C: 5}).rewrite(sp.log) == 2 * sp.log(16)
    assert s1.identity_tower_gain(2) == (1 + s1.LAM * s1.C) ** 2


def test_fraction_inputs_are_accepted():
    assert s1.s1_bound(2, Fraction(1, 2), Fraction(2)) == pytest.approx(4.0, rel=1e-15)
