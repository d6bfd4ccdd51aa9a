"""R2: the path-length spectrum splits the forward pass exactly (random and trained networks)."""

import math

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch import nn

from numerics.models.config import ModelConfig, TrainConfig
from numerics.models.train import train_from_config
from numerics.probes import secant as secant_module
from numerics.probes.enumeration import enumerate_paths, sum_by_length
from numerics.probes.secant import secant_spectrum
from numerics.probes.spectrum import (
    EXACT_TOL,
    FLUSH_BELOW,
    Spectrum,
    block_scales,
    path_spectrum,
    tower_forward,
)
from resdepth.strategies import build_tower, scales, seeds, tower_inputs, towers

ACTIVATIONS = {"relu": nn.ReLU, "leaky": lambda: nn.LeakyReLU(0.2),
               "abs": lambda: nn.LeakyReLU(-1.0)}


def with_activation(model, name):
    for block in model.blocks:
        block.branch[1] = ACTIVATIONS[name]()
    return model


def stream(model, seed, batch=6, scale=1.0):
    with torch.no_grad():
        return model.embed(tower_inputs(seed, batch, model.embed[0].in_features, scale=scale))


@given(towers(max_depth=12, piecewise_linear=True), st.sampled_from(sorted(ACTIVATIONS)),
       st.floats(0.1, 10.0))
@example((0, ModelConfig(depth=12, width=16, lam=1.5)), "relu", 10.0)
def test_R2_sum_of_lengths_is_forward(draw, activation, input_scale):
    seed, cfg = draw
    model = with_activation(build_tower(seed, cfg, in_dim=5, out_dim=3), activation)
    x0 = stream(model, seed, scale=input_scale)
    spectrum = path_spectrum(model.blocks, x0)
    assert spectrum.terms.shape == (cfg.depth + 1, *x0.shape)
    assert torch.allclose(spectrum.output, tower_forward(model.blocks, x0), rtol=0, atol=0)
    assert spectrum.max_rel_error() <= EXACT_TOL


@given(towers(max_depth=8, max_width=8, piecewise_linear=True), st.sampled_from(sorted(ACTIVATIONS)))
def test_R2_dynamic_programme_equals_enumeration(draw, activation):
    seed, cfg = draw
    model = with_activation(build_tower(seed, cfg, in_dim=4, out_dim=2), activation)
    x0 = stream(model, seed)
    paths, lengths = enumerate_paths(model.blocks, x0)
    assert paths.shape[0] == 2 ** cfg.depth
    assert torch.bincount(lengths).tolist() == [math.comb(cfg.depth, k)
                                                for k in range(cfg.depth + 1)]
    dp = path_spectrum(model.blocks, x0).terms
    assert (sum_by_length(paths, lengths) - dp).abs().max() <= EXACT_TOL * dp.abs().max()


@given(towers(max_depth=6, max_width=8, piecewise_linear=True))
def test_R2_mlp_route_equals_forward_mode_route(draw):
    seed, cfg = draw
    model = build_tower(seed, cfg, in_dim=4, out_dim=2)
    x0 = stream(model, seed)
    fast = path_spectrum(model.blocks, x0, route="mlp").terms
    generic = path_spectrum(model.blocks, x0, route="generic").terms
    assert (fast - generic).abs().max() <= EXACT_TOL * fast.abs().max()


def test_R2_bias_enters_only_at_a_paths_first_block():
    """The t-coordinate: J~_2 J~_1 x~_0 = D_2 (D_1 x_0 + c_1), no c_2 (gates from the weights)."""
    model = build_tower(3, ModelConfig(depth=2, width=4, hidden=5, lam=0.8), in_dim=4,
                        out_dim=2)
    x0 = stream(model, 3, batch=1)[0]
    x, pieces = x0, []
    for block in model.blocks:
        w1, b1 = block.branch[0].weight, block.branch[0].bias
        w2, b2 = block.branch[2].weight, block.branch[2].bias
        gate = torch.diag((w1 @ x + b1 > 0).double())
        pieces.append((w2 @ gate @ w1, w2 @ gate @ b1 + b2))
        x = x + 0.8 * (w2 @ torch.relu(w1 @ x + b1) + b2)
    (d1, c1), (d2, c2) = pieces
    paths, _ = enumerate_paths(model.blocks, x0.unsqueeze(0))
    expected = [x0, 0.8 * (d1 @ x0 + c1), 0.8 * (d2 @ x0 + c2), 0.64 * d2 @ (d1 @ x0 + c1)]
    for got, want in zip(paths[:, 0], expected):
        assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)
    assert torch.allclose(paths[:, 0].sum(0), x, rtol=1e-12, atol=1e-12)


class Block(nn.Module):
    def __init__(self, branch, lam):
        super().__init__()
        self.branch, self.norm = branch, "none"
        self.register_buffer("lam", torch.tensor(lam, dtype=torch.float64))

    def forward(self, x):
        return x + self.lam * self.branch(x)


@given(seeds(), st.integers(1, 5), scales(min_value=0.1, max_value=1.0))
def test_R2_conv_maxpool_tower_by_forward_mode(seed, depth, lam):
    generator = torch.Generator().manual_seed(seed)
    blocks = []
    for _ in range(depth):
        branch = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(),
                               nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(3, 2, 3, padding=1))
        for p in branch.parameters():
            p.data = torch.randn(p.shape, generator=generator) * 0.5
        blocks.append(Block(branch.double(), lam))
    x0 = torch.randn(3, 2, 5, 5, generator=generator, dtype=torch.float64)
    assert path_spectrum(blocks, x0).max_rel_error() <= EXACT_TOL


@pytest.fixture(scope="module")
def trained():
    cfg = ModelConfig(depth=4, width=16, lam=1.0)
    model, result = train_from_config(cfg, "digits", TrainConfig(epochs=2, lr=3e-3), seed=0,
                                      n_train=300)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"] * 2
    return model.double().eval()


@given(seeds(), st.floats(0.1, 30.0))
def test_R2_trained_network_is_a_sum_of_gated_paths(trained, seed, input_scale):
    x0 = stream(trained, seed, batch=16, scale=input_scale)
    spectrum = path_spectrum(trained.blocks, x0)
    assert spectrum.max_rel_error() <= EXACT_TOL
    with torch.no_grad():
        logits = trained.head(spectrum.terms.sum(0))
        assert torch.allclose(logits, trained(tower_inputs(seed, 16, 64, scale=input_scale)),
                              rtol=1e-9, atol=1e-9)


def gelu_tower(seed, depth, width=6):
    cfg = ModelConfig(depth=depth, width=width, lam=0.8, activation="gelu", bias=False)
    return build_tower(seed, cfg, in_dim=width, out_dim=2)


@given(seeds(), st.integers(1, 6))
def test_R2_secant_spectrum_error_falls_with_quadrature_nodes(seed, depth):
    model = gelu_tower(seed, depth)
    x0 = stream(model, seed, scale=3.0)
    errors = [secant_spectrum(model.blocks, x0, nodes=q).max_rel_error() for q in (2, 4, 8, 48)]
    assert errors[-1] <= EXACT_TOL
    # Gauss-Legendre on an analytic integrand: the error drops geometrically with the nodes
    assert errors[0] > errors[1] > errors[2] or errors[0] <= EXACT_TOL


def test_R2_secant_nodes_in_groups_equal_one_pass(monkeypatch):
    """Grouping the quadrature nodes (to bound memory) changes rounding only."""
    model = gelu_tower(2, 4)
    x0 = stream(model, 2, scale=3.0)
    whole = secant_spectrum(model.blocks, x0, nodes=9).terms
    monkeypatch.setattr(secant_module, "SECANT_ROWS", 1)  # one node per forward-mode pass
    grouped = secant_spectrum(model.blocks, x0, nodes=9).terms
    assert (whole - grouped).abs().max() <= EXACT_TOL * whole.abs().max()


def test_R2_secant_spectrum_convergence_rate():
    """Gauss-Legendre on an analytic integrand converges geometrically: log error is linear in Q.

    A least-squares fit of log(error) against Q = 1..14 must have slope < -1 (a factor e per
    node at least) and R^2 > 0.95; the error at Q = 14 is already below 1e-9.
    """
    model = gelu_tower(5, 4)
    x0 = stream(model, 5)
    qs = torch.arange(1, 15, dtype=torch.float64)
    logs = torch.tensor([math.log(secant_spectrum(model.blocks, x0, nodes=int(q)).max_rel_error())
                         for q in qs], dtype=torch.float64)
    qc, lc = qs - qs.mean(), logs - logs.mean()
    slope = (qc @ lc) / (qc @ qc)
    r2 = 1 - ((lc - slope * qc).pow(2).sum() / lc.pow(2).sum())
    assert slope < -1.0 and r2 > 0.95
    assert math.exp(logs[-1]) <= EXACT_TOL


def test_R2_refuses_what_it_cannot_split():
    gelu = gelu_tower(0, 2)
    x0 = stream(gelu, 0)
    with pytest.raises(ValueError, match="not piecewise linear"):
        path_spectrum(gelu.blocks, x0)
    with_bias = build_tower(0, ModelConfig(depth=2, width=6, activation="gelu"), in_dim=6,
                            out_dim=2)
    with pytest.raises(ValueError, match="f\\(0\\) != 0"):
        secant_spectrum(with_bias.blocks, x0)
    pre = build_tower(0, ModelConfig(depth=2, width=6, norm="pre"), in_dim=6, out_dim=2)
    with pytest.raises(ValueError, match="norm='none'"):
        path_spectrum(pre.blocks, x0)
    with pytest.raises(ValueError, match="route"):
        path_spectrum(gelu.blocks, x0, route="fast")
    with pytest.raises(ValueError, match="nodes"):
        secant_spectrum(gelu.blocks, x0, nodes=0)
    with pytest.raises(ValueError, match="at least one"):
        path_spectrum([], x0)


def test_R2_spectrum_summaries():
    terms = torch.tensor([[[3.0, 4.0]], [[0.0, 0.0]], [[1.0, 0.0]]], dtype=torch.float64)
    spectrum = Spectrum(terms, terms.sum(0))
    assert spectrum.norms_by_length() == [5.0, 0.0, 1.0]
    assert spectrum.energy_fractions() == pytest.approx([25 / 26, 0.0, 1 / 26])
    assert spectrum.mean_length_energy() == pytest.approx(2 / 26)
    # x_n = (4, 4): <y_0, x_n> = 28, <y_2, x_n> = 4, ||x_n||^2 = 32; y_0 and y_2 interfere
    assert spectrum.signed_shares() == pytest.approx([28 / 32, 0.0, 4 / 32])
    assert sum(spectrum.signed_shares()) == pytest.approx(1.0, abs=1e-15)
    assert spectrum.mean_length() == pytest.approx(2 * 4 / 32)
    assert spectrum.cross_term_fraction() == pytest.approx((32 - 26) / 32)
    assert spectrum.max_rel_error() == 0.0
    model = build_tower(0, ModelConfig(depth=3, width=4, lam=0.25), in_dim=4, out_dim=2)
    assert block_scales(model.blocks) == [0.25] * 3


def test_R2_tiny_terms_are_flushed_and_the_split_stays_exact():
    """High-order terms far below the output are set to zero, never left subnormal."""
    model = build_tower(4, ModelConfig(depth=12, width=6, lam=1e-30), in_dim=6, out_dim=2)
    x0 = stream(model, 4)
    spectrum = path_spectrum(model.blocks, x0)
    tiny = torch.finfo(torch.float64).tiny
    assert not ((spectrum.terms != 0) & (spectrum.terms.abs() < tiny)).any()
    assert (spectrum.terms[12] == 0).all() and (spectrum.terms[1] != 0).any()  # 1e-360: flushed
    assert spectrum.terms.abs()[spectrum.terms != 0].min() >= FLUSH_BELOW
    assert spectrum.max_rel_error() <= EXACT_TOL and spectrum.warning is None


def test_R2_warning_names_the_error_and_the_condition_number():
    terms = torch.tensor([[[1.0, 0.0]], [[-1.0, 1e-12]]], dtype=torch.float64)
    exact = Spectrum(terms, terms.sum(0))
    assert exact.warning is None and exact.condition() == pytest.approx(2e12)
    off = Spectrum(terms, terms.sum(0) * (1 + 1e-6))
    assert "exceeds the float64 exact tolerance" in off.warning
    assert "2e+12" in off.warning and "cancel" in off.warning


def test_R2_warning_names_non_finite_weights_and_a_coarse_dtype():
    """Issue 21: a NaN term is not 'cancellation'; nor is float32 rounding."""
    terms = torch.tensor([[[1.0, 0.0]], [[float("nan"), 1.0]]], dtype=torch.float64)
    assert "non-finite" in Spectrum(terms, torch.tensor([[1.0, 1.0]],
                                                        dtype=torch.float64)).warning
    terms32 = torch.tensor([[[1.0, 0.0]], [[-1.0, 1e-3]]], dtype=torch.float32)
    warning = Spectrum(terms32, terms32.sum(0) * (1 + 1e-6)).warning
    assert "torch.float32" in warning and "cancel" not in warning


@pytest.mark.gpu
@given(towers(max_depth=10, piecewise_linear=True))
def test_R2_cuda_spectrum_matches_cpu(draw):
    seed, cfg = draw
    model = build_tower(seed, cfg, in_dim=5, out_dim=2)
    x0 = stream(model, seed)
    cpu = path_spectrum(model.blocks, x0)
    gpu = path_spectrum(model.to("cuda").blocks, x0.to("cuda"))
    assert gpu.max_rel_error() <= EXACT_TOL
    assert torch.allclose(gpu.terms.cpu(), cpu.terms, rtol=1e-10, atol=1e-10)
