"""D4's restricted class: the per-example Lipschitz constants computed on the sample bound the
true Jacobians and loss changes everywhere on the ball the class can reach (falsification by
random and adversarial points), and q has its closed form."""

import math

import pytest
import torch
from torch.func import functional_call

from numerics.models.config import ModelConfig
from numerics.models.networks import build_model
from numerics.probes.expansion import insert_block, make_loss, rest_of_network, stream_at, v_name
from numerics.probes.restricted_class import restricted_constants


def expanded(seed, position, depth=2, width=6, bias=False):
    cfg = ModelConfig(arch="mlp", depth=depth, width=width, norm="post", bias=bias)
    old = build_model(cfg, 5, 1, generator=torch.Generator().manual_seed(seed)).double().eval()
    return insert_block(old, position, generator=torch.Generator().manual_seed(seed + 1))


def _phi(model, position, z):
    """The map z -> output after the new block's pre-LN sum z = h + lam V a."""
    block = model.blocks[position]
    return rest_of_network(model, position + 1, block.normalise(z))


@pytest.mark.parametrize("position, bias", [(0, False), (1, True), (2, False)])
def test_D4_lipschitz_bounds_hold_on_the_ball(position, bias):
    model = expanded(3, position, bias=bias)
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(12, 5, generator=gen, dtype=torch.float64)
    y = torch.randn(12, 1, generator=gen, dtype=torch.float64)
    beta, clip = 0.8, 1.0
    out = restricted_constants(model, position, x, y, beta=beta, clip=clip)
    lam = float(model.blocks[position].lam)
    with torch.no_grad():
        h = stream_at(model, position, x)
    radius = abs(lam) * beta * out["feature_norm"]
    loss = make_loss("regression", clip=clip)
    for _ in range(30):
        direction = torch.randn(h.shape, generator=gen, dtype=torch.float64)
        direction = direction / direction.norm(dim=1, keepdim=True)
        scale = torch.rand(12, 1, generator=gen, dtype=torch.float64)
        z = (h + scale * radius[:, None] * direction).requires_grad_(True)
        (grad,) = torch.autograd.grad(_phi(model, position, z).sum(), z)  # row i: d f_i / d z_i
        assert (grad.norm(dim=1) <= out["lipschitz"] * (1 + 1e-9)).all()
        with torch.no_grad():
            z0 = h + 0.0 * z
            change = (loss(_phi(model, position, z), y) - loss(_phi(model, position, z0), y)).abs()
        dist = (z - z0).norm(dim=1).detach()
        assert (change <= out["loss_lipschitz"] * dist * (1 + 1e-9) + 1e-15).all()


def test_D4_q_is_the_rms_of_loss_lipschitz_times_feature_norm():
    model = expanded(5, 2)
    x = torch.randn(40, 5, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    y = torch.zeros(40, 1, dtype=torch.float64)
    out = restricted_constants(model, 2, x, y, beta=0.1, clip=0.5)
    expected = math.sqrt(float(((out["loss_lipschitz"] * out["feature_norm"]) ** 2).mean()))
    assert out["q"] == pytest.approx(expected, rel=1e-15)
    assert (out["loss_lipschitz"] <= out["lipschitz"] * 2 * math.sqrt(0.5) * (1 + 1e-12)).all()


def test_D4_the_class_reaches_every_point_of_the_ball():
    """Every z with ||z - h_i|| <= |lam| beta ||a_i|| is h_i + lam V a_i for some ||V|| <= beta:
    V = (z - h_i) a_i^T / (lam ||a_i||^2)."""
    model = expanded(7, 2)
    x = torch.randn(3, 5, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    with torch.no_grad():
        h = stream_at(model, 2, x)
        a = torch.relu(model.blocks[2].branch[0](h))
    i, beta = 0, 0.5
    target = h[i] + beta * a[i].norm() * torch.nn.functional.normalize(torch.ones(6,
                                                                        dtype=torch.float64), dim=0)
    v = torch.outer(target - h[i], a[i]) / a[i].norm() ** 2
    assert float(v.norm()) == pytest.approx(beta, rel=1e-12)
    with torch.no_grad():
        moved = functional_call(model, {v_name(2): v}, (x[i:i + 1],))
        assert torch.allclose(moved, _phi(model, 2, target[None]), rtol=1e-12)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError):
        restricted_constants(expanded(1, 2), 2, torch.zeros(2, 5, dtype=torch.float64),
                             torch.zeros(2, 1, dtype=torch.float64), beta=0.0, clip=1.0)


def test_D4_block_stage_bounds_the_jacobian_where_units_switch():
    """One residual map w -> w + lam V relu(U w) on balls large enough that units switch: the
    bound must cover the switched patterns (the |lam| ||V_S|| ||U_S|| term)."""
    from numerics.probes.restricted_class import _block_stage

    gen = torch.Generator().manual_seed(11)
    block = expanded(12, 1).blocks[0]
    with torch.no_grad():
        block.branch[2].weight.mul_(3.0)
    c = torch.randn(200, 6, generator=gen, dtype=torch.float64)
    r = torch.full((200,), 1.5, dtype=torch.float64)
    _, lip = _block_stage(block, c, r)
    worst = torch.zeros(200, dtype=torch.float64)
    for _ in range(40):
        d = torch.nn.functional.normalize(torch.randn(200, 6, generator=gen, dtype=torch.float64))
        w = c + r[:, None] * torch.rand(200, 1, generator=gen, dtype=torch.float64) * d
        active = (block.branch[0](w) > 0).to(w.dtype)
        jac = torch.eye(6, dtype=w.dtype) + float(block.lam) * torch.einsum(
            "ik,nk,kj->nij", block.branch[2].weight, active, block.branch[0].weight)
        worst = torch.maximum(worst, torch.linalg.matrix_norm(jac, ord=2))
    assert (worst <= lip * (1 + 1e-12)).all()


def test_D4_a_label_beyond_reach_has_loss_lipschitz_zero_and_its_loss_is_constant():
    """c_i = 0 when ||f_0(x_i) - y_i|| - rho_i >= sqrt(M): the clipped loss is M on the whole
    ball (checked at random points of it); labels within reach keep c_i > 0."""
    model = expanded(7, 1)
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(20, 5, generator=gen, dtype=torch.float64)
    y = torch.randn(20, 1, generator=gen, dtype=torch.float64)
    y[::2] += 1e7  # far labels
    beta, clip = 0.8, 1.0
    out = restricted_constants(model, 1, x, y, beta=beta, clip=clip)
    assert (out["loss_lipschitz"][::2] == 0).all() and (out["loss_lipschitz"][1::2] > 0).all()
    with torch.no_grad():
        h = stream_at(model, 1, x)
        radius = abs(float(model.blocks[1].lam)) * beta * out["feature_norm"]
        loss = make_loss("regression", clip=clip)
        for _ in range(20):
            direction = torch.randn(h.shape, generator=gen, dtype=torch.float64)
            z = h + radius[:, None] * direction / direction.norm(dim=1, keepdim=True)
            assert (loss(_phi(model, 1, z), y)[::2] == clip).all()
