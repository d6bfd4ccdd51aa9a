"""D2, D3, D4 in theorems/: symbolic identities, a second numeric route, bounds, exact values of
every constant (a changed constant fails a test) and bad input."""

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
from theorems.guarantees import (
    RESTRICTED_K_E,
    RESTRICTED_K_P,
    certifying_sample_size,
    data_deviation,
    head_level_sample_size,
    hoeffding_slack,
    restricted_rademacher,
    restricted_route_e_slack,
    restricted_route_p_slack,
    restricted_sample_size,
    route_e_slack,
    route_p_slack,
    route_p_slack_head,
)
from theorems.rademacher import (
    HEAD_BOUND,
    NetworkClass,
    covering_blocks,
    head_rademacher_bound,
    log_covering_expr,
    log_covering_number,
    loss_rademacher_bound,
    rademacher_bound,
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


CLS = NetworkClass(d=3, depth=2, hidden=4, in_dim=5, out_dim=1, head_norm=1.5, embed_norm=2.0,
                   u_norm=0.5, v_norm=3.0, input_norm=2.0, ln_eps=0.01)


def _log_n(scale):
    """log N(scale) = sum_k P_k log(1 + 2 n_b R_k c_k / scale) with CLS's constants by hand."""
    kappa, a, nb = 0.01**-0.5, 0.01**-0.5 * (1 + 0.5 * 3.0), 6
    c = {"W": (math.sqrt(3), 1.5, 3), "E": (1.5 * kappa * 2.0 * a**2, 2.0, 15),
         "U1": (1.5 * kappa * math.sqrt(3) * 3.0 * a, 0.5, 12),
         "V1": (1.5 * kappa * math.sqrt(3) * 0.5 * a, 3.0, 12),
         "U2": (1.5 * kappa * math.sqrt(3) * 3.0, 0.5, 12),
         "V2": (1.5 * kappa * math.sqrt(3) * 0.5, 3.0, 12)}
    return sum(p * math.log(1 + 2 * nb * r * ck / scale) for ck, r, p in c.values()), c


def test_D3_covering_constants_exact():
    _, by_hand = _log_n(1.0)
    rows = covering_blocks(CLS)
    assert [name for name, *_ in rows] == ["W", "E", "U1", "V1", "U2", "V2"]
    for name, log_c, radius, entries in rows:
        c, r, p = by_hand[name]
        assert (math.exp(log_c), radius, entries) == (pytest.approx(c, rel=1e-12), r, p)
    assert log_covering_number(CLS, 0.1) == pytest.approx(_log_n(0.1)[0], rel=1e-12)


def test_D3_massart_constant_exact():
    """Rad <= B sqrt(d/m) (1 + sqrt(2 log N(B sqrt(d/m)))): the 2 of Massart's lemma, exactly."""
    m = 10**9
    head = 1.5 * math.sqrt(3 / m)
    expected = head * (1 + math.sqrt(2 * _log_n(head)[0]))
    assert expected < 1.5 * math.sqrt(3)
    assert rademacher_bound(CLS, m) == pytest.approx(expected, rel=1e-12)
    scale = 4.0 / (2.0 * math.sqrt(m))
    loss = 4.0 / math.sqrt(m) * (1 + math.sqrt(2 * _log_n(scale)[0]))
    assert loss_rademacher_bound(CLS, m, 4.0, 2.0) == pytest.approx(loss, rel=1e-12)
    assert loss_rademacher_bound(CLS, 10, 4.0, 2.0) == 2.0  # the trivial M/2 at tiny m


def test_D4_hoeffding_and_deviation_constants_exact():
    assert hoeffding_slack(100, 0.05, 4.0) == pytest.approx(
        4.0 * math.sqrt(math.log(20) / 200), rel=1e-15)
    assert data_deviation(100, 0.05, 4.0) == pytest.approx(
        12.0 * math.sqrt(math.log(40) / 200), rel=1e-15)
    rad = loss_rademacher_bound(CLS, 10**6, 1.0, 2.0)
    assert route_p_slack(CLS, 10**6, 0.05, loss_bound=1.0, loss_lipschitz=2.0) == pytest.approx(
        2 * rad + 2 * math.sqrt(math.log(40) / 2e6), rel=1e-14)
    assert route_e_slack(CLS, 10**6, 0.05, loss_bound=1.0, loss_lipschitz=2.0) == pytest.approx(
        2 * rad + math.sqrt(math.log(20) / 2e6), rel=1e-14)


def test_D4_restricted_class_constants_exact():
    """sqrt(2) |lam| beta sqrt(d) q / sqrt(m); s_P = 2 Rad + 3M sqrt(log(4/delta)/2m) +
    M sqrt(log(2/delta)/2m); s_E = 2 Rad + 3M sqrt(log(2/delta)/2m)."""
    rad = restricted_rademacher(3.0, 400, beta=0.2, lam=-0.5, d=9)
    assert rad == pytest.approx(math.sqrt(2) * 0.5 * 0.2 * 3 * 3.0 / 20, rel=1e-15)
    m, delta, big_m = 400, 0.1, 0.5
    assert restricted_route_p_slack(rad, m, delta, loss_bound=big_m) == pytest.approx(
        2 * rad + 1.5 * math.sqrt(math.log(40) / 800) + 0.5 * math.sqrt(math.log(20) / 800),
        rel=1e-14)
    assert restricted_route_e_slack(rad, m, delta, loss_bound=big_m) == pytest.approx(
        2 * rad + 1.5 * math.sqrt(math.log(20) / 800), rel=1e-14)


def test_D4_restricted_sample_size_closed_form_matches_bisection_and_sympy():
    kw = {"q": 3.0, "beta": 0.1, "lam": 1.0, "d": 8}
    for route, slack in (("P", restricted_route_p_slack), ("E", restricted_route_e_slack)):
        closed = restricted_sample_size(route, 0.04, 0.05, loss_bound=0.5, **kw)
        searched = certifying_sample_size(lambda m, slack=slack: slack(
            restricted_rademacher(3.0, m, beta=0.1, lam=1.0, d=8), m, 0.05, loss_bound=0.5), 0.04)
        assert closed == searched
        expr = RESTRICTED_K_P if route == "P" else RESTRICTED_K_E
        k = float(expr.subs({sym: {"lambda": 1.0, "beta": 0.1, "d": 8, "q": 3.0, "M": 0.5,
                                   "delta": 0.05}[sym.name] for sym in expr.free_symbols}))
        m = 12345
        rad = restricted_rademacher(3.0, m, beta=0.1, lam=1.0, d=8)
        assert k / math.sqrt(m) == pytest.approx(slack(rad, m, 0.05, loss_bound=0.5), rel=1e-12)


@pytest.mark.parametrize("call", [
    lambda: head_rademacher_bound(0, 4, 1.0),
    lambda: NetworkClass(d=0, depth=1, hidden=1, in_dim=1),
    lambda: NetworkClass(d=2, depth=1, hidden=1, in_dim=1, ln_eps=0.0),
    lambda: route_p_slack(NetworkClass(d=2, depth=1, hidden=1, in_dim=1), 10, 1.5,
                          loss_bound=1, loss_lipschitz=1),
    lambda: d2_optimal_step(1.0, 0.0),
    lambda: certifying_sample_size(lambda m: 1.0, -1.0),
    lambda: restricted_sample_size("Q", 0.1, 0.05, loss_bound=1, q=1, beta=1, lam=1, d=2),
    lambda: restricted_rademacher(float("nan"), 10, beta=1, lam=1, d=2),
    lambda: d2_directional_step(0.5, 1.0),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
