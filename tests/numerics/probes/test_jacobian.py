"""R5: d x_n / d x_0 = prod_i (I + lam J_i(x_{i-1})) = sum over S of lam^|S| J_S."""

import pytest
import torch
from hypothesis import given

from numerics.models.config import ModelConfig
from numerics.probes.jacobian import (
    branch_jacobians,
    jacobian_product,
    jacobian_subset_sum,
    tower_jacobian,
)
from numerics.probes.spectrum import block_scales
from resdepth.strategies import build_tower, tower_inputs, towers

EXACT_TOL = 1e-9  # float64: products of n d x d matrices round at ~n d 1e-16


def rel_error(a, b):
    return ((a - b).norm(dim=(1, 2)) / b.norm(dim=(1, 2))).max().item()


def tower_and_stream(seed, cfg, batch=3):
    model = build_tower(seed, cfg, in_dim=4, out_dim=2)
    with torch.no_grad():
        return model, model.embed(tower_inputs(seed, batch, 4, scale=2.0))


@given(towers(max_depth=10, max_width=8))
def test_R5_jacobian_product_equals_autograd(draw):
    seed, cfg = draw
    model, x0 = tower_and_stream(seed, cfg)
    truth = tower_jacobian(model.blocks, x0)
    assert truth.shape == (3, cfg.width, cfg.width)
    assert rel_error(jacobian_product(model.blocks, x0), truth) <= EXACT_TOL


@given(towers(max_depth=5, max_width=6))
def test_R5_subset_sum_equals_autograd(draw):
    seed, cfg = draw
    model, x0 = tower_and_stream(seed, cfg)
    jacobians, x_n = branch_jacobians(model.blocks, x0)
    assert len(jacobians) == cfg.depth
    assert torch.allclose(x_n, model.run_blocks(x0), rtol=0, atol=0)
    subsets = jacobian_subset_sum(jacobians, block_scales(model.blocks))
    assert rel_error(subsets, tower_jacobian(model.blocks, x0)) <= EXACT_TOL


def test_R5_branch_jacobian_is_the_gated_weight_product():
    model, x0 = tower_and_stream(2, ModelConfig(depth=1, width=4, hidden=6))
    branch = model.blocks[0].branch
    w1, b1, w2 = branch[0].weight, branch[0].bias, branch[2].weight
    (jac,), _ = branch_jacobians(model.blocks, x0)
    for row, x in zip(jac, x0):
        gate = torch.diag((w1 @ x + b1 > 0).double())
        assert torch.allclose(row, w2 @ gate @ w1, rtol=1e-12, atol=1e-12)


def test_R5_refuses_bad_input():
    model, x0 = tower_and_stream(0, ModelConfig(depth=2, width=4, norm="pre"))
    with pytest.raises(ValueError, match="norm"):
        jacobian_product(model.blocks, x0)
    with pytest.raises(ValueError, match="scales"):
        jacobian_subset_sum([torch.eye(2)[None]], [0.1, 0.2])
    with pytest.raises(ValueError, match="at least one"):
        branch_jacobians([], x0)


@pytest.mark.gpu
def test_R5_cuda_product_matches_cpu():
    model, x0 = tower_and_stream(1, ModelConfig(depth=6, width=8, activation="gelu"))
    cpu = jacobian_product(model.blocks, x0)
    gpu = jacobian_product(model.to("cuda").blocks, x0.to("cuda"))
    assert rel_error(gpu.cpu(), cpu) <= EXACT_TOL
