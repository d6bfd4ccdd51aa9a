r"""D4: two test-risk guarantees for depth expansion, for the whole class and for the class the
jumpboard searches, and the sample sizes at which they certify an improvement.

Setting: a loss l(f(x), y) in [0, M], L_l-Lipschitz in the output f(x) (Euclidean); S is an
i.i.d. sample of size m; R is the population risk and R_S the risk on S.

**Whole class** (D3(b), :class:`theorems.rademacher.NetworkClass`): uniform convergence
(symmetrisation + McDiarmid) gives, with probability >= 1 - delta, for all f in F,
R(f) <= R_S(f) + 2 Rad_m(l o F) + M sqrt(log(1/delta)/(2m)), with Rad_m bounded for every sample.

*Route P* (a jumpboard f_J fixed before S with population margin Delta = R(f_0) - R(f_J) > 0,
and f^ with R_S(f^) <= R_S(f_J)): with probability >= 1 - delta,

.. math::

    R(\hat f) \le R(f_0) - \Delta + 2\,\mathfrak{R}_m + 2M\sqrt{\log(2/\delta)/(2m)}
    = R(f_0) - \Delta + s_P .

*Route E* (no margin, no Hoeffding transfer): R(f^) <= R_S(f^) + 2 Rad_m + M sqrt(log(1/delta)/(2m))
= R_S(f_0) - hat D_S + s_E, hat D_S = R_S(f_0) - R_S(f^).

**Restricted class** F_beta (the inserted block's V in the Frobenius ball ||V|| <= beta, everything
else fixed at the trained old model; proofs.md, D4): its empirical Rademacher average on S is
bounded from S itself (:func:`restricted_rademacher`),

.. math::

    \hat{\mathfrak{R}}_S(l\circ F_\beta) \le \frac{\sqrt2\,|\lambda|\,\beta\,\sqrt d}{\sqrt m}\, q_S,
    \qquad q_S = \Bigl(\frac1m\sum_i c_i^2 \|a_i\|^2\Bigr)^{1/2},

a_i the new block's features at x_i and c_i the Lipschitz constant of x_i's loss on the ball its
output can reach (computed on the sample: :mod:`numerics.probes.restricted_class`). A data-dependent bound pays
3M instead of M in the deviation term (McDiarmid twice):

.. math::

    s_P^\beta = 2\hat{\mathfrak{R}}_S + 3M\sqrt{\frac{\log(4/\delta)}{2m}} + M\sqrt{\frac{\log(2/\delta)}{2m}},
    \qquad s_E^\beta = 2\hat{\mathfrak{R}}_S + 3M\sqrt{\frac{\log(2/\delta)}{2m}} .

Both are K/sqrt(m) for a given q, so a route certifies an improvement Delta from
m = floor((K/Delta)^2) + 1 on (:data:`RESTRICTED_SAMPLE_SIZE`); the whole-class slacks need
bisection (:func:`certifying_sample_size`).

>>> round(route_p_slack_head(100, 0.1, loss_bound=1, loss_lipschitz=1, d=4, head_norm=1), 6)
0.644775
>>> head_level_sample_size(0.5, 0.1, loss_bound=1, loss_lipschitz=1, d=4, head_norm=1)
167
>>> round(restricted_rademacher(2.0, 100, beta=0.5, lam=1.0, d=8), 6)
0.4
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
    "RESTRICTED_K_E",
    "RESTRICTED_K_P",
    "RESTRICTED_RADEMACHER",
    "RESTRICTED_SAMPLE_SIZE",
    "certifying_sample_size",
    "data_deviation",
    "head_level_sample_size",
    "hoeffding_slack",
    "restricted_rademacher",
    "restricted_route_e_slack",
    "restricted_route_p_slack",
    "restricted_sample_size",
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
_BETA = sp.Symbol("beta", positive=True)
_LAM = sp.Symbol("lambda", positive=True)
_Q = sp.Symbol("q", positive=True)
HEAD_K = 2 * LOSS_LIP * _B * sp.sqrt(_D) + 2 * LOSS_BOUND * sp.sqrt(sp.log(2 / DELTA_CONF) / 2)
HEAD_LEVEL_SAMPLE_SIZE = sp.solve(sp.Eq(HEAD_K / sp.sqrt(_M), MARGIN), _M)[0]

RESTRICTED_RADEMACHER = sp.sqrt(2) * _LAM * _BETA * sp.sqrt(_D) * _Q / sp.sqrt(_M)
"""sqrt(2) |lambda| beta sqrt(d) q / sqrt(m): the restricted-class Rademacher bound (q = q_S)."""
_DEV = LOSS_BOUND * sp.sqrt(sp.log(1 / DELTA_CONF) / 2)  # times 1/sqrt(m): Hoeffding at delta
RESTRICTED_K_P = (2 * RESTRICTED_RADEMACHER * sp.sqrt(_M) + 3 * _DEV.subs(DELTA_CONF, DELTA_CONF / 4)
                  + _DEV.subs(DELTA_CONF, DELTA_CONF / 2))
RESTRICTED_K_E = 2 * RESTRICTED_RADEMACHER * sp.sqrt(_M) + 3 * _DEV.subs(DELTA_CONF, DELTA_CONF / 2)
RESTRICTED_SAMPLE_SIZE = sp.solve(sp.Eq(sp.Symbol("K", positive=True) / sp.sqrt(_M), MARGIN), _M)[0]
"""m = (K/Delta)^2: where a slack K/sqrt(m) equals the margin (SymPy's solve)."""

_MAX_M = 10**18


def _check_common(m: int, delta: float, loss_bound: float, loss_lipschitz: float) -> None:
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise ValueError(f"m must be an integer >= 1, got {m!r}")
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
    for name, value in (("loss_bound", loss_bound), ("loss_lipschitz", loss_lipschitz)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def hoeffding_slack(m: int, delta: float, loss_bound: float) -> float:
    """M sqrt(log(1/delta)/(2m)): one-sided Hoeffding deviation for one fixed model."""
    _check_common(m, delta, loss_bound, 1.0)
    return loss_bound * math.sqrt(math.log(1 / delta) / (2 * m))


def data_deviation(m: int, delta: float, loss_bound: float) -> float:
    """3M sqrt(log(2/delta)/(2m)): the deviation term of the data-dependent uniform bound
    R(f) <= R_S(f) + 2 Rad_S + 3M sqrt(log(2/delta)/(2m)) (McDiarmid on sup(R - R_S) and on
    Rad_S, each at delta/2)."""
    return 3 * hoeffding_slack(m, delta / 2, loss_bound)


def route_p_slack(
    cls: NetworkClass, m: int, delta: float, *, loss_bound: float, loss_lipschitz: float
) -> float:
    """s_P = 2 Rad_m(l o F) + 2 M sqrt(log(2/delta)/(2m)) (route P of D4, whole class)."""
    _check_common(m, delta, loss_bound, loss_lipschitz)
    rad = loss_rademacher_bound(cls, m, loss_bound, loss_lipschitz)
    return 2 * rad + 2 * hoeffding_slack(m, delta / 2, loss_bound)


def route_e_slack(
    cls: NetworkClass, m: int, delta: float, *, loss_bound: float, loss_lipschitz: float
) -> float:
    """s_E = 2 Rad_m(l o F) + M sqrt(log(1/delta)/(2m)) (route E of D4, whole class)."""
    _check_common(m, delta, loss_bound, loss_lipschitz)
    rad = loss_rademacher_bound(cls, m, loss_bound, loss_lipschitz)
    return 2 * rad + hoeffding_slack(m, delta, loss_bound)


def restricted_rademacher(q: float, m: int, *, beta: float, lam: float, d: int) -> float:
    """sqrt(2) |lam| beta sqrt(d) q / sqrt(m): the empirical Rademacher bound of the restricted
    class F_beta, with q = (mean_i c_i^2 ||a_i||^2)^(1/2) computed on the sample."""
    _check_common(m, 0.5, 1.0, 1.0)
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an integer >= 1, got {d!r}")
    _positive("beta", beta)
    if not (isinstance(q, (int, float)) and math.isfinite(q) and q >= 0):
        raise ValueError(f"q must be a finite number >= 0, got {q!r}")
    if not (isinstance(lam, (int, float)) and math.isfinite(lam)):
        raise ValueError(f"lam must be a finite number, got {lam!r}")
    return math.sqrt(2) * abs(lam) * beta * math.sqrt(d) * q / math.sqrt(m)


def restricted_route_p_slack(rad: float, m: int, delta: float, *, loss_bound: float) -> float:
    """s_P = 2 Rad_S + 3M sqrt(log(4/delta)/(2m)) + M sqrt(log(2/delta)/(2m)) (route P, F_beta)."""
    _check_common(m, delta, loss_bound, 1.0)
    return 2 * rad + data_deviation(m, delta / 2, loss_bound) + hoeffding_slack(
        m, delta / 2, loss_bound)


def restricted_route_e_slack(rad: float, m: int, delta: float, *, loss_bound: float) -> float:
    """s_E = 2 Rad_S + 3M sqrt(log(2/delta)/(2m)) (route E, F_beta)."""
    _check_common(m, delta, loss_bound, 1.0)
    return 2 * rad + data_deviation(m, delta, loss_bound)


def restricted_sample_size(route: str, margin: float, delta: float, *, loss_bound: float,
                           q: float, beta: float, lam: float, d: int) -> int:
    """Least m with s(m) < Delta for route ``"P"`` or ``"E"`` of F_beta at a fixed q:
    floor((K/Delta)^2) + 1, K from :data:`RESTRICTED_K_P` / :data:`RESTRICTED_K_E`."""
    if route not in ("P", "E"):
        raise ValueError(f"route must be 'P' or 'E', got {route!r}")
    _positive("margin", margin)
    _check_common(1, delta, loss_bound, 1.0)
    k_expr = RESTRICTED_K_P if route == "P" else RESTRICTED_K_E
    k = float(k_expr.subs({_LAM: abs(lam), _BETA: _positive("beta", beta), _D: d, _Q: q,
                           LOSS_BOUND: loss_bound, DELTA_CONF: delta}))
    exact = float(RESTRICTED_SAMPLE_SIZE.subs({sp.Symbol("K", positive=True): k, MARGIN: margin}))
    return math.floor(exact) + 1


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
    _positive("margin", margin)
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
    _positive("margin", margin)
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
