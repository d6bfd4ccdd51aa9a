r"""D4 (theorems.guarantees): the constants of both routes, at values where each is a round number.

Hoeffding for one fixed model: M sqrt(log(1/delta)/(2m)); with M = 2, m = 50, delta = e^{-4}:
2 sqrt(4/100) = 0.4. Route E adds 2 Rad_m and one Hoeffding term at delta; route P adds 2 Rad_m
and two Hoeffding terms at delta/2 (2M sqrt(log(2/delta)/(2m))). With the unit class of D3 at
m = 400, M = 2, L_l = 4, Rad_m = (1/10)(1 + sqrt(2 (3 log 321 + log 641))) by hand
(tests/theorems/test_rademacher_constants.py). The head-level slack is
K/sqrt(m), K = 2 L_l B sqrt(d) + 2 M sqrt(log(2/delta)/2).
"""

import math

import pytest

from theorems.guarantees import (
    certifying_sample_size,
    head_level_sample_size,
    hoeffding_slack,
    route_e_slack,
    route_p_slack,
    route_p_slack_head,
)
from theorems.rademacher import NetworkClass

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
