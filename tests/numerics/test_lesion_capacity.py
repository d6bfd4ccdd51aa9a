"""Lesion study (R2 paths) and S6 capacity measurements on small residual MLPs."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from numerics.capacity import branch_lipschitz_bound, capacity_summary, lipschitz_product, margins
from numerics.config import ModelConfig
from numerics.jacobian import tower_jacobian
from numerics.lesion import lesion_curve, lesioned_forward, surviving_share
from resdepth.strategies import build_tower, tower_inputs, towers


@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=12), st.data())
def test_surviving_share_counts_paths_that_avoid_deleted_blocks(energies, data):
    if sum(energies) <= 0:
        energies = [1.0] + energies[1:]
    n = len(energies) - 1
    m = data.draw(st.integers(0, n))
    share = surviving_share(energies, m)
    expected = sum(math.comb(n - m, k) / math.comb(n, k) * e
                   for k, e in enumerate(energies)) / sum(energies)
    assert share == pytest.approx(expected)
    assert surviving_share(energies, 0) == pytest.approx(1.0)
    assert surviving_share(energies, n) == pytest.approx(energies[0] / sum(energies))


def test_surviving_share_on_uniform_energy_is_the_fraction_of_surviving_paths():
    """With e_k = C(n,k) (every path weight 1) rho(m) = 2^(n-m) / 2^n."""
    n = 7
    for m in range(n + 1):
        share = surviving_share([math.comb(n, k) for k in range(n + 1)], m)
        assert share == pytest.approx(2.0 ** -m)


def test_lesion_keeps_the_skip_connection():
    model = build_tower(0, ModelConfig(depth=4, width=6), in_dim=5, out_dim=3)
    x = tower_inputs(0, 10, 5)
    out, h = lesioned_forward(model, x, ())
    assert torch.equal(out, model(x))
    out, h = lesioned_forward(model, x, range(4))
    assert torch.allclose(h, model.embed(x))
    y = model(x).argmax(1)
    rows = lesion_curve(model, x, y, ms=[0, 2, 4], n_draws=3,
                        generator=torch.Generator().manual_seed(0))
    assert rows[0]["error"] == 0.0 and rows[0]["stream_change"] == 0.0
    assert [r["m"] for r in rows] == [0, 2, 4]
    with pytest.raises(ValueError, match="0..4"):
        lesion_curve(model, x, y, ms=[5], n_draws=1, generator=torch.Generator())
    with pytest.raises(ValueError, match="deleted"):
        lesioned_forward(model, x, [7])


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


def test_S6_bound_is_tight_for_scaled_identity_branches():
    model = build_tower(0, ModelConfig(depth=3, width=4, hidden=4, lam=0.5), in_dim=4,
                        out_dim=2)
    with torch.no_grad():
        for block in model.blocks:
            block.branch[0].weight.copy_(2 * torch.eye(4))
            block.branch[2].weight.copy_(torch.eye(4))
            block.branch[0].bias.fill_(10.0)
    assert branch_lipschitz_bound(model.blocks[0].branch) == pytest.approx(2.0)
    assert lipschitz_product(model.blocks) == pytest.approx(8.0)
    x0 = model.embed(tower_inputs(0, 2, 4)).detach()
    assert torch.linalg.matrix_norm(tower_jacobian(model.blocks, x0), 2).max().item() == \
        pytest.approx(8.0)


def test_S6_capacity_summary_reports_the_measurements():
    model = build_tower(1, ModelConfig(depth=3, width=6, lam=0.5), in_dim=5, out_dim=3)
    x = tower_inputs(1, 20, 5)
    y = model(x).argmax(1)
    summary = capacity_summary(model, x, y, n_jacobian=5)
    assert summary["lam"] == 0.5
    assert summary["log10_max_jacobian"] <= summary["log10_lipschitz_bound"]
    assert summary["margin_median"] >= 0
    assert sum(summary["energy_fractions"]) == pytest.approx(1.0)
    assert 0 <= summary["mean_path_length"] <= 3
    assert "log10_max_jacobian" not in capacity_summary(model, x, n_jacobian=0)


def test_margins():
    out = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 1.0]])
    assert margins(out, torch.tensor([0, 2])).tolist() == [1.0, -4.0]
