"""D2 (theorems.expansion_descent): the optimal step and decrease symbolically, a numeric route,
the population form, and bad input."""

import math

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from theorems.expansion_descent import (
    BSMOOTH,
    DERIV,
    DIRECTIONAL_DECREASE,
    DIRECTIONAL_STEP,
    GUARANTEED_DECREASE,
    OPTIMAL_STEP,
    QUADRATIC_MODEL,
    R0,
    G,
    T,
    d2_directional_decrease,
    d2_directional_step,
    d2_guaranteed_decrease,
    d2_optimal_step,
)

pos = st.floats(min_value=0.01, max_value=100, allow_nan=False, allow_infinity=False)



def test_D2_optimal_step_and_decrease_symbolic():
    assert sp.simplify(OPTIMAL_STEP - G / BSMOOTH) == 0
    assert sp.simplify(GUARANTEED_DECREASE - G**2 / (2 * BSMOOTH)) == 0
    at = {R0: sp.Rational(3, 2), G: sp.Rational(2, 3), BSMOOTH: sp.Rational(5, 7)}
    best = QUADRATIC_MODEL.subs(at).subs(T, OPTIMAL_STEP.subs(at))
    assert best == sp.Rational(3, 2) - sp.Rational(4, 9) / (2 * sp.Rational(5, 7))


@given(g=pos, b=pos, phase=st.floats(min_value=0, max_value=3, allow_nan=False))
def test_D2_step_decreases_any_b_smooth_curve(g, b, phase):
    """Any r with r'(0) = -g and r'' <= b decreases by >= g^2/(2b) at t* = g/b; here
    r(t) = -g t + c (1 - cos t) with c in {b, b/2}, so r'' = c cos t <= b."""
    def r(t):
        return -g * t + b * (1 - math.cos(t)) * (1 if phase < 1.5 else 0.5)

    t_star = d2_optimal_step(g, b)
    assert r(0) - r(t_star) >= d2_guaranteed_decrease(g, b) * (1 - 1e-12)


def test_D2_population_form_symbolic():
    """Along any u with D = <G_pop, u> < 0: t* = -D/b and the decrease D^2/(2b)."""
    assert sp.simplify(DIRECTIONAL_STEP + DERIV / BSMOOTH) == 0
    assert sp.simplify(DIRECTIONAL_DECREASE - DERIV**2 / (2 * BSMOOTH)) == 0
    assert d2_directional_step(-0.3, 2.0) == pytest.approx(0.15, rel=1e-15)
    assert d2_directional_decrease(-0.3, 2.0) == pytest.approx(0.0225, rel=1e-15)
    assert d2_directional_decrease(-2.0, 4.0) == d2_guaranteed_decrease(2.0, 4.0)


@given(deriv=st.floats(min_value=-100, max_value=-0.01), b=pos)
def test_D2_population_step_decreases_any_b_smooth_curve(deriv, b):
    def r(t):
        return deriv * t + b * (1 - math.cos(t)) / 2

    assert r(0) - r(d2_directional_step(deriv, b)) >= d2_directional_decrease(deriv, b) * (
        1 - 1e-12)


@pytest.mark.parametrize("call", [
    lambda: d2_optimal_step(1.0, 0.0),
    lambda: d2_directional_step(0.5, 1.0),
])
def test_D2_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
