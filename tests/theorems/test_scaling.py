"""S4 (theorems/scaling.py): the three limits, symbolic beta, S1 boundedness, Poisson limit."""

import math

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from theorems import scaling

C = scaling.A**2 * scaling.SIGMA2
HALF = sp.Rational(1, 2)


@pytest.mark.parametrize("beta, expected", [
    (sp.Integer(0), sp.oo), (sp.Rational(1, 4), sp.oo), (HALF, sp.exp(C)),
    (sp.Rational(3, 4), sp.Integer(1)), (sp.Integer(1), sp.Integer(1)),
])
def test_S4_ratio_limits_at_fixed_beta(beta, expected):
    """S4: lim (1 + a^2 sigma^2 n^-2beta)^n = oo, oo, e^{a^2 sigma^2}, 1, 1 (symbolic a, sigma^2)."""
    assert scaling.ratio_limit(beta) == expected


def test_S4_ratio_limits_for_symbolic_beta_in_each_regime():
    """S4: the bounds on log R_n pin the limit for every beta in (0,1/2), = 1/2, > 1/2."""
    limits = scaling.regime_limits_symbolic()
    assert limits["below"][0] is sp.oo
    assert limits["critical"] == (C, C)
    assert limits["above"] == (0, 0)


@given(n=st.integers(min_value=1, max_value=10_000),
       beta=st.fractions(min_value=-1, max_value=2, max_denominator=8),
       a=st.fractions(min_value=0, max_value=3, max_denominator=8),
       sigma2=st.fractions(min_value=0, max_value=3, max_denominator=8))
def test_S4_log_ratio_bounds_hold(n, beta, a, sigma2):
    """S4 proof step: n t/(1+t) <= n log(1+t) <= n t with t = a^2 sigma^2 n^-2beta."""
    t = float(a * a * sigma2) * float(n) ** (-2 * float(beta))
    lower, upper = n * t / (1 + t), n * t
    log_ratio = n * math.log1p(t)
    assert lower <= log_ratio * (1 + 1e-14) and log_ratio <= upper * (1 + 1e-14)
    point = {scaling.N: n, scaling.A: sp.Rational(a.numerator, a.denominator) or 1,
             scaling.SIGMA2: sp.Rational(sigma2.numerator, sigma2.denominator) or 1}
    lo, up = scaling.log_ratio_bounds(sp.Rational(beta.numerator, beta.denominator))
    t_sym = float(point[scaling.A] ** 2 * point[scaling.SIGMA2]) * float(n) ** (
        -2 * float(beta))
    assert float(lo.subs(point)) == pytest.approx(n * t_sym / (1 + t_sym), rel=1e-12)
    assert float(up.subs(point)) == pytest.approx(n * t_sym, rel=1e-12)


@pytest.mark.parametrize("beta, expected", [
    (sp.Integer(0), sp.oo), (sp.Rational(1, 4), sp.oo), (HALF, C), (sp.Rational(3, 4), 0),
    (sp.Integer(1), 0),
])
def test_S4_mean_path_length_limits(beta, expected):
    """S4: n p -> oo, a^2 sigma^2, 0 (collapse to the identity for beta > 1/2)."""
    assert scaling.mean_path_length_limit(beta) == expected


@pytest.mark.parametrize("beta", scaling.BETAS)
def test_S4_s1_bound_bounded_iff_beta_at_least_one(beta):
    """S1 under S4: (1 + a c n^-beta)^n has a finite limit iff beta >= 1."""
    limit = scaling.s1_bound_limit(beta)
    assert (limit is not sp.oo) == scaling.s1_bounded(beta) == (beta >= 1)


def test_S4_s1_bound_for_symbolic_beta():
    c = sp.Symbol("c", positive=True)
    limits = scaling.s1_regime_limits_symbolic()
    assert limits["below"][0] is sp.oo
    assert limits["critical"] == (scaling.A * c, scaling.A * c)
    assert limits["above"] == (0, 0)


@pytest.mark.parametrize("k", [0, 1, 2])
def test_S4_path_length_law_tends_to_poisson(k):
    """S4, beta = 1/2: Binomial(n, p) pmf -> (a^2 sigma^2)^k e^{-a^2 sigma^2} / k!."""
    limit = scaling.poisson_pmf_limit(k)
    assert sp.simplify(limit - C**k * sp.exp(-C) / sp.factorial(k)) == 0


@pytest.mark.parametrize("k", [0, 1, 3])
def test_S4_pmf_forms_agree(k):
    """The quick form C(n,k) q^k (1+q)^-n equals the Binomial(n, p) pmf with p = q/(1+q)."""
    q = C / scaling.N
    quick = sp.binomial(scaling.N, k) * q**k * (1 + q) ** (-scaling.N)
    assert sp.simplify(scaling.binomial_pmf(k) / quick) == 1


@pytest.mark.slow
def test_S4_poisson_limit_for_symbolic_k():
    """S4, beta = 1/2, symbolic k: the limit factorises into 1 * c^k/k! * e^{-c}."""
    k = sp.Symbol("k", integer=True, positive=True)
    expected = C**k * sp.exp(-C) / sp.factorial(k)
    assert sp.simplify(scaling.poisson_pmf_limit_general() - expected) == 0


@pytest.mark.parametrize("beta, regime", [
    (-1, "explodes"), (0, "explodes"), (sp.Rational(1, 4), "explodes"), (HALF, "critical"),
    (sp.Rational(3, 4), "collapses"), (sp.oo, "collapses"),
])
def test_S4_regime_names(beta, regime):
    assert scaling.regime(beta) == regime
