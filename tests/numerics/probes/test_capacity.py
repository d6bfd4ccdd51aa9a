"""S6 capacity measurements (numerics/probes/capacity.py): the Lipschitz product bounds every Jacobian
and is attained on a planted tower, the optimiser over inputs raises the Jacobian norm without
ever passing the product, and the summary reads the mean path length off the signed shares."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.models.config import ModelConfig
from numerics.probes.capacity import (
    _mlp_layers,
    _tower_jacobian,
    branch_lipschitz_bound,
    capacity_summary,
    lipschitz_product,
    margins,
    maximise_jacobian_norm,
)
from numerics.probes.jacobian import tower_jacobian
from numerics.probes.spectrum import path_spectrum
from resdepth.strategies import build_tower, tower_inputs, towers


@given(towers(max_depth=6, max_width=8, min_lam=0.0, max_lam=2.0))
def test_S1_S6_lipschitz_product_bounds_every_jacobian(draw):
    """Bound check with a falsification attempt: inputs far out and near kinks."""
    seed, cfg = draw
    model = build_tower(seed, cfg, in_dim=4, out_dim=2)
    if cfg.activation != "relu":
        with pytest.raises(ValueError, match="GELU"):
            lipschitz_product(model.blocks)
        return
    bound = lipschitz_product(model.blocks)
    x0 = model.embed(torch.cat([tower_inputs(seed, 8, 4), tower_inputs(seed + 1, 8, 4, scale=50),
                                tower_inputs(seed + 2, 8, 4, scale=1e-3)])).detach()
    jac = tower_jacobian(model.blocks, x0)
    assert torch.linalg.matrix_norm(jac, 2).max().item() <= bound * (1 + 1e-12)


def _planted_tower(c: float = 2.0, depth: int = 3, width: int = 4, lam: float = 0.5):
    """W_1 = c I, W_2 = I and biases that keep every ReLU active: Lip = (1 + lam c)^n."""
    model = build_tower(0, ModelConfig(depth=depth, width=width, hidden=width, lam=lam),
                        in_dim=width, out_dim=2)
    with torch.no_grad():
        for block in model.blocks:
            block.branch[0].weight.copy_(c * torch.eye(width))
            block.branch[2].weight.copy_(torch.eye(width))
            block.branch[0].bias.fill_(10.0)
    return model


def test_S6_bound_is_tight_for_scaled_identity_branches():
    model = _planted_tower()
    assert branch_lipschitz_bound(model.blocks[0].branch) == 2.0
    assert lipschitz_product(model.blocks) == pytest.approx(8.0, rel=1e-15)
    x0 = model.embed(tower_inputs(0, 2, 4)).detach()
    assert torch.linalg.matrix_norm(tower_jacobian(model.blocks, x0), 2).max().item() == \
        pytest.approx(8.0, rel=1e-14)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), lam=st.floats(0.1, 1.5))
def test_S6_closed_form_jacobian_is_autograds(seed, lam):
    """prod (I + lam W2 G W1) of the ReLU tower (the optimiser's true norm) equals autograd's
    Jacobian; the softplus stand-in tends to it as the sharpness grows."""
    model = build_tower(seed, ModelConfig(depth=4, width=6, lam=lam), in_dim=5, out_dim=2)
    x0 = model.embed(tower_inputs(seed, 6, 5)).detach()
    layers = _mlp_layers(model.blocks)
    exact = tower_jacobian(model.blocks, x0)
    torch.testing.assert_close(_tower_jacobian(layers, x0), exact, rtol=1e-12, atol=1e-12)
    smooth = _tower_jacobian(layers, x0, sharpness=1e6)
    torch.testing.assert_close(smooth, exact, rtol=1e-3, atol=1e-3)


def test_S6_optimiser_raises_the_jacobian_norm_and_never_passes_the_product():
    model = build_tower(3, ModelConfig(depth=5, width=8, lam=0.7), in_dim=8, out_dim=2)
    x0 = model.embed(tower_inputs(3, 8, 8)).detach()
    out = maximise_jacobian_norm(model.blocks, x0, steps=40, lr=0.1, sharpness=3.0)
    assert out["max_norm"] > out["start_max_norm"]
    assert out["max_norm"] <= lipschitz_product(model.blocks) * (1 + 1e-12)
    planted = _planted_tower()
    start = planted.embed(tower_inputs(1, 4, 4)).detach()
    reached = maximise_jacobian_norm(planted.blocks, start, steps=5)["max_norm"]
    assert reached == pytest.approx(lipschitz_product(planted.blocks), rel=1e-12)
    with pytest.raises(ValueError, match="Linear-ReLU-Linear"):
        maximise_jacobian_norm(build_tower(0, ModelConfig(depth=2, width=4, activation="gelu"),
                                           in_dim=4, out_dim=2).blocks, start, steps=1)


def test_S6_capacity_summary_reports_the_signed_mean_path_length():
    model = build_tower(1, ModelConfig(depth=3, width=6, lam=0.5), in_dim=5, out_dim=3)
    x = tower_inputs(1, 20, 5)
    y = model(x).argmax(1)
    summary = capacity_summary(model, x, y, n_jacobian=5)
    spectrum = path_spectrum(model.blocks, model.embed(x).detach())
    assert summary["lam"] == 0.5
    assert summary["log10_max_jacobian"] <= summary["log10_lipschitz_bound"]
    assert summary["margin_median"] >= 0
    assert math.fsum(summary["signed_shares"]) == pytest.approx(1.0, rel=1e-12)
    assert summary["mean_path_length"] == pytest.approx(
        sum(k * s for k, s in enumerate(summary["signed_shares"])), rel=1e-12)
    assert summary["mean_path_length"] == pytest.approx(spectrum.mean_length(), rel=1e-12)
    assert summary["mean_path_length_energy"] == pytest.approx(spectrum.mean_length_energy())
    assert summary["cross_term_fraction"] == pytest.approx(spectrum.cross_term_fraction())
    assert sum(summary["energy_fractions"]) == pytest.approx(1.0)
    assert "log10_max_jacobian" not in capacity_summary(model, x, n_jacobian=0)


def test_margins():
    out = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 1.0]])
    assert margins(out, torch.tensor([0, 2])).tolist() == [1.0, -4.0]
