"""R3 numerically: Taylor coefficients in lam of a residual tower by nested forward mode
(numerics.probes.taylor). Oracles: R1's explicit subset sum for linear branches, and the truncation
error of the series, which must fall like lam^(K+1)."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from numerics.probes.taylor import (
    MAX_ORDER,
    random_tanh_branches,
    taylor_coefficients,
    taylor_polynomial,
    tower,
)

EPS = torch.finfo(torch.float64).eps


def subset_sum(matrices, x, k):
    """R1 oracle: sum over |S| = k, s_1 < ... < s_k, of A_{s_k} ... A_{s_1} x (and |.| sum)."""
    total, scale = torch.zeros_like(x), torch.zeros_like(x)
    for subset in itertools.combinations(range(len(matrices)), k):
        term = x
        for i in subset:
            term = matrices[i] @ term
        total, scale = total + term, scale + term.abs()
    return total, scale


@given(st.integers(0, 2**31 - 1), st.integers(1, 5), st.integers(1, 4))
def test_R3_linear_branches_give_the_R1_subset_sum(seed, n, d):
    gen = torch.Generator().manual_seed(seed)
    matrices = torch.randn(n, d, d, generator=gen, dtype=torch.float64) / math.sqrt(d)
    x = torch.randn(d, generator=gen, dtype=torch.float64)
    series = taylor_coefficients([lambda u, a=a: a @ u for a in matrices], x, 4)
    assert torch.equal(series[0], x)
    for k in range(1, 5):
        want, scale = subset_sum(matrices, x, k)
        # Each path product A_S x carries about k*d roundings relative to |A_S x|; nested
        # tangents add 2^k * n more: the budget is relative to the sum of |A_S x|.
        budget = (2**k * 4 * n * d) * EPS * (scale.max() + x.abs().max())
        assert (series[k] - want).abs().max() <= budget, (k, series[k], want)


@given(st.integers(0, 2**31 - 1), st.integers(1, 4))
def test_R3_truncated_series_error_falls_like_lam_to_the_K_plus_1(seed, order):
    gen = torch.Generator().manual_seed(seed)
    branches = random_tanh_branches(3, 3, 4, generator=gen)
    x = torch.randn(3, generator=gen, dtype=torch.float64)
    series = taylor_coefficients(branches, x, order)
    lams = 0.05 * 2.0 ** -np.arange(4)
    errors = [float((tower(branches, x, lam) - taylor_polynomial(series, lam)).norm())
              for lam in lams]
    # The remainder is c_(K+1) lam^(K+1) (1 + O(lam)); at lam <= 0.05 it stays far above
    # rounding (>= 1e-12 * |c_(K+1)|, against ~1e-16 |x|) unless c_(K+1) itself vanishes.
    assert min(errors) > 1e3 * EPS * float(x.norm()), errors
    slope = np.polyfit(np.log(lams), np.log(errors), 1)[0]
    assert abs(slope - (order + 1)) < 0.3, (slope, errors)


def test_R3_order_zero_and_one_are_x_and_the_sum_of_branches():
    gen = torch.Generator().manual_seed(7)
    branches = random_tanh_branches(4, 2, 3, generator=gen)
    x = torch.randn(2, generator=gen, dtype=torch.float64)
    c0, c1 = taylor_coefficients(branches, x, 1)
    assert torch.equal(c0, x)
    torch.testing.assert_close(c1, sum(f(x) for f in branches), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("kwargs,match", [
    ({"order": MAX_ORDER + 1}, "order"), ({"order": -1}, "order"), ({"order": 1.0}, "order"),
    ({"x": torch.tensor([1, 2])}, "x must"), ({"x": torch.tensor([float("nan")])}, "finite"),
    ({"branches": []}, "branches"),
])
def test_R3_bad_arguments_are_rejected(kwargs, match):
    args = {"branches": [torch.sin], "x": torch.tensor([0.5], dtype=torch.float64), "order": 2}
    with pytest.raises(ValueError, match=match):
        taylor_coefficients(**{**args, **kwargs})


def test_R3_random_tanh_branches_rejects_bad_sizes():
    with pytest.raises(ValueError, match="hidden"):
        random_tanh_branches(2, 2, 0, generator=torch.Generator())
