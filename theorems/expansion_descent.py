r"""D2: first-order descent along the new block's V and the jumpboard step.

Convention: a trained post-LN model gets a new block at position j with V = 0 and U random (D1).
R(V) is the risk as a function of the new block's second weight V (all other weights fixed),
G = grad R(0), and u = -G / ||G|| (Frobenius norm). Along the ray t u, t >= 0:

.. math::

    R(t u) = R(0) - t \|G\| + O(t^2) .

If r(t) = R(t u) satisfies r'(s) <= r'(0) + b s on [0, t] (e.g. r'' <= b while the downstream
ReLU pattern is constant), integrating r' gives the quadratic upper model

.. math::

    R(t u) \le Q(t) = R(0) - t \|G\| + \tfrac{b}{2} t^2 ,

minimised at the jumpboard step t^* = \|G\| / b, where the guaranteed decrease is

.. math::

    R(0) - R(t^* u) \ge \frac{\|G\|^2}{2 b} .

The normalised decrease (R(0) - R(t u)) / (t \|G\|) lies in [1 - b t / (2\|G\|), 1 + b t/(2\|G\|)]
when |r''| <= b, so it tends to 1 linearly in t (the scaling law the numerics fit on a log-log
plot).

**Population form (paper 2's statement; the calculus is the same).** Let R_pop(V) = E l(f_V(x), y)
and u any fixed unit direction (for instance from a sample independent of the population risk's
expectation) with directional derivative D = <G_pop, u> < 0. If r(t) = R_pop(t u) satisfies
r'(s) <= D + b s on [0, t], then

.. math::

    R_{pop}(t u) \le R_{pop}(0) + t D + \tfrac{b}{2} t^2, \qquad t^* = -D/b, \qquad
    R_{pop}(0) - R_{pop}(t^* u) \ge \frac{D^2}{2b},

a population jumpboard; u = -G/||G|| with D = -||G|| is the training-risk statement above. Only
D < 0 is needed, which is what D2's observability test rejects the negation of.

>>> d2_directional_step(-2.0, 4.0)
0.5
>>> d2_directional_decrease(-2.0, 4.0)
0.5
>>> d2_optimal_step(2.0, 4.0)
0.5
>>> d2_guaranteed_decrease(2.0, 4.0)
0.5
>>> QUADRATIC_MODEL.subs({R0: 1, G: 2, BSMOOTH: 4, T: sp.Rational(1, 2)})
1/2
"""


import sympy as sp

from theorems._arguments import finite_nonnegative as _nonnegative
from theorems._arguments import finite_positive as _positive

__all__ = [
    "BSMOOTH",
    "DERIV",
    "DIRECTIONAL_DECREASE",
    "DIRECTIONAL_MODEL",
    "DIRECTIONAL_STEP",
    "FIRST_ORDER_MODEL",
    "GUARANTEED_DECREASE",
    "OPTIMAL_STEP",
    "QUADRATIC_MODEL",
    "R0",
    "RATIO_DEVIATION",
    "G",
    "T",
    "d2_directional_decrease",
    "d2_directional_step",
    "d2_first_order_risk",
    "d2_guaranteed_decrease",
    "d2_optimal_step",
    "d2_quadratic_upper",
    "d2_ratio_deviation_bound",
]

R0 = sp.Symbol("R0", real=True)
G = sp.Symbol("G", positive=True)
BSMOOTH = sp.Symbol("b", positive=True)
T = sp.Symbol("t", nonnegative=True)

FIRST_ORDER_MODEL = R0 - T * G
QUADRATIC_MODEL = R0 - T * G + BSMOOTH * T**2 / 2
OPTIMAL_STEP = sp.solve(sp.diff(QUADRATIC_MODEL, T), T)[0]
GUARANTEED_DECREASE = sp.simplify(R0 - QUADRATIC_MODEL.subs(T, OPTIMAL_STEP))
RATIO_DEVIATION = BSMOOTH * T / (2 * G)
DERIV = sp.Symbol("D", negative=True)
DIRECTIONAL_MODEL = R0 + T * DERIV + BSMOOTH * T**2 / 2
DIRECTIONAL_STEP = sp.solve(sp.diff(DIRECTIONAL_MODEL, T), T)[0]
DIRECTIONAL_DECREASE = sp.simplify(R0 - DIRECTIONAL_MODEL.subs(T, DIRECTIONAL_STEP))


def _descent(deriv) -> float:
    deriv = float(deriv)
    if not deriv < 0 or deriv != deriv or deriv == float("-inf"):
        raise ValueError(f"deriv must be a finite number < 0 (a descent direction), got {deriv!r}")
    return deriv


def d2_directional_step(deriv: float, smoothness: float) -> float:
    """t* = -D/b along a direction with directional derivative D = <G_pop, u> < 0."""
    return -_descent(deriv) / _positive("smoothness", smoothness)


def d2_directional_decrease(deriv: float, smoothness: float) -> float:
    """D^2/(2b): the population decrease guaranteed at t* along u (population form of D2)."""
    deriv = _descent(deriv)
    return deriv * deriv / (2 * _positive("smoothness", smoothness))


def d2_first_order_risk(r0: float, grad_norm: float, t: float) -> float:
    """The first-order prediction R(0) - t ||G|| of D2."""
    return float(r0) - _nonnegative("t", t) * _nonnegative("grad_norm", grad_norm)


def d2_quadratic_upper(r0: float, grad_norm: float, smoothness: float, t: float) -> float:
    """The upper model R(0) - t ||G|| + b t^2 / 2 (valid when r'(s) <= r'(0) + b s on [0, t])."""
    t = _nonnegative("t", t)
    b = _positive("smoothness", smoothness)
    return float(r0) - t * _nonnegative("grad_norm", grad_norm) + b * t * t / 2


def d2_optimal_step(grad_norm: float, smoothness: float) -> float:
    """The jumpboard step t* = ||G|| / b that minimises the quadratic upper model."""
    return _nonnegative("grad_norm", grad_norm) / _positive("smoothness", smoothness)


def d2_guaranteed_decrease(grad_norm: float, smoothness: float) -> float:
    """The decrease ||G||^2 / (2 b) that the step t* guarantees."""
    g = _nonnegative("grad_norm", grad_norm)
    return g * g / (2 * _positive("smoothness", smoothness))


def d2_ratio_deviation_bound(grad_norm: float, smoothness: float, t: float) -> float:
    """|(R(0) - R(t u)) / (t ||G||) - 1| <= b t / (2 ||G||) when |r''| <= b on [0, t]."""
    return _positive("smoothness", smoothness) * _nonnegative("t", t) / (
        2 * _positive("grad_norm", grad_norm)
    )
