"""S6 (theorems/capacity.py): the depth product prod(1 + lam_i B_i), against S1 and numerics."""

import itertools
import math

import pytest
import sympy as sp
import torch
from hypothesis import given
from hypothesis import strategies as st

from numerics.models.config import ModelConfig
from numerics.models.networks import build_model
from numerics.probes.capacity import lipschitz_product
from theorems.capacity import (
    capacity_product,
    capacity_product_expr,
    inv_depth_product_limit,
    log_capacity_product,
)
from theorems.lipschitz import s1_bound

finite = st.floats(0, 3, allow_nan=False, allow_infinity=False)


@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=8))
def test_S6_product_is_the_weighted_path_sum_and_below_exp(pairs):
    lams, bounds = zip(*pairs, strict=True)
    subset_sum = math.fsum(
        math.prod(lams[i] * bounds[i] for i in subset)
        for k in range(len(lams) + 1) for subset in itertools.combinations(range(len(lams)), k))
    product = capacity_product(lams, bounds)
    assert product == pytest.approx(subset_sum, rel=1e-12)
    assert product <= math.exp(math.fsum(lam * b for lam, b in pairs)) * (1 + 1e-12)


@given(n=st.integers(1, 400), lam=finite, c=finite)
def test_S6_equal_scales_give_the_S1_bound(n, lam, c):
    assert capacity_product([lam] * n, [c] * n) == pytest.approx(s1_bound(n, lam, c), rel=1e-12)


def test_S6_symbolic_product_and_exp_bound():
    expr, lams, bounds = capacity_product_expr(2)
    assert (expr - (1 + lams[0] * bounds[0]) * (1 + lams[1] * bounds[1])).expand() == 0
    a, b = sp.symbols("a B", nonnegative=True)
    assert inv_depth_product_limit() == sp.exp(a * b)


def test_S6_numerics_lipschitz_product_equals_the_closed_form():
    torch.manual_seed(0)
    model = build_model(ModelConfig(depth=5, width=8, lam=0.3, scaling="inv-sqrt"), 4, 2,
                        generator=torch.Generator().manual_seed(1))
    lams = [abs(float(block.lam)) for block in model.blocks]
    bounds = [math.prod(torch.linalg.matrix_norm(layer.weight.detach().double(), 2).item()
                        for layer in block.branch if isinstance(layer, torch.nn.Linear))
              for block in model.blocks]
    assert lipschitz_product(model.blocks) == pytest.approx(capacity_product(lams, bounds),
                                                            rel=1e-12)


def test_S6_log_stays_finite_past_float_range_and_bad_input_is_rejected():
    assert log_capacity_product([1.0] * 5000, [1.0] * 5000) == pytest.approx(5000 * math.log(2))
    with pytest.raises(ValueError, match="same length"):
        capacity_product([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="non-negative"):
        capacity_product([float("nan")], [1.0])
