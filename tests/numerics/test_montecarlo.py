"""S2, S3: batched Monte Carlo at initialisation against theorems.signal's predictions."""

import math

import pytest
import torch

from numerics import montecarlo
from numerics.montecarlo import (
    gaussian_weights,
    linear_path_energies,
    mean_and_se,
    relu_path_energies,
    signal_second_moments,
)
from theorems.signal import s2_energy_by_length, s2_ratio, s3_prenorm_second_moment

Z_MAX = 5.0  # fixed seeds; a correct formula gives |z| < 5 except with probability ~6e-7
SE_FRACTION = 0.05  # the standard error must resolve the prediction to 5%
N_NETS = 4000


def z_score(samples, prediction):
    mean, se = mean_and_se(samples)
    assert se < SE_FRACTION * prediction
    return (mean - prediction) / se


@pytest.mark.parametrize("depth,width,hidden,lam", [(8, 16, 16, 0.5), (4, 3, 7, 1.0),
                                                    (16, 8, 32, 0.3)])
def test_S2_signal_and_jacobian_grow_like_one_plus_lam2_sigma2_power_n(depth, width, hidden,
                                                                        lam):
    out = signal_second_moments(depth, width, hidden, lam, N_NETS,
                                generator=torch.Generator().manual_seed(depth * 100 + width))
    prediction = s2_ratio(depth, lam, 1.0)
    assert abs(z_score(out["ratio"], prediction)) < Z_MAX
    assert abs(z_score(out["jac_ratio"], prediction)) < Z_MAX
    assert out["layer_sq"].shape == (depth + 1, N_NETS)
    assert torch.allclose(out["layer_sq"][0], torch.full((N_NETS,), float(width),
                                                         dtype=torch.float64))


@pytest.mark.parametrize("width,lam", [(16, 0.5), (6, 1.0)])
def test_S3_prenorm_growth_is_linear_in_depth(width, lam):
    depth = 10
    out = signal_second_moments(depth, width, width, lam, N_NETS, norm="pre",
                                generator=torch.Generator().manual_seed(width))
    for i in range(1, depth + 1):
        prediction = s3_prenorm_second_moment(i, lam, 1.0, width, out["x0_sq"])
        assert abs(z_score(out["layer_sq"][i], prediction)) < Z_MAX


def test_S3_postnorm_norm_is_d_and_identity_share_decays():
    out = signal_second_moments(10, 8, 8, 0.7, 1000, norm="post",
                                generator=torch.Generator().manual_seed(3))
    assert (out["layer_sq"][1:] / 8 - 1).abs().max() < 1e-4  # ||LN(z)||^2 = d var/(var + eps)
    share = out["identity_share"].mean(1)
    assert share[0] == 1.0
    assert all(a > b for a, b in zip(share.tolist(), share[1:].tolist()))


def test_S2_linear_branches_have_binomial_energies_by_length():
    depth, lam = 6, 0.7
    out = linear_path_energies(depth, 8, lam, N_NETS, generator=torch.Generator().manual_seed(9))
    assert out["sum_error"] < 1e-12
    law = s2_energy_by_length(depth, lam, 1.0)
    for k in range(1, depth + 1):
        assert abs(z_score(out["energy"][:, k], law[k])) < Z_MAX


def test_S2_relu_energies_by_length_are_near_binomial_and_sum_exactly():
    depth, lam = 5, 0.7
    law = s2_energy_by_length(depth, lam, 1.0)
    out = relu_path_energies(depth, 32, 32, lam, 1000, generator=torch.Generator().manual_seed(4))
    assert out["sum_error"] < 1e-12  # the R2 split of each network is exact
    assert out["energy"].shape == (1000, depth + 1)
    shares = [m / sum(out["mean"]) for m in out["mean"]]
    total_variation = 0.5 * sum(abs(q - b / sum(law)) for q, b in zip(shares, law))
    assert total_variation < 0.05  # approximate law only: measured, generous on purpose


def test_S2_relu_energies_in_chunks_are_one_generator_stream(monkeypatch):
    """Chunking bounds memory only: chunk after chunk continues the same generator stream."""
    monkeypatch.setattr(montecarlo, "CHUNK_ELEMENTS", 4 * 4 * 30)  # 30 networks per chunk
    g = torch.Generator().manual_seed(11)
    whole = relu_path_energies(3, 4, 4, 0.7, 91, generator=g)  # chunks 30, 30, 30, 1
    assert whole["energy"].shape == (91, 4)
    assert (whole["mean"], whole["se"]) == mean_and_se(whole["energy"])
    g = torch.Generator().manual_seed(11)
    parts = [relu_path_energies(3, 4, 4, 0.7, 30, generator=g) for _ in range(3)]
    assert torch.equal(whole["energy"][:90], torch.cat([p["energy"] for p in parts]))
    assert whole["sum_error"] < 1e-12


def test_montecarlo_validates_arguments():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="depth"):
        signal_second_moments(0, 4, 4, 0.5, 10, generator=g)
    with pytest.raises(ValueError, match="n_nets"):
        signal_second_moments(2, 4, 4, 0.5, 1, generator=g)
    with pytest.raises(ValueError, match="lam"):
        signal_second_moments(2, 4, 4, math.nan, 10, generator=g)
    with pytest.raises(ValueError, match="norm"):
        signal_second_moments(2, 4, 4, 0.5, 10, norm="batch", generator=g)
    with pytest.raises(ValueError, match="width >= 2"):
        signal_second_moments(2, 1, 4, 0.5, 10, norm="pre", generator=g)
    with pytest.raises(ValueError, match="sigma2"):
        linear_path_energies(2, 4, 0.5, 10, sigma2=-1.0, generator=g)


def test_montecarlo_is_reproducible_from_the_generator():
    a = signal_second_moments(3, 4, 4, 0.5, 50, generator=torch.Generator().manual_seed(5))
    b = signal_second_moments(3, 4, 4, 0.5, 50, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a["ratio"], b["ratio"])


@pytest.mark.gpu
def test_S2_cuda_monte_carlo_agrees_with_prediction():
    g = torch.Generator(device="cuda").manual_seed(0)
    out = signal_second_moments(8, 16, 16, 0.5, 20000, generator=g, device="cuda")
    assert abs(z_score(out["ratio"].cpu(), s2_ratio(8, 0.5, 1.0))) < Z_MAX


def test_gaussian_weights_have_normal_moments():
    """float32 draws widened to float64: mean 0, E z^2 = 1, E z^4 = 3 within 5 standard errors
    over 4M draws, and ``std`` scales the same draws exactly."""
    z = gaussian_weights((4_000_000,), 1.0, generator=torch.Generator().manual_seed(7))
    assert z.dtype == torch.float64
    n = z.numel()
    for sample, expected in ((z, 0.0), (z.pow(2), 1.0), (z.pow(4), 3.0)):
        se = sample.std().item() / math.sqrt(n)
        assert abs(sample.mean().item() - expected) < 5 * se
    unit = gaussian_weights((1000,), 1.0, generator=torch.Generator().manual_seed(7))
    scaled = gaussian_weights((1000,), 0.25, generator=torch.Generator().manual_seed(7))
    assert torch.equal(scaled, unit * 0.25)
