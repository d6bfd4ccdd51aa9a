"""Each numeric form names the argument it refuses, and edge values are refused or accepted as
stated (mutation testing: the validator calls' names, `<` against `<=`, `or` against `and`).

D2 (expansion_descent), D2 observability (joint_scaling), D3 (rademacher) and S2 (signal).
"""

import numpy as np
import pytest

from theorems.expansion_descent import (
    d2_directional_decrease,
    d2_directional_step,
    d2_first_order_risk,
    d2_guaranteed_decrease,
    d2_optimal_step,
    d2_quadratic_upper,
    d2_ratio_deviation_bound,
)
from theorems.joint_scaling import alignment_dimension
from theorems.rademacher import NetworkClass, loss_rademacher_bound
from theorems.signal import s2_log10_ratio_array

CLS = NetworkClass(d=4, depth=2, hidden=3, in_dim=5)


@pytest.mark.parametrize("call, name", [
    (lambda: d2_first_order_risk(1.0, 1.0, -1.0), "t"),
    (lambda: d2_first_order_risk(1.0, -1.0, 1.0), "grad_norm"),
    (lambda: d2_quadratic_upper(1.0, 1.0, 1.0, -1.0), "t"),
    (lambda: d2_quadratic_upper(1.0, -1.0, 1.0, 1.0), "grad_norm"),
    (lambda: d2_quadratic_upper(1.0, 1.0, 0.0, 1.0), "smoothness"),
    (lambda: d2_ratio_deviation_bound(1.0, 1.0, -1.0), "t"),
    (lambda: d2_ratio_deviation_bound(0.0, 1.0, 1.0), "grad_norm"),
    (lambda: d2_ratio_deviation_bound(1.0, 0.0, 1.0), "smoothness"),
    (lambda: d2_optimal_step(-1.0, 1.0), "grad_norm"),
    (lambda: d2_optimal_step(1.0, 0.0), "smoothness"),
    (lambda: d2_guaranteed_decrease(-1.0, 1.0), "grad_norm"),
    (lambda: d2_guaranteed_decrease(1.0, 0.0), "smoothness"),
    (lambda: d2_directional_step(-1.0, 0.0), "smoothness"),
    (lambda: d2_directional_decrease(-1.0, 0.0), "smoothness"),
    (lambda: alignment_dimension(-1.0, 1.0), "tr_sigma"),
    (lambda: alignment_dimension(1.0, 0.0), "tr_sigma2"),
    (lambda: loss_rademacher_bound(CLS, 0, 1.0, 1.0), "m"),
    (lambda: loss_rademacher_bound(CLS, 10, 0.0, 1.0), "loss_bound"),
    (lambda: loss_rademacher_bound(CLS, 10, 1.0, 0.0), "loss_lipschitz"),
    (lambda: s2_log10_ratio_array([1], [1.0], -1.0), "sigma2"),
])
def test_refusals_name_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        call()


@pytest.mark.parametrize("deriv", [0.0, float("-inf"), float("nan"), 1.0])
def test_D2_directional_forms_need_a_finite_negative_derivative(deriv):
    with pytest.raises(ValueError, match="^deriv must be a finite number < 0"):
        d2_directional_step(deriv, 1.0)
    with pytest.raises(ValueError, match="^deriv must be a finite number < 0"):
        d2_directional_decrease(deriv, 1.0)


def test_D3_parameter_count_is_kd_plus_dp_plus_2Lhd():
    cls = NetworkClass(d=4, depth=3, hidden=5, in_dim=7, out_dim=2)
    assert cls.n_params() == 2 * 4 + 4 * 7 + 2 * 3 * 5 * 4  # 156


def test_S2_log10_ratio_array_accepts_lam_zero_and_rejects_nan():
    assert s2_log10_ratio_array([3], [0.0], 1.0).tolist() == [0.0]
    with pytest.raises(ValueError, match="lam finite"):
        s2_log10_ratio_array([3], [float("nan")], 1.0)


def test_S2_log10_ratio_array_overflow_check_uses_lam_squared_times_sigma2():
    # lam^2 sigma2 = 1e308 * 1e10 overflows; lam^2 / sigma2 would not.
    with pytest.raises(ValueError, match="exceeds the float range"):
        s2_log10_ratio_array([1], [1e154], 1e10)


def test_S2_log10_ratio_array_takes_integer_scales_as_floats():
    # lam = 10^10 as an integer: lam^2 = 1e20 overflows int64, so lam must become a float first.
    got = s2_log10_ratio_array(np.array([2]), np.array([10**10]), 1.0)
    assert got.tolist() == pytest.approx([2 * np.log10(1 + 1e20)], rel=1e-14)
