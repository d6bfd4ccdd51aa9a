r"""D4 (theorems.guarantees): the constants of both routes, at values where each is a round number.

Hoeffding for one fixed model: M sqrt(log(1/delta)/(2m)); with M = 2, m = 50, delta = e^{-4}:
2 sqrt(4/100) = 0.4. Route E adds 2 Rad_m and one Hoeffding term at delta; route P adds 2 Rad_m
and two Hoeffding terms at delta/2 (2M sqrt(log(2/delta)/(2m))). With the unit class of D3 at
m = 400, M = 2, L_l = 4, Rad_m = (1/10)(1 + sqrt(2 (3 log 321 + log 641))) by hand
(tests/theorems/test_rademacher.py). The head-level slack is
K/sqrt(m), K = 2 L_l B sqrt(d) + 2 M sqrt(log(2/delta)/2).
"""

import math

import pytest

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
    NetworkClass,
    loss_rademacher_bound,
)

UNIT = NetworkClass(d=1, depth=1, hidden=1, in_dim=1, out_dim=1, ln_eps=1.0)
RAD_400 = 0.1 * (1 + math.sqrt(2 * (3 * math.log(321) + math.log(641))))


def test_D4_hoeffding_constant_is_sqrt_log_over_2m():
    assert hoeffding_slack(50, math.exp(-4), 2.0) == pytest.approx(0.4, rel=1e-14)


def test_D4_route_e_is_two_rademacher_plus_one_hoeffding_at_delta():
    """delta = e^{-8}: 2 sqrt(8/800) = 0.2."""
    slack = route_e_slack(UNIT, 400, math.exp(-8), loss_bound=2.0, loss_lipschitz=4.0)
    assert slack == pytest.approx(2 * RAD_400 + 0.2, rel=1e-13)


def test_D4_route_p_is_two_rademacher_plus_two_hoeffding_at_half_delta():
    """delta = 2 e^{-8}: log(2/delta) = 8, 2 * 2 sqrt(8/800) = 0.4."""
    slack = route_p_slack(UNIT, 400, 2 * math.exp(-8), loss_bound=2.0, loss_lipschitz=4.0)
    assert slack == pytest.approx(2 * RAD_400 + 0.4, rel=1e-13)


def test_D4_head_slack_constant():
    """L_l = 3, B = 1/2, d = 9: 2*3*(1/2)*3 = 9; M = 5, delta = 2 e^{-2}: 2*5*sqrt(2/2) = 10;
    K = 19, so s_P(361) = 19/19 = 1."""
    kw = dict(loss_bound=5.0, loss_lipschitz=3.0, d=9, head_norm=0.5)
    assert route_p_slack_head(361, 2 * math.exp(-2), **kw) == pytest.approx(1.0, rel=1e-14)


def test_D4_head_sample_size_is_floor_of_K_over_Delta_squared_plus_one():
    """K = 19, Delta = 2: (19/2)^2 = 90.25, so m = 91 (19/sqrt(91) < 2 <= 19/sqrt(90))."""
    kw = dict(loss_bound=5.0, loss_lipschitz=3.0, d=9, head_norm=0.5)
    assert head_level_sample_size(2.0, 2 * math.exp(-2), **kw) == 91


def test_D4_certifying_sample_size_finds_the_least_m():
    """1/m < 1/100 first at m = 101; a slack that never falls gives None; one that falls only at
    the cap 10^18 is found there."""
    assert certifying_sample_size(lambda m: 1 / m, 0.01) == 101
    assert certifying_sample_size(lambda m: 1 / m, 2.0) == 1
    assert certifying_sample_size(lambda m: 1.0, 0.5) is None
    assert certifying_sample_size(lambda m: 0.0 if m >= 10**18 else 1.0, 0.5) == 10**18


CLS = NetworkClass(d=3, depth=2, hidden=4, in_dim=5, out_dim=1, head_norm=1.5, embed_norm=2.0,
                   u_norm=0.5, v_norm=3.0, input_norm=2.0, ln_eps=0.01)



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
    lambda: route_p_slack(NetworkClass(d=2, depth=1, hidden=1, in_dim=1), 10, 1.5,
                          loss_bound=1, loss_lipschitz=1),
    lambda: certifying_sample_size(lambda m: 1.0, -1.0),
    lambda: restricted_sample_size("Q", 0.1, 0.05, loss_bound=1, q=1, beta=1, lam=1, d=2),
    lambda: restricted_rademacher(float("nan"), 10, beta=1, lam=1, d=2),
])
def test_D4_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
