r"""S1: the worst-case Lipschitz bound of a residual tower.

Convention: x_0 = x, x_i = x_{i-1} + lam f_i(x_{i-1}), T_n(x) = x_n, i = 1..n, every branch
Lipschitz with constant c (for piecewise-linear or differentiable branches: \|J_i\| <= c for
every Jacobian or linear piece J_i, in the spectral norm).

**S1 (bound).**

.. math::

    \operatorname{Lip}(T_n) \le (1 + \lambda c)^n = \sum_{k=0}^{n} \binom{n}{k} (\lambda c)^k ,

with equality for J_i = c I (then T_n(x) = (1 + lam c)^n x). The k-th term bounds the paths of
length k: \|J_S\| <= c^{|S|} and there are C(n, k) of them. For lam = a/n,
(1 + ac/n)^n <= e^{ac} for every n (log(1+t) <= t) and tends to e^{ac}; for lam = a/sqrt(n)
the bound tends to infinity.

>>> round(s1_bound(3, 1, 1), 12)
8.0
>>> sp.limit(S1_BOUND.subs(LAM, A / N), N, sp.oo)
exp(a*c)
"""

import math
import numbers
import sys

import sympy as sp
from sympy.codegen.cfunctions import log1p

__all__ = [
    "LAM",
    "S1_BOUND",
    "S1_LOG_BOUND",
    "S1_PATH_SUM",
    "A",
    "C",
    "K",
    "N",
    "identity_tower_gain",
    "inv_sqrt_depth_log_rate",
    "limit_inv_depth",
    "limit_inv_sqrt_depth",
    "log_lemma",
    "s1_bound",
    "s1_log10_bound",
]

N = sp.Symbol("n", integer=True, positive=True)
K = sp.Symbol("k", integer=True, nonnegative=True)
LAM = sp.Symbol("lam", nonnegative=True)
C = sp.Symbol("c", nonnegative=True)
A = sp.Symbol("a", positive=True)

#: S1: the bound (1 + lam c)^n.
S1_BOUND = (1 + LAM * C) ** N
#: S1: the same bound as a sum over path lengths, sum_k C(n,k) (lam c)^k.
S1_PATH_SUM = sp.Sum(sp.binomial(N, K) * (LAM * C) ** K, (K, 0, N))
#: S1 in log space, n log1p(lam c).
S1_LOG_BOUND = N * log1p(LAM * C)

_LN10 = math.log(10.0)
_LOG10_FLOAT_MAX = math.log10(sys.float_info.max)  # 308.2547...: beyond it (1 + lam c)^n is inf


def _check(n, lam, c) -> tuple[int, float, float]:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    values = []
    for name, value in (("lam", lam), ("c", c)):
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
        values.append(value)
    return int(n), values[0], values[1]


def s1_log10_bound(n: int, lam: float, c: float) -> float:
    """log10 of the S1 bound, n log1p(lam c) / ln 10."""
    n, lam, c = _check(n, lam, c)
    if not math.isfinite(lam * c):
        raise ValueError(f"lam * c exceeds the float range (lam={lam!r}, c={c!r})")
    return n * math.log1p(lam * c) / _LN10


def s1_bound(n: int, lam: float, c: float) -> float:
    """S1: (1 + lam c)^n as a float; ``OverflowError`` beyond the float range (never inf)."""
    log10 = s1_log10_bound(n, lam, c)
    if log10 > _LOG10_FLOAT_MAX:
        raise OverflowError(f"(1 + lam c)^n = 10^{log10:.6f} exceeds the float range; use "
                            "s1_log10_bound")
    return math.exp(log10 * _LN10)


def identity_tower_gain(n: int) -> sp.Expr:
    r"""The gain of the tower with J_i = c I, prod_i (1 + lam c), computed by composing n maps.

    It equals :data:`S1_BOUND` at that n: the bound is attained (tightness).
    """
    x = sp.Symbol("x")
    value = x
    for _ in range(n):
        value = value + LAM * C * value
    return sp.factor(sp.expand(value / x))


def limit_inv_depth() -> sp.Expr:
    """S1 with lam = a/n: the limit of (1 + a c / n)^n as n -> oo (it is e^{ac})."""
    return sp.limit(S1_BOUND.subs(LAM, A / N), N, sp.oo)


def _inv_sqrt_depth_bound() -> sp.Expr:
    """S1's bound under lam = a/sqrt(n), with c > 0: (1 + a c / sqrt(n))^n."""
    return S1_BOUND.subs({LAM: A / sp.sqrt(N), C: sp.Symbol("c", positive=True)})


def limit_inv_sqrt_depth() -> sp.Expr:
    """S1 with lam = a/sqrt(n): the limit of (1 + a c / sqrt(n))^n (it is oo for c > 0)."""
    return sp.limit(_inv_sqrt_depth_bound(), N, sp.oo)


def inv_sqrt_depth_log_rate() -> sp.Expr:
    """S1 with lam = a/sqrt(n): lim log((1 + a c/sqrt(n))^n) / sqrt(n) = a c, so the bound grows
    like exp(a c sqrt(n)) (the rate pins the scaling: lam = a sqrt(n) would give oo here)."""
    return sp.limit(sp.log(_inv_sqrt_depth_bound()) / sp.sqrt(N), N, sp.oo)


def log_lemma() -> dict:
    r"""S1's lemma log(1 + t) <= t for t >= 0, by SymPy: h(t) = t - log(1 + t) has h(0) = 0 and
    h'(t) = t/(1 + t) >= 0, so h >= 0; with t = ac/n, n log(1 + ac/n) <= ac, i.e.
    (1 + ac/n)^n <= e^{ac} for every n. Returns ``t``, ``h_at_0`` and ``derivative`` (h'),
    for the caller to check each fact."""
    t = sp.Symbol("t", nonnegative=True)
    h = t - sp.log(1 + t)
    return {"t": t, "h_at_0": h.subs(t, 0), "derivative": sp.simplify(sp.diff(h, t))}
