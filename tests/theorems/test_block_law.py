"""S2 typical behaviour and S3 post-LN (theorems/block_law.py): the one-block law's quadrature
against closed forms, independent integrals, its own series and a scalar Monte Carlo."""

import math

import numpy as np
import pytest
from scipy import integrate, special

from theorems import block_law as bl


@pytest.mark.parametrize("tau", [0.01, 0.1, 0.5, 2.0])
def test_S2_log_moment_in_two_dimensions_is_the_exponential_integral(tau):
    """k = 2: E log ||e + sqrt(tau) G||^2 = E1(1/(2 tau)) (the Rice log-moment), exactly."""
    mean = bl._log_moments_given_tau(np.array([tau]), 2)[0, 0]
    # absolute rounding: log tau and the Poisson sum of digammas cancel to the tiny E1
    assert mean == pytest.approx(special.exp1(1 / (2 * tau)), rel=1e-10, abs=1e-13)


def _frullani_log_mean(tau: float, k: int) -> float:
    """E log X = int_0^oo (e^-s - E e^{-s X}) / s ds with the noncentral chi-square's Laplace
    transform E e^{-sX} = (1 + 2 s tau)^{-k/2} exp(-s / (1 + 2 s tau)): an independent route."""
    def integrand(s):
        return (math.exp(-s) - (1 + 2 * s * tau) ** (-k / 2) * math.exp(-s / (1 + 2 * s * tau))) / s

    return integrate.quad(integrand, 0, math.inf, limit=400, epsabs=1e-13, epsrel=1e-11)[0]


def _laplace_inverse_mean(tau: float, k: int) -> float:
    """E 1/X = int_0^oo E e^{-sX} ds, the same transform."""
    return integrate.quad(lambda s: (1 + 2 * s * tau) ** (-k / 2)
                          * math.exp(-s / (1 + 2 * s * tau)), 0, math.inf, limit=400,
                          epsabs=1e-13, epsrel=1e-11)[0]


@pytest.mark.parametrize("tau", [0.002, 0.05, 0.4, 3.0])
@pytest.mark.parametrize("k", [3, 8, 16])
def test_S2_S3_poisson_sums_match_laplace_integrals(tau, k):
    """E log X and E 1/X by the Poisson mixture against one-dimensional integrals."""
    mean = bl._log_moments_given_tau(np.array([tau]), k)[0, 0]
    assert mean == pytest.approx(_frullani_log_mean(tau, k), rel=1e-8, abs=1e-12)
    inverse = bl._inverse_moment_given_tau(np.array([tau]), k, 1.0)[0]
    assert inverse == pytest.approx(_laplace_inverse_mean(tau, k), rel=1e-8)


@pytest.mark.parametrize("k", [3, 6, 16])
def test_S2_S3_series_take_over_smoothly_from_the_poisson_sums(k, monkeypatch):
    """At tau = 1e-5 (Poisson mean 5e4) the tau-series and the sums agree to their O(tau^3)
    remainder (coefficients up to ~k^3: below 1e-11 here)."""
    tau = np.array([1e-5])
    sums = bl._log_moments_given_tau(tau, k), [
        bl._inverse_moment_given_tau(tau, k, p)[0] for p in (0.5, 1.0)]
    monkeypatch.setattr(bl, "SERIES_MU", 1e3)
    series = bl._log_moments_given_tau(tau, k), [
        bl._inverse_moment_given_tau(tau, k, p)[0] for p in (0.5, 1.0)]
    np.testing.assert_allclose(series[0], sums[0], rtol=0, atol=1e-11)
    np.testing.assert_allclose(series[1], sums[1], rtol=1e-12)


def test_S2_tau_law_has_the_moments_of_a_scaled_chi_square_mixture():
    """tau = lam^2 (2 sigma^2/(d h)) chi^2_K, K ~ Bin(h, 1/2): mass 1 - 2^-h off the atom at 0,
    E tau = lam^2 sigma^2 / d (so E(1 + d tau) = 1 + lam^2 sigma^2, S2's one step), and
    E tau^2 = c^2 E[K^2 + 2K] with c = 2 lam^2 sigma^2 / (d h)."""
    lam, sigma2, d, h = 0.7, 1.3, 6, 5
    taus, weights = bl._tau_law(lam, sigma2, d, h)
    c = 2 * lam * lam * sigma2 / (d * h)
    assert weights.sum() == pytest.approx(1 - 2.0**-h, rel=1e-13)
    assert weights @ taus == pytest.approx(lam * lam * sigma2 / d, rel=1e-12)
    e_k, e_k2 = h / 2, h / 4 + h * h / 4
    assert weights @ taus**2 == pytest.approx(c * c * (e_k2 + 2 * e_k), rel=1e-12)


def test_S2_block_law_against_a_scalar_monte_carlo():
    """g, v, kappa3 of L = log ||e + t G||^2 drawn from its scalar representation (K, chi^2_K,
    G) with 4M samples: each within 5 standard errors."""
    d = h = 16
    rng = np.random.default_rng(0)
    n = 4_000_000
    k = rng.binomial(h, 0.5, n)
    tau = 2.0 / (d * h) * np.where(k > 0, rng.chisquare(np.maximum(k, 1)), 0.0)
    g1, rest = rng.standard_normal(n), rng.chisquare(d - 1, n)
    sample = np.log((1 + np.sqrt(tau) * g1) ** 2 + tau * rest)
    law = bl.block_log_moments(1.0, 1.0, d, h)
    centred = sample - sample.mean()
    for value, draws in ((law["mean"], sample), (law["var"], centred**2),
                         (law["kappa3"], centred**3)):
        assert abs(draws.mean() - value) < 5 * draws.std() / math.sqrt(n)
    assert law["mean"] < math.log(2)  # Jensen: the typical growth is below the mean's


def test_S2_block_law_quadrature_has_converged(monkeypatch):
    law = bl.block_log_moments(1.0, 1.0, 8, 8)
    rho = bl.postln_factor(0.5, 1.0, 16, 16)
    monkeypatch.setattr(bl, "ORDER", 2 * bl.ORDER)
    bl.block_log_moments.cache_clear()
    bl.postln_factor.cache_clear()
    try:
        assert bl.block_log_moments(1.0, 1.0, 8, 8) == pytest.approx(law, rel=1e-11)
        assert bl.postln_factor(0.5, 1.0, 16, 16) == pytest.approx(rho, rel=1e-12)
    finally:
        bl.block_log_moments.cache_clear()
        bl.postln_factor.cache_clear()


def test_S2_zero_branch_is_the_identity():
    assert bl.block_log_moments(0.0, 1.0, 8, 8) == {"mean": 0.0, "var": 0.0, "kappa3": 0.0}
    assert bl.log_ratio_median(5, 0.0, 1.0, 8, 8) == 0.0
    assert bl.postln_factor(0.0, 1.0, 8, 8) == 1.0


def test_S2_median_adds_the_cornish_fisher_term():
    law = bl.block_log_moments(1.0, 1.0, 8, 8)
    assert bl.log_ratio_median(32, 1.0, 1.0, 8, 8) == pytest.approx(
        32 * law["mean"] - law["kappa3"] / (6 * law["var"]), rel=1e-15)


def test_S3_postln_factor_lies_between_jensen_and_one():
    """rho = E 1/s^2 >= 1/E s^2 = 1/(1 + lam^2 sigma^2 (d - 1)/d) (Jensen) and < 1; the
    first power's factor E 1/s lies between rho and 1 (E 1/s <= sqrt(E 1/s^2))."""
    lam, d = 0.5, 16
    rho = bl.postln_factor(lam, 1.0, d, d)
    half = bl.postln_factor(lam, 1.0, d, d, power=0.5)
    assert 1 / (1 + lam * lam * (d - 1) / d) < rho < half <= math.sqrt(rho) < 1


@pytest.mark.parametrize("args, match", [
    ((1.0, 1.0, 0, 4), "d must"), ((1.0, 1.0, 4, 2.5), "h must"), ((-1.0, 1.0, 4, 4), "lam"),
    ((1.0, math.nan, 4, 4), "sigma2"), ((True, 1.0, 4, 4), "lam"),
])
def test_block_law_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        bl.block_log_moments(*args)


def test_postln_factor_rejects_bad_arguments():
    with pytest.raises(ValueError, match="d must be >= 4"):
        bl.postln_factor(0.5, 1.0, 3, 8)
    with pytest.raises(ValueError, match="power"):
        bl.postln_factor(0.5, 1.0, 8, 8, power=2.0)
    with pytest.raises(ValueError, match="n must"):
        bl.log_ratio_median(0, 0.5, 1.0, 8, 8)
