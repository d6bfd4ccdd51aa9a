r"""S2 typical behaviour and S3 post-LN: the exact law of one random ReLU block's gain.

Convention (S2): x_i = x_{i-1} + lam f_i(x_{i-1}), f(z) = W2 relu(W1 z) without biases, W1 in
R^{h x d} and W2 in R^{d x h} with independent *Gaussian* entries N(0, s1^2), N(0, s2^2),
sigma^2 = d s2^2 h s1^2 / 2, fresh weights in every block.

**The one-block law.** For a fixed z != 0, W1 z ~ N(0, s1^2 ||z||^2 I_h), so the number K of
active units is Binomial(h, 1/2) and ||relu(W1 z)||^2 = s1^2 ||z||^2 chi^2_K; given that, W2 r
~ N(0, s2^2 ||r||^2 I_d), independent of z's direction. Hence

.. math::

    \frac{\|z + \lambda f(z)\|^2}{\|z\|^2} \overset{d}{=} \|e + t G\|^2, \qquad
    t^2 = \tau = \lambda^2 \frac{2\sigma^2}{d h}\, \chi^2_K, \quad G \sim N(0, I_d),

whatever z is: the block gains r_i = ||x_i||^2 / ||x_{i-1}||^2 of a tower are **independent and
identically distributed**, and log R_n = log(||x_n||^2 / ||x_0||^2) = sum_i log r_i is a sum of
n i.i.d. terms. Given tau, ||e/t + G||^2 is noncentral chi-square with k = d degrees of freedom
and noncentrality 1/tau, a Poisson(1/(2 tau)) mixture J of central chi^2_{k + 2J}; the cumulants
of log chi^2_m are ln 2 + psi(m/2), psi'(m/2), psi''(m/2). So the moments of L = log r are
one-dimensional integrals over tau (generalised Gauss-Laguerre in chi^2_K) of Poisson sums:

- S2, typical: E log R_n = n g with g = E L < log(1 + lam^2 sigma^2) (Jensen), Var log R_n =
  n v, and the median of log R_n is n g - kappa_3 / (6 v) + O(1/n) (Cornish-Fisher at the
  median: its n^{-1/2} term is -kappa_3/(6 v), its n^{-1} terms vanish there). The mean
  E R_n = (1 + lam^2 sigma^2)^n is carried by networks with log R_n near n g + n v, a fraction of
  about exp(-n v / 2) of them.

**S3, post-LN.** x_i = LN(x_{i-1} + lam f_i(x_{i-1})) with LN without affine parameters and
eps = 0: x_{i-1} is centred with ||x_{i-1}||^2 = d, LN(y) = P y / s(y) (P removes the mean,
s^2 = ||P y||^2 / d), and x_i = c_i x_0 + (branch terms) with c_i = prod_{j <= i} 1/s_j. Since
P W2 r is isotropic in the (d - 1)-dimensional centred subspace, s_j^2 =d= ||e + t G'||^2 with
G' ~ N(0, I_{d-1}), i.i.d. over blocks, so the identity path's share c_i^2 ||x_0||^2 / ||x_i||^2
has mean

.. math::

    \mathbb{E}\, c_i^2 = \rho^i, \qquad \rho = \mathbb{E}\, s^{-2}
    = \mathbb{E}_\tau\, \tau^{-1}\, \mathbb{E}_J \frac{1}{d - 3 + 2J} ,

exactly geometric (d >= 4; E (chi^2_m)^{-p} = 2^{-p} Gamma(m/2 - p) / Gamma(m/2)). With
LayerNorm's eps the factor moves by a relative O(eps / var), 1e-5 here.

For tiny tau (Poisson mean above ``SERIES_MU``) the Poisson sums are replaced by their
expansions in tau, exact to O(tau^3) (checked against the sums in the tests).

>>> law = block_log_moments(1.0, 1.0, 16, 16)
>>> round(law["mean"], 6), round(math.log(2), 6)
(0.612167, 0.693147)
>>> round(postln_factor(0.5, 1.0, 16, 16), 6)
0.855016
"""

import functools
import math

import numpy as np
from scipy import special

__all__ = ["SERIES_MU", "block_log_moments", "log_ratio_median", "postln_factor"]

SERIES_MU = 1e5
"""Above this Poisson mean (tau < 5e-6) the series in tau replace the Poisson sums."""
ORDER = 120
"""Gauss-Laguerre nodes per active-unit count K (the tests check 120 against 240)."""
_WINDOW_SD = 12.0


def _check(lam, sigma2, d, h, min_d=1) -> tuple[float, float, int, int]:
    for name, value in (("d", d), ("h", h)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if d < min_d:
        raise ValueError(f"d must be >= {min_d} here, got {d}")
    for name, value in (("lam", lam), ("sigma2", sigma2)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
                math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(lam), float(sigma2), d, h


def _tau_law(lam: float, sigma2: float, d: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes tau > 0 and weights of tau = lam^2 (2 sigma^2 / (d h)) chi^2_K, K ~ Bin(h, 1/2).

    The atom tau = 0 (K = 0, or lam sigma = 0) is left out: there the block adds nothing and
    every quantity here is that of the identity (L = 0, s = 1). chi^2_K = 2u with u ~
    Gamma(K/2): generalised Gauss-Laguerre with alpha = K/2 - 1.
    """
    scale = lam * lam * 2.0 * sigma2 / (d * h)
    if scale == 0:
        return np.zeros(0), np.zeros(0)
    taus, weights = [], []
    for k in range(1, h + 1):
        u, w = special.roots_genlaguerre(ORDER, k / 2 - 1)
        p_k = math.exp(math.lgamma(h + 1) - math.lgamma(k + 1) - math.lgamma(h - k + 1)
                       - h * math.log(2.0))
        taus.append(2.0 * scale * u)
        weights.append(p_k * w / math.gamma(k / 2))
    return np.concatenate(taus), np.concatenate(weights)


def _poisson_mixture(tau: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray]:
    """The Poisson(1/(2 tau_i)) mixtures of all nodes at once: (owner, m, p, starts).

    For node i, J ~ Poisson(mu_i), mu_i = 1/(2 tau_i), is summed within 12 standard deviations
    (+12) of its mean; the windows lie end to end (``owner`` names each entry's node, ``starts``
    each window's first entry), m = k/2 + J, and the probabilities p are renormalised within
    each window (so that rounding in log p cannot bias a sum).
    """
    mu = 1.0 / (2.0 * tau)
    half = _WINDOW_SD * np.sqrt(mu) + _WINDOW_SD
    lo = np.maximum(0, np.floor(mu - half)).astype(np.int64)
    counts = np.ceil(mu + half).astype(np.int64) - lo + 1
    owner = np.repeat(np.arange(len(mu)), counts)
    starts = np.cumsum(counts) - counts
    j = (lo[owner] + np.arange(counts.sum()) - starts[owner]).astype(np.float64)
    log_p = j * np.log(mu[owner]) - mu[owner] - special.gammaln(j + 1)
    p = np.exp(log_p - np.maximum.reduceat(log_p, starts)[owner])
    p /= np.add.reduceat(p, starts)[owner]
    return owner, k / 2 + j, p, starts


def _log_moments_given_tau(tau: np.ndarray, k: int) -> np.ndarray:
    """E[L^p | tau] for p = 1, 2, 3 (rows), L = log ||e + sqrt(tau) G||^2, G ~ N(0, I_k).

    Given J, L = log tau + log chi^2_m has mean u = log tau + ln 2 + psi(m), variance psi'(m)
    and third cumulant psi''(m); u is small where J is likely, so the raw moments
    E[u + ...]^p are summed without cancelling large terms.
    """
    out = np.empty((3, len(tau)))
    series = 1.0 / (2.0 * tau) > SERIES_MU
    t = tau[series]
    out[:, series] = [(k - 2) * t + (4 * k - 4 - (k * k + 2 * k) / 2) * t**2,
                      4 * t + (k * k - 10 * k + 20) * t**2, (12 * k - 48) * t**2]
    t = tau[~series]
    owner, m, p, starts = _poisson_mixture(t, k)
    u = np.log(t)[owner] + math.log(2.0) + special.digamma(m)
    b, c = special.polygamma(1, m), special.polygamma(2, m)
    out[:, ~series] = [np.add.reduceat(p * term, starts)
                       for term in (u, u * u + b, u**3 + 3 * u * b + c)]
    return out


def _inverse_moment_given_tau(tau: np.ndarray, k: int, power: float) -> np.ndarray:
    """E[||e + sqrt(tau) G||^{-2 power} | tau], G ~ N(0, I_k), k > 2 power
    (E (chi^2_m)^{-p} = 2^{-p} Gamma(m/2 - p) / Gamma(m/2))."""
    out = np.empty(len(tau))
    series = 1.0 / (2.0 * tau) > SERIES_MU
    t = tau[series]
    first = power * (k - 2 - 2 * power)
    second = power * (power + 1) / 2 * (k - 2 - 2 * power) * (k - 4 - 2 * power)
    out[series] = 1.0 - first * t + second * t**2
    t = tau[~series]
    owner, m, p, starts = _poisson_mixture(t, k)
    ratio = np.exp(special.gammaln(m - power) - special.gammaln(m)
                   - power * np.log(2.0 * t)[owner])
    out[~series] = np.add.reduceat(p * ratio, starts)
    return out


@functools.lru_cache(maxsize=64)
def block_log_moments(lam: float, sigma2: float, d: int, h: int) -> dict:
    r"""S2: the mean g, variance v and third cumulant kappa3 of one block's log gain
    L = log(||x_i||^2 / ||x_{i-1}||^2) (Gaussian weights, no biases): E log R_n = n g,
    Var log R_n = n v exactly, at every depth and width."""
    lam, sigma2, d, h = _check(lam, sigma2, d, h)
    taus, weights = _tau_law(lam, sigma2, d, h)
    m1, m2, m3 = _log_moments_given_tau(taus, d) @ weights
    var = m2 - m1 * m1
    return {"mean": float(m1), "var": float(var),
            "kappa3": float(m3 - 3 * m1 * m2 + 2 * m1**3)}


def log_ratio_median(n: int, lam: float, sigma2: float, d: int, h: int) -> float:
    r"""S2: the median of log R_n to O(1/n), n g - kappa3 / (6 v) (Cornish-Fisher at z = 0)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    law = block_log_moments(lam, sigma2, d, h)
    if law["var"] == 0:
        return 0.0
    return n * law["mean"] - law["kappa3"] / (6 * law["var"])


@functools.lru_cache(maxsize=64)
def postln_factor(lam: float, sigma2: float, d: int, h: int, power: float = 1.0) -> float:
    r"""S3 post-LN: E s^{-2 power} for one block, s^2 = ||P(x + lam f(x))||^2 / d (eps = 0).

    ``power = 1`` is the identity share's factor rho (E c_i^2 = rho^i); ``power = 1/2`` the
    factor of E c_i, what a share computed with the first power of c_i would decay like.
    """
    lam, sigma2, d, h = _check(lam, sigma2, d, h, min_d=4)
    if power not in (0.5, 1.0):
        raise ValueError(f"power must be 0.5 or 1, got {power!r}")
    taus, weights = _tau_law(lam, sigma2, d, h)
    inside = _inverse_moment_given_tau(taus, d - 1, power) @ weights
    return float(inside + (1.0 - weights.sum()))
