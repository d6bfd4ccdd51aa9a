r"""S2 and S3: the second moment of the residual stream at random initialisation.

Convention: x_0 = x, x_i = x_{i-1} + lam f_i(x_{i-1}) (S2, no normalisation) or
x_i = x_{i-1} + lam f_i(LN(x_{i-1})) (S3, pre-normalisation), i = 1..n; branches
f_i(z) = W2 relu(W1 z) without biases, entries independent and zero mean, layers independent,
sigma^2 = d s2^2 h s1^2 / 2.

**S2 (expectation).** At every width,

.. math::

    \mathbb{E}\bigl[\|x_n\|^2 \mid x_0\bigr] = (1 + \lambda^2\sigma^2)^n \|x_0\|^2
    = \sum_{k=0}^{n} \binom{n}{k} (\lambda^2\sigma^2)^k \|x_0\|^2 ,

and the same factor multiplies \|u\|^2 for the Jacobian, E\|(dx_n/dx_0) u\|^2. For linear
branches with E[A^T A] = sigma^2 I the k-th term is exactly the energy of the paths of length k,
so path lengths follow Binomial(n, p) with

.. math::

    p = \frac{\lambda^2\sigma^2}{1 + \lambda^2\sigma^2}, \qquad \text{mean path length } n p .

**S3 (expectation).** With pre-normalisation, \|LN(z)\|^2 = d, so

.. math::

    \mathbb{E}\|x_n\|^2 = \|x_0\|^2 + n \lambda^2 \sigma^2 d ,

linear in n; the i-th branch adds lam^2 sigma^2 d, a share of the signal at depth i that
falls like 1/i.

The numeric evaluators work in log space (``log1p``), so they stay exact to rounding at depth
10,000 and never return inf or NaN: a value beyond the float range raises ``OverflowError``
pointing to its log10 version.

>>> round(s2_ratio(3, 1, 1), 12)
8.0
>>> round(s2_log10_ratio(10_000, 1, 1), 6)
3010.299957
>>> s3_prenorm_second_moment(4, 1, 1, d=8, x0_sq=8)
40.0
"""

import math
import numbers

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import log1p

__all__ = [
    "BINOMIAL_P",
    "LAM",
    "MEAN_PATH_LENGTH",
    "S2_ENERGY",
    "S2_LOG_RATIO",
    "S2_RATIO",
    "S3_BRANCH_SHARE",
    "S3_SECOND_MOMENT",
    "SIGMA2",
    "X0_SQ",
    "D",
    "K",
    "N",
    "binomial_p",
    "mean_path_length",
    "s2_energy_by_length",
    "s2_log10_energy_by_length",
    "s2_log10_ratio",
    "s2_log10_ratio_array",
    "s2_ratio",
    "s3_branch_share",
    "s3_prenorm_second_moment",
]

N = sp.Symbol("n", integer=True, nonnegative=True)
K = sp.Symbol("k", integer=True, nonnegative=True)
LAM = sp.Symbol("lam", nonnegative=True)
SIGMA2 = sp.Symbol("sigma2", nonnegative=True)
D = sp.Symbol("d", integer=True, positive=True)
X0_SQ = sp.Symbol("x0_sq", nonnegative=True)

_Q = LAM**2 * SIGMA2

#: S2: E||x_n||^2 / ||x_0||^2 = (1 + lam^2 sigma^2)^n.
S2_RATIO = (1 + _Q) ** N
#: S2 in log space, n log1p(lam^2 sigma^2): what the evaluators lambdify.
S2_LOG_RATIO = N * log1p(_Q)
#: S2: the energy of paths of length k relative to ||x_0||^2, C(n, k) (lam^2 sigma^2)^k.
S2_ENERGY = sp.binomial(N, K) * _Q**K
#: S2: the path-length law is Binomial(n, p) with this p.
BINOMIAL_P = _Q / (1 + _Q)
#: S2/S4: the mean path length n p.
MEAN_PATH_LENGTH = N * BINOMIAL_P
#: S3: E||x_n||^2 with pre-normalisation.
S3_SECOND_MOMENT = X0_SQ + N * _Q * D
#: S3: the share of E||x_n||^2 that the n-th branch adds, lam^2 sigma^2 d / E||x_n||^2.
S3_BRANCH_SHARE = _Q * D / S3_SECOND_MOMENT

_LOG_RATIO = sp.lambdify((N, LAM, SIGMA2), S2_LOG_RATIO, "numpy")
_LN10 = math.log(10.0)
_LOG10_FLOAT_MAX = math.log10(np.finfo(np.float64).max)


def _depth(n, name: str = "n", minimum: int = 0) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {n!r}")
    return int(n)


def _scale(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return value


def _q(lam, sigma2) -> float:
    """lam^2 sigma^2 as a float; ValueError when it exceeds the float range."""
    lam, sigma2 = _scale(lam, "lam"), _scale(sigma2, "sigma2")
    q = lam * lam * sigma2
    if not math.isfinite(q):
        raise ValueError(f"lam^2 * sigma2 exceeds the float range (lam={lam!r}, sigma2={sigma2!r})")
    return q


def s2_log10_ratio(n: int, lam: float, sigma2: float) -> float:
    r"""log10 of the S2 ratio, n log1p(lam^2 sigma^2) / ln 10; finite for every finite input."""
    n, lam, sigma2 = _depth(n), _scale(lam, "lam"), _scale(sigma2, "sigma2")
    _q(lam, sigma2)
    return float(_LOG_RATIO(n, lam, sigma2)) / _LN10


def s2_log10_ratio_array(n, lam, sigma2: float) -> np.ndarray:
    """Vectorised :func:`s2_log10_ratio` over arrays of depths ``n`` and scales ``lam``."""
    n, lam = np.asarray(n, dtype=np.float64), np.asarray(lam, dtype=np.float64)
    if np.any(n < 0) or np.any(~np.isfinite(lam)) or np.any(lam < 0):
        raise ValueError("n must be >= 0 and lam finite and >= 0")
    sigma2 = _scale(sigma2, "sigma2")
    with np.errstate(over="ignore"):
        if not np.all(np.isfinite(lam * lam * sigma2)):
            raise ValueError("lam^2 * sigma2 exceeds the float range")
    return _LOG_RATIO(n, lam, sigma2) / _LN10


def s2_ratio(n: int, lam: float, sigma2: float) -> float:
    r"""S2: (1 + lam^2 sigma^2)^n as a float, from exp(n log1p(lam^2 sigma^2)).

    Raises ``OverflowError`` (never returns inf) when the value exceeds the float range; use
    :func:`s2_log10_ratio` there.
    """
    log10 = s2_log10_ratio(n, lam, sigma2)
    if log10 > _LOG10_FLOAT_MAX:
        raise OverflowError(
            f"(1 + lam^2 sigma^2)^n = 10^{log10:.6f} exceeds the float range; use s2_log10_ratio"
        )
    return math.exp(log10 * _LN10)


def s2_log10_energy_by_length(n: int, lam: float, sigma2: float) -> np.ndarray:
    r"""log10 of C(n, k)(lam^2 sigma^2)^k for k = 0..n (-inf where lam^2 sigma^2 = 0 and k > 0)."""
    n, lam, sigma2 = _depth(n), _scale(lam, "lam"), _scale(sigma2, "sigma2")
    q = _q(lam, sigma2)
    k = np.arange(n + 1, dtype=np.float64)
    log_binom = np.array([math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)
                          for j in range(n + 1)])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q = math.log(q) if q > 0 else -np.inf
        log_terms = log_binom + np.where(k > 0, k * log_q, 0.0)
    return log_terms / _LN10


def s2_energy_by_length(n: int, lam: float, sigma2: float) -> list[float]:
    r"""S2: the energies C(n, k)(lam^2 sigma^2)^k relative to ||x_0||^2, k = 0..n.

    Their sum is :func:`s2_ratio`. Raises ``OverflowError`` when a term exceeds the float range.
    """
    log10 = s2_log10_energy_by_length(n, lam, sigma2)
    if np.max(log10) > _LOG10_FLOAT_MAX:
        raise OverflowError("an energy C(n,k)(lam^2 sigma^2)^k exceeds the float range; "
                            "use s2_log10_energy_by_length")
    return [float(v) for v in np.exp(log10 * _LN10)]


def binomial_p(lam: float, sigma2: float) -> float:
    r"""S2: p = lam^2 sigma^2 / (1 + lam^2 sigma^2), the per-layer probability of a branch."""
    q = _q(lam, sigma2)
    return q / (1.0 + q)


def mean_path_length(n: int, lam: float, sigma2: float) -> float:
    """S2/S4: the mean path length n p of Binomial(n, p)."""
    return _depth(n) * binomial_p(lam, sigma2)


def s3_prenorm_second_moment(n: int, lam: float, sigma2: float, d: int, x0_sq: float) -> float:
    r"""S3: E||x_n||^2 = ||x_0||^2 + n lam^2 sigma^2 d with pre-normalisation."""
    n, d = _depth(n), _depth(d, "d", minimum=1)
    value = _scale(x0_sq, "x0_sq") + n * _q(lam, sigma2) * d
    if not math.isfinite(value):
        raise ValueError("||x_0||^2 + n lam^2 sigma^2 d exceeds the float range")
    return value


def s3_branch_share(i: int, lam: float, sigma2: float, d: int, x0_sq: float) -> float:
    r"""S3: the i-th branch's share lam^2 sigma^2 d / E||x_i||^2 of the signal (~ 1/i)."""
    i = _depth(i, "i", minimum=1)
    added = _q(lam, sigma2) * _depth(d, "d", minimum=1)
    total = s3_prenorm_second_moment(i, lam, sigma2, d, x0_sq)
    return added / total if total > 0 else 0.0
