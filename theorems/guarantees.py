r"""D4: two test-risk guarantees for depth expansion, and the sample sizes they need.

Setting: a loss l(f(x), y) in [0, M], L_l-Lipschitz in the output f(x) (Euclidean); S is an
i.i.d. sample of size m; R is the population risk and R_S the risk on S; F is the norm-bounded
post-LN class of D3 (:class:`theorems.rademacher.NetworkClass`), which contains the old model
f_0 (as its V = 0 expansion, D1) and every jumpboard f_0 + t u. The expanded model f^ is any
member of F (it may depend on S). Uniform convergence (symmetrisation + McDiarmid) gives, with
probability >= 1 - delta, for all f in F at once,

.. math::

    R(f) \le R_S(f) + 2\,\mathfrak{R}_m(l\circ F) + M\sqrt{\log(1/\delta)/(2m)} .

**Route P (through the population risk).** Let f_J in F be a jumpboard that does not depend
on S (built from the population gradient), with population margin
Delta = R(f_0) - R(f_J) > 0, and let f^ satisfy R_S(f^) <= R_S(f_J) (ERM over F, or the best
on S of a candidate set containing f_J). Hoeffding for the fixed f_J at delta/2 and uniform
convergence at delta/2 give, with probability >= 1 - delta,

.. math::

    R(\hat f) \le R(f_0) - \Delta + 2\,\mathfrak{R}_m(l\circ F) + 2M\sqrt{\log(2/\delta)/(2m)}
    = R(f_0) - \Delta + s_P(m, \delta),

which certifies R(f^) < R(f_0) as soon as Delta > s_P.

**Route E (train/test level).** Without any margin and without transferring a fixed model's
risk by Hoeffding, with probability >= 1 - delta,

.. math::

    R(\hat f) \le R_S(f_0) - \hat D_S + 2\,\mathfrak{R}_m(l\circ F) + M\sqrt{\log(1/\delta)/(2m)}
    = R_S(f_0) - \hat D_S + s_E(m, \delta),

where hat D_S = R_S(f_0) - R_S(f^) is the decrease measured on the training sample (at least
the jumpboard's, >= ||G||^2/(2b) by D2). It stays meaningful when Delta = 0: it bounds the
expanded model's population risk by the old model's training risk minus an observed decrease.

The sample size at which a route certifies an improvement Delta is the least m with
s(m, delta) < Delta. With a complexity term K/sqrt(m) (head-level class, contraction
Rad <= L_l B sqrt(d/m)) this is m = ceil((K/Delta)^2) in closed form
(:data:`HEAD_LEVEL_SAMPLE_SIZE`); with the covering bound of D3 it is found by bisection.

>>> round(route_p_slack_head(100, 0.1, loss_bound=1, loss_lipschitz=1, d=4, head_norm=1), 6)
0.644775
>>> head_level_sample_size(0.5, 0.1, loss_bound=1, loss_lipschitz=1, d=4, head_norm=1)
167
"""

import math

import sympy as sp

from theorems.rademacher import NetworkClass, loss_rademacher_bound

__all__ = [
    "DELTA_CONF",
    "HEAD_K",
    "HEAD_LEVEL_SAMPLE_SIZE",
    "LOSS_BOUND",
    "LOSS_LIP",
    "MARGIN",
    "certifying_sample_size",
    "head_level_sample_size",
    "hoeffding_slack",
    "route_e_slack",
    "route_p_slack",
    "route_p_slack_head",
]

DELTA_CONF = sp.Symbol("delta", positive=True)
MARGIN = sp.Symbol("Delta", positive=True)
LOSS_BOUND = sp.Symbol("M", positive=True)
LOSS_LIP = sp.Symbol("L_l", positive=True)
_M = sp.Symbol("m", positive=True)
_D = sp.Symbol("d", positive=True)
_B = sp.Symbol("B", positive=True)
HEAD_K = 2 * LOSS_LIP * _B * sp.sqrt(_D) + 2 * LOSS_BOUND * sp.sqrt(sp.log(2 / DELTA_CONF) / 2)
HEAD_LEVEL_SAMPLE_SIZE = sp.solve(sp.Eq(HEAD_K / sp.sqrt(_M), MARGIN), _M)[0]

_MAX_M = 10**18


def _check_common(m: int, delta: float, loss_bound: float, loss_lipschitz: float) -> None:
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise ValueError(f"m must be an integer >= 1, got {m!r}")
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
    for name, value in (("loss_bound", loss_bound), ("loss_lipschitz", loss_lipschitz)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def hoeffding_slack(m: int, delta: float, loss_bound: float) -> float:
    """M sqrt(log(1/delta)/(2m)): one-sided Hoeffding deviation for one fixed model."""
    _check_common(m, delta, loss_bound, 1.0)
    return loss_bound * math.sqrt(math.log(1 / delta) / (2 * m))


def route_p_slack(
    cls: NetworkClass, m: int, delta: float, *, loss_bound: float, loss_lipschitz: float
) -> float:
    """s_P = 2 Rad_m(l o F) + 2 M sqrt(log(2/delta)/(2m)) (route P of D4)."""
    _check_common(m, delta, loss_bound, loss_lipschitz)
    rad = loss_rademacher_bound(cls, m, loss_bound, loss_lipschitz)
    return 2 * rad + 2 * hoeffding_slack(m, delta / 2, loss_bound)


def route_e_slack(
    cls: NetworkClass, m: int, delta: float, *, loss_bound: float, loss_lipschitz: float
) -> float:
    """s_E = 2 Rad_m(l o F) + M sqrt(log(1/delta)/(2m)) (route E of D4)."""
    _check_common(m, delta, loss_bound, loss_lipschitz)
    rad = loss_rademacher_bound(cls, m, loss_bound, loss_lipschitz)
    return 2 * rad + hoeffding_slack(m, delta, loss_bound)


def route_p_slack_head(
    m: int, delta: float, *, loss_bound: float, loss_lipschitz: float, d: int, head_norm: float
) -> float:
    """s_P = K/sqrt(m) for a trained head on fixed post-LN features (Rad <= L_l B sqrt(d/m))."""
    _check_common(m, delta, loss_bound, loss_lipschitz)
    k = _head_k(delta, loss_bound, loss_lipschitz, d, head_norm)
    return k / math.sqrt(m)


def _head_k(delta, loss_bound, loss_lipschitz, d, head_norm) -> float:
    return float(
        HEAD_K.subs({DELTA_CONF: delta, LOSS_BOUND: loss_bound, LOSS_LIP: loss_lipschitz,
                     _D: d, _B: head_norm})
    )


def head_level_sample_size(
    margin: float, delta: float, *, loss_bound: float, loss_lipschitz: float, d: int,
    head_norm: float,
) -> int:
    """Least m with K/sqrt(m) < Delta, from the closed form m = (K/Delta)^2."""
    _check_common(1, delta, loss_bound, loss_lipschitz)
    if not (isinstance(margin, (int, float)) and math.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a finite number > 0, got {margin!r}")
    exact = float(HEAD_LEVEL_SAMPLE_SIZE.subs({
        MARGIN: margin, DELTA_CONF: delta, LOSS_BOUND: loss_bound, LOSS_LIP: loss_lipschitz,
        _D: d, _B: head_norm,
    }))
    return math.floor(exact) + 1


def certifying_sample_size(slack, margin: float) -> int | None:
    """Least m with ``slack(m) < margin`` for a slack decreasing in m; None beyond 10^18.

    ``slack`` is a function of the integer m (e.g. ``lambda m: route_p_slack(cls, m, ...)``).
    Exponential search, then bisection: O(log m) evaluations.
    """
    if not (isinstance(margin, (int, float)) and math.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a finite number > 0, got {margin!r}")
    hi = 1
    while slack(hi) >= margin:
        if hi >= _MAX_M:
            return None
        hi = min(hi * 2, _MAX_M)
    lo = hi // 2
    if lo < 1:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if slack(mid) < margin:
            hi = mid
        else:
            lo = mid
    return hi
