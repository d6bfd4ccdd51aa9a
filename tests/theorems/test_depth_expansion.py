"""D2, D3, D4 in theorems/: symbolic identities, a second numeric route, bounds and bad input."""

import math

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from theorems.expansion_descent import (
    BSMOOTH,
    GUARANTEED_DECREASE,
    OPTIMAL_STEP,
    QUADRATIC_MODEL,
    R0,
    G,
    T,
    d2_guaranteed_decrease,
    d2_optimal_step,
)
from theorems.rademacher import (
    HEAD_BOUND,
    NetworkClass,
    head_rademacher_bound,
    log_covering_expr,
    log_covering_number,
    rademacher_bound,
)
from theorems.test_risk import (
    certifying_sample_size,
    head_level_sample_size,
    route_e_slack,
    route_p_slack,
    route_p_slack_head,
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


def test_D3_head_bound_closed_form():
    assert head_rademacher_bound(100, 16, 2.0) == 0.8
    at = {s: v for s, v in zip(sorted(HEAD_BOUND.free_symbols, key=str), (2, 9, 400))}
    assert HEAD_BOUND.subs(at) == sp.Rational(3, 10)


def test_D3_log_covering_matches_sympy_expression():
    cls = NetworkClass(d=3, depth=2, hidden=4, in_dim=5, out_dim=2, head_norm=1.5,
                       embed_norm=2.0, u_norm=0.5, v_norm=3.0, input_norm=2.0, ln_eps=0.01)
    expr = log_covering_expr(2)
    values = {"d": 3, "h": 4, "p": 5, "k": 2, "B": sp.Rational(3, 2), "beta_E": 2,
              "beta_U": sp.Rational(1, 2), "beta_V": 3, "X": 2, "eps": sp.Rational(1, 100),
              "eps_c": sp.Rational(1, 10)}
    subs = {s: values[s.name] for s in expr.free_symbols}
    assert float(expr.subs(subs)) == pytest.approx(log_covering_number(cls, 0.1), rel=1e-12)


def test_D3_class_bound_never_below_head_bound_and_trivial_cap():
    cls = NetworkClass(d=4, depth=2, hidden=4, in_dim=3)
    for m in (10, 10**4, 10**8, 10**12):
        bound = rademacher_bound(cls, m)
        assert head_rademacher_bound(m, 4, 1.0) < bound <= 2.0
    assert rademacher_bound(cls, 10**12) < 2.0


def test_D4_head_sample_size_closed_form_matches_bisection():
    kw = {"loss_bound": 1.0, "loss_lipschitz": 2.0, "d": 8, "head_norm": 1.5}
    closed = head_level_sample_size(0.2, 0.05, **kw)
    searched = certifying_sample_size(lambda m: route_p_slack_head(m, 0.05, **kw), 0.2)
    assert closed == searched
    assert route_p_slack_head(closed, 0.05, **kw) < 0.2 <= route_p_slack_head(closed - 1, 0.05, **kw)


def test_D4_route_e_needs_fewer_samples_than_route_p():
    cls = NetworkClass(d=8, depth=3, hidden=8, in_dim=4)
    kw = {"loss_bound": 1.0, "loss_lipschitz": 2.0}
    for m in (100, 10**5, 10**9):
        assert route_e_slack(cls, m, 0.05, **kw) < route_p_slack(cls, m, 0.05, **kw)
    m_p = certifying_sample_size(lambda m: route_p_slack(cls, m, 0.05, **kw), 0.1)
    m_e = certifying_sample_size(lambda m: route_e_slack(cls, m, 0.05, **kw), 0.1)
    assert m_e <= m_p
    assert route_p_slack(cls, m_p, 0.05, **kw) < 0.1 <= route_p_slack(cls, m_p - 1, 0.05, **kw)


@pytest.mark.parametrize("call", [
    lambda: head_rademacher_bound(0, 4, 1.0),
    lambda: NetworkClass(d=0, depth=1, hidden=1, in_dim=1),
    lambda: NetworkClass(d=2, depth=1, hidden=1, in_dim=1, ln_eps=0.0),
    lambda: route_p_slack(NetworkClass(d=2, depth=1, hidden=1, in_dim=1), 10, 1.5,
                          loss_bound=1, loss_lipschitz=1),
    lambda: d2_optimal_step(1.0, 0.0),
    lambda: certifying_sample_size(lambda m: 1.0, -1.0),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
