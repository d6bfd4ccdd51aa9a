"""D2's numeric forms (theorems.expansion_descent) and S2's vectorised log-ratio, exact values.

Each expected value is worked by hand from the formula in the docstring, so a changed constant,
sign or operand (the mutants mutmut makes) changes the result.
"""

import math

import numpy as np
import pytest

from theorems.expansion_descent import (
    d2_first_order_risk,
    d2_quadratic_upper,
    d2_ratio_deviation_bound,
)
from theorems.signal import s2_log10_ratio, s2_log10_ratio_array


def test_D2_first_order_risk_is_r0_minus_t_grad_norm():
    assert d2_first_order_risk(2.5, 3.0, 0.25) == 2.5 - 0.75
    assert d2_first_order_risk(1.0, 0.0, 7.0) == 1.0
    assert d2_first_order_risk(1.0, 4.0, 0.0) == 1.0


def test_D2_quadratic_upper_adds_half_b_t_squared():
    # 2 - 0.5 * 3 + 4 * 0.25 / 2 = 1.0
    assert d2_quadratic_upper(2.0, 3.0, 4.0, 0.5) == 1.0
    # b t^2/2 = 6 * 1 / 2 = 3: 1 - 1 * 2 + 3
    assert d2_quadratic_upper(1.0, 2.0, 6.0, 1.0) == 2.0


def test_D2_ratio_deviation_bound_is_b_t_over_two_grad_norm():
    assert d2_ratio_deviation_bound(2.0, 3.0, 0.5) == 3.0 * 0.5 / 4.0
    assert d2_ratio_deviation_bound(0.5, 1.0, 1.0) == 1.0


@pytest.mark.parametrize("call", [
    lambda: d2_first_order_risk(1.0, -1.0, 0.5),
    lambda: d2_first_order_risk(1.0, 1.0, -0.5),
    lambda: d2_quadratic_upper(1.0, 1.0, 0.0, 0.5),
    lambda: d2_quadratic_upper(1.0, 1.0, 1.0, -0.5),
    lambda: d2_ratio_deviation_bound(0.0, 1.0, 1.0),
    lambda: d2_ratio_deviation_bound(1.0, 0.0, 1.0),
    lambda: d2_ratio_deviation_bound(1.0, 1.0, -1.0),
])
def test_D2_numeric_forms_reject_out_of_range_arguments(call):
    with pytest.raises(ValueError):
        call()


def test_S2_log10_ratio_array_is_n_log10_of_one_plus_lam2_sigma2():
    n = np.array([0, 1, 10, 1000])
    lam = np.array([0.5, 1.0, 2.0, 0.1])
    got = s2_log10_ratio_array(n, lam, 2.0)
    expected = [0.0, math.log10(3.0), 10 * math.log10(9.0), 1000 * math.log10(1.02)]
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0)
    assert got.tolist() == pytest.approx([s2_log10_ratio(int(k), float(v), 2.0)
                                          for k, v in zip(n, lam)], rel=1e-14)


@pytest.mark.parametrize("n, lam, sigma2", [
    (np.array([-1]), np.array([1.0]), 1.0),
    (np.array([1]), np.array([-0.5]), 1.0),
    (np.array([1]), np.array([np.inf]), 1.0),
    (np.array([1]), np.array([1e200]), 1.0),
])
def test_S2_log10_ratio_array_rejects_out_of_range(n, lam, sigma2):
    with pytest.raises(ValueError):
        s2_log10_ratio_array(n, lam, sigma2)
