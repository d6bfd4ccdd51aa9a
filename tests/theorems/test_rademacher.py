r"""D3 (theorems.rademacher): every constant of the covering bound, at hand-computed values.

Tiny classes make every Lipschitz factor c_k an integer. With d = h = p = k = 1, all norm
budgets 1 and LayerNorm eps = 1: kappa = eps^{-1/2} = 1, A = kappa (1 + beta_U beta_V) = 2, and
for depth L the table of the module docstring gives

    c_W = sqrt(d) = 1,   c_E = B kappa X A^L = 2^L,
    c_{U_l} = c_{V_l} = B kappa sqrt(d) beta A^{L-l} = 2^{L-l},   n_b = 2L + 2 blocks,

so log N(eps') = sum_k P_k log(1 + 2 n_b R_k c_k / eps') is a log of an integer when eps' =
2 n_b. Massart's lemma at eps' = B sqrt(d/m) then gives the whole-class bound
B sqrt(d/m) (1 + sqrt(2 log N)), capped by the trivial B sqrt(d).
"""

import math

import pytest
import sympy as sp

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

UNIT = NetworkClass(d=1, depth=1, hidden=1, in_dim=1, out_dim=1, ln_eps=1.0)


def _at(expr: sp.Expr, **values) -> sp.Expr:
    """``expr`` with each free symbol replaced by the value given under its name."""
    return expr.subs({s: values[s.name] for s in expr.free_symbols})


def test_D3_head_bound_is_B_sqrt_d_over_m():
    """B sqrt(d/m): 3 sqrt(16/100) = 1.2; the SymPy form says the same."""
    assert head_rademacher_bound(100, 16, 3.0) == pytest.approx(1.2, rel=1e-15)
    assert _at(HEAD_BOUND, B=3, d=16, m=100) == sp.Rational(6, 5)


def test_D3_depth_1_covering_factors_are_1_2_1_1():
    """Rows (block, log c_k, R_k, P_k) of the unit class: c = 1, 2, 1, 1."""
    rows = [(name, round(math.exp(log_c), 12), radius, entries)
            for name, log_c, radius, entries in covering_blocks(UNIT)]
    assert rows == [("W", 1.0, 1.0, 1), ("E", 2.0, 1.0, 1), ("U1", 1.0, 1.0, 1), ("V1", 1.0, 1.0, 1)]


def test_D3_depth_1_log_covering_number_is_log_24():
    """n_b = 4, eps' = 8: log(1 + 1) + log(1 + 2) + 2 log(1 + 1) = log 24."""
    assert log_covering_number(UNIT, 8.0) == pytest.approx(math.log(24), rel=1e-14)


def test_D3_depth_2_powers_of_A_give_log_360():
    """L = 2, n_b = 6, eps' = 12: c = (1, A^2, A, A, 1, 1) = (1, 4, 2, 2, 1, 1):
    log(2 * 5 * 3 * 3 * 2 * 2) = log 360."""
    cls = NetworkClass(d=1, depth=2, hidden=1, in_dim=1, out_dim=1, ln_eps=1.0)
    assert log_covering_number(cls, 12.0) == pytest.approx(math.log(360), rel=1e-14)


def test_D3_entries_per_block_weight_the_logs():
    """P_W = k d = 5, P_E = d p = 3, P_U = P_V = h d = 2 (eps' = 8, n_b = 4, c = 1, 2, 1, 1):
    5 log 2 + 3 log 3 + 2 log 2 + 2 log 2 = log(2^9 3^3); 12 parameters in all."""
    cls = NetworkClass(d=1, depth=1, hidden=2, in_dim=3, out_dim=5, ln_eps=1.0)
    assert log_covering_number(cls, 8.0) == pytest.approx(math.log(2**9 * 27), rel=1e-14)
    assert cls.n_params() == 12


def test_D3_norm_budgets_and_eps_enter_each_factor():
    """d = 4, L = 1, B = 2, beta_E = 3, beta_U = 1/2, beta_V = 2, X = 5, eps = 1/4 (kappa = 2):
    A = 2 (1 + 1) = 4; c_W = 2, c_E = 2*2*5*4 = 80, c_U = 2*2*2*2 = 16, c_V = 2*2*2*(1/2) = 4;
    R = (2, 3, 1/2, 2). At eps' = 8 (n_b = 4): log(1 + R c) per entry, 4 entries each."""
    cls = NetworkClass(d=4, depth=1, hidden=1, in_dim=1, out_dim=1, head_norm=2.0,
                       embed_norm=3.0, u_norm=0.5, v_norm=2.0, input_norm=5.0, ln_eps=0.25)
    expected = 4 * math.log(1 + 4) + 4 * math.log(1 + 240) + 4 * math.log(1 + 8) + 4 * math.log(1 + 8)
    assert log_covering_number(cls, 8.0) == pytest.approx(expected, rel=1e-14)
    symbolic = _at(log_covering_expr(1), d=4, h=1, p=1, k=1, B=2, beta_E=3,
                   beta_U=sp.Rational(1, 2), beta_V=2, X=5, eps=sp.Rational(1, 4), eps_c=8)
    assert sp.simplify(symbolic - (4 * sp.log(5) + 4 * sp.log(241) + 8 * sp.log(9))) == 0


def test_D3_massart_constant_is_one_plus_sqrt_two_log_n():
    """m = 100: eps' = 1/10, 2 n_b R c / eps' = 80 c: log N = 3 log 81 + log 161; the bound is
    (1/10)(1 + sqrt(2 log N)) = 0.704..., below the trivial B sqrt(d) = 1."""
    log_n = 3 * math.log(81) + math.log(161)
    assert rademacher_bound(UNIT, 100) == pytest.approx(0.1 * (1 + math.sqrt(2 * log_n)), rel=1e-13)


def test_D3_trivial_cap_at_one_sample():
    """m = 1: (1 + sqrt(2 (3 log 9 + log 17))) > 1 = B sqrt(d), so the bound is 1."""
    assert rademacher_bound(UNIT, 1) == 1.0


def test_D3_loss_class_cover_at_M_over_L_sqrt_m():
    """M = 2, L_l = 4, m = 400: eps' = 2/(4*20) = 1/40, 8 c / eps' = 320 c:
    log N = 3 log 321 + log 641; bound (2/20)(1 + sqrt(2 log N)) = 0.789... < M/2 = 1."""
    log_n = 3 * math.log(321) + math.log(641)
    expected = 0.1 * (1 + math.sqrt(2 * log_n))
    assert loss_rademacher_bound(UNIT, 400, 2.0, 4.0) == pytest.approx(expected, rel=1e-13)
    assert loss_rademacher_bound(UNIT, 1, 2.0, 4.0) == 1.0  # capped at M/2


CLS = NetworkClass(d=3, depth=2, hidden=4, in_dim=5, out_dim=1, head_norm=1.5, embed_norm=2.0,
                   u_norm=0.5, v_norm=3.0, input_norm=2.0, ln_eps=0.01)



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


@pytest.mark.parametrize("call", [
    lambda: head_rademacher_bound(0, 4, 1.0),
    lambda: NetworkClass(d=0, depth=1, hidden=1, in_dim=1),
    lambda: NetworkClass(d=2, depth=1, hidden=1, in_dim=1, ln_eps=0.0),
])
def test_D3_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
