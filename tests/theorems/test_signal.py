"""S2 and S3 (theorems/signal.py): closed forms against exact rationals, mpmath and recursions."""

import math
from fractions import Fraction

import mpmath
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st

from theorems import signal

# float64 evaluation of exp(n log1p(q)): log1p and the product carry a few ulps, exp multiplies
# the relative error of its argument's absolute error, |n log1p(q)| <= 709.8 in range, so the
# relative error is below (709.8 + 4) * 2.2e-16 ~ 1.6e-13.
REL_TOL = 2e-13

rationals = st.fractions(min_value=0, max_value=3, max_denominator=16)
depths = st.integers(min_value=0, max_value=300)


def exact_ratio(n: int, lam: Fraction, sigma2: Fraction) -> Fraction:
    return (1 + lam * lam * sigma2) ** n


@given(n=st.integers(min_value=0, max_value=12))
def test_S2_ratio_is_binomial_sum_symbolically(n):
    """S2: (1 + lam^2 sigma^2)^n = sum_k C(n,k) (lam^2 sigma^2)^k, symbolic lam and sigma^2."""
    lhs = signal.S2_RATIO.subs(signal.N, n)
    rhs = sum(signal.S2_ENERGY.subs({signal.N: n, signal.K: k}) for k in range(n + 1))
    assert sp.expand(lhs - rhs) == 0


def test_S2_log_ratio_is_the_log_of_the_ratio():
    """S2: the lambdified log-space form n log1p(q) is log((1 + q)^n)."""
    lhs = sp.expand_func(signal.S2_LOG_RATIO)
    rhs = sp.expand_log(sp.log(signal.S2_RATIO), force=True)
    assert sp.simplify(lhs - rhs) == 0


@given(n=depths, lam=rationals, sigma2=rationals)
@example(n=0, lam=Fraction(0), sigma2=Fraction(0))
def test_S2_ratio_matches_exact_rational(n, lam, sigma2):
    """S2: the float evaluator against (1 + lam^2 sigma^2)^n in exact rationals."""
    exact = exact_ratio(n, lam, sigma2)
    log10 = signal.s2_log10_ratio(n, lam, sigma2)
    expected = math.log10(exact.numerator) - math.log10(exact.denominator)
    assert log10 == pytest.approx(expected, rel=REL_TOL, abs=1e-15)
    if log10 < 300:
        assert signal.s2_ratio(n, lam, sigma2) == pytest.approx(float(exact), rel=REL_TOL)


@given(lam=rationals.filter(lambda v: v > 0), sigma2=rationals.filter(lambda v: v > 0))
def test_S2_log10_ratio_at_depth_10000_against_mpmath(lam, sigma2):
    """S2 at depth 10,000: log10 stays finite and exact to rounding, ratio never inf."""
    n = 10_000
    mpmath.mp.dps = 60
    q = mpmath.mpf(lam.numerator) ** 2 * sigma2.numerator / (
        mpmath.mpf(lam.denominator) ** 2 * sigma2.denominator)
    expected = float(n * mpmath.log10(1 + q))
    value = signal.s2_log10_ratio(n, lam, sigma2)
    assert math.isfinite(value) and value == pytest.approx(expected, rel=REL_TOL)
    if value > 308.3:
        with pytest.raises(OverflowError, match="s2_log10_ratio"):
            signal.s2_ratio(n, lam, sigma2)
    else:
        assert math.isfinite(signal.s2_ratio(n, lam, sigma2))


def test_S2_small_lam_at_large_depth_keeps_precision():
    """S2: lam = 1/n at n = 10,000 (q = 1e-8) through log1p, against mpmath."""
    mpmath.mp.dps = 60
    n = 10_000
    expected = float((1 + mpmath.mpf(1) / n**2) ** n)
    assert signal.s2_ratio(n, 1 / n, 1) == pytest.approx(expected, rel=1e-14)


@given(n=st.integers(min_value=0, max_value=60), lam=rationals, sigma2=rationals)
def test_S2_energies_by_length_are_binomial_terms(n, lam, sigma2):
    """S2: energies C(n,k) q^k (explicit integer binomials), summing to the ratio."""
    q = lam * lam * sigma2
    energies = signal.s2_energy_by_length(n, lam, sigma2)
    assert len(energies) == n + 1
    for k, value in enumerate(energies):
        assert value == pytest.approx(float(math.comb(n, k) * q**k), rel=1e-12, abs=1e-300)
    assert math.fsum(energies) == pytest.approx(float(exact_ratio(n, lam, sigma2)), rel=1e-12)


@given(n=st.integers(min_value=0, max_value=40), lam=rationals, sigma2=rationals)
def test_S2_path_lengths_are_binomial(n, lam, sigma2):
    """S2: energy_k / total = C(n,k) p^k (1-p)^(n-k) exactly, p = q/(1+q); mean n p."""
    q = lam * lam * sigma2
    p = q / (1 + q)
    assert signal.binomial_p(lam, sigma2) == pytest.approx(float(p), rel=1e-15)
    total = exact_ratio(n, lam, sigma2)
    for k in range(n + 1):
        assert math.comb(n, k) * q**k / total == math.comb(n, k) * p**k * (1 - p) ** (n - k)
    mean = sum(k * math.comb(n, k) * q**k for k in range(n + 1)) / total
    assert signal.mean_path_length(n, lam, sigma2) == pytest.approx(float(mean), rel=1e-14)


def test_S2_energies_beyond_float_range_raise():
    with pytest.raises(OverflowError):
        signal.s2_energy_by_length(10_000, 1, 1)
    log10 = signal.s2_log10_energy_by_length(10_000, 1, 1)
    assert log10[0] == 0.0 and log10.max() == pytest.approx(
        math.log10(math.comb(10_000, 5_000)), rel=1e-13)


@given(n=depths, lam=rationals, sigma2=rationals, d=st.integers(1, 512),
       x0_sq=st.fractions(min_value=0, max_value=100, max_denominator=8))
def test_S3_second_moment_is_the_linear_recursion(n, lam, sigma2, d, x0_sq):
    """S3: m_i = m_{i-1} + lam^2 sigma^2 ||LN||^2 with ||LN(x)||^2 = d, from m_0 = ||x_0||^2."""
    moment = x0_sq
    for _ in range(n):
        moment = moment + lam * lam * sigma2 * d
    value = signal.s3_prenorm_second_moment(n, lam, sigma2, d, x0_sq)
    assert value == pytest.approx(float(moment), rel=1e-13, abs=1e-300)


def test_S3_branch_share_falls_like_one_over_i():
    """S3: i * (share of the i-th branch) -> 1, symbolically and numerically."""
    limit = sp.limit(signal.S3_BRANCH_SHARE * signal.N, signal.N, sp.oo)
    assert limit == 1
    assert 10_000 * signal.s3_branch_share(10_000, 1, 1, 8, 8) == pytest.approx(1, rel=1e-3)


def test_S2_symbolic_forms_match_the_evaluators():
    """The SymPy expressions and the float evaluators agree at a rational point."""
    point = {signal.N: 7, signal.LAM: sp.Rational(1, 3), signal.SIGMA2: sp.Rational(5, 2)}
    assert signal.s2_ratio(7, Fraction(1, 3), Fraction(5, 2)) == pytest.approx(
        float(signal.S2_RATIO.subs(point)), rel=1e-15)
    assert signal.mean_path_length(7, Fraction(1, 3), Fraction(5, 2)) == pytest.approx(
        float(signal.MEAN_PATH_LENGTH.subs(point)), rel=1e-15)
    point.update({signal.D: 16, signal.X0_SQ: 16})
    assert signal.s3_prenorm_second_moment(7, Fraction(1, 3), Fraction(5, 2), 16, 16) == (
        pytest.approx(float(signal.S3_SECOND_MOMENT.subs(point)), rel=1e-15))


@pytest.mark.parametrize("args, name", [
    ((-1, 1, 1), "n"), ((2.5, 1, 1), "n"), ((True, 1, 1), "n"), ((3, float("nan"), 1), "lam"),
    ((3, -1, 1), "lam"), ((3, 1, -2), "sigma2"), ((3, 1, float("inf")), "sigma2"),
    ((3, "1", 1), "lam"),
])
def test_bad_inputs_raise_value_error_naming_the_argument(args, name):
    for fn in (signal.s2_ratio, signal.s2_log10_ratio, signal.s2_energy_by_length):
        with pytest.raises(ValueError, match=name):
            fn(*args)


def test_bad_s3_inputs():
    with pytest.raises(ValueError, match="d"):
        signal.s3_prenorm_second_moment(3, 1, 1, 0, 1)
    with pytest.raises(ValueError, match="x0_sq"):
        signal.s3_prenorm_second_moment(3, 1, 1, 4, -1)


@pytest.mark.parametrize("fn", [signal.s2_ratio, signal.s2_log10_ratio, signal.mean_path_length,
                                signal.s2_energy_by_length])
def test_huge_lam_is_an_error_not_inf(fn):
    """lam^2 sigma^2 beyond the float range raises ValueError instead of returning inf/NaN."""
    with pytest.raises(ValueError, match="float range"):
        fn(3, 1e200, 1)
