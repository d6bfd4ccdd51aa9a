"""S2, S3: batched Monte Carlo at initialisation against theorems.signal's and
theorems.block_law's predictions; every z-test also requires the standard error to resolve
the effect |prediction - baseline| and a named wrong value (n - 1 in place of n)."""

import math

import pytest
import torch

from numerics.probes import montecarlo
from numerics.probes.montecarlo import (
    LN_EPS,
    gaussian_weights,
    geometric_rate,
    linear_path_energies,
    mean_and_se,
    median_and_se,
    relu_path_energies,
    signal_second_moments,
)
from theorems.block_law import block_log_moments, postln_factor
from theorems.signal import s2_energy_by_length, s2_ratio, s3_prenorm_second_moment

Z_MAX = 5.0  # fixed seeds; a correct formula gives |z| < 5 except with probability ~6e-7
SEPARATION = 10.0  # each alternative must lie >= 10 SE from the prediction
N_NETS = 4000


def z_score(samples, prediction, *alternatives):
    """(mean - prediction) / SE, after checking that every alternative (the baseline of the
    negation, a wrong exponent) lies >= SEPARATION standard errors from the prediction."""
    mean, se = mean_and_se(samples)
    for alternative in alternatives:
        assert abs(prediction - alternative) >= SEPARATION * se, (prediction, alternative, se)
    return (mean - prediction) / se


@pytest.mark.parametrize("depth,width,hidden,lam", [(8, 16, 16, 0.5), (4, 3, 7, 1.0),
                                                    (12, 16, 32, 0.4)])
def test_S2_signal_and_jacobian_grow_like_one_plus_lam2_sigma2_power_n(depth, width, hidden,
                                                                        lam):
    out = signal_second_moments(depth, width, hidden, lam, N_NETS,
                                generator=torch.Generator().manual_seed(depth * 100 + width))
    prediction = s2_ratio(depth, lam, 1.0)
    wrong = s2_ratio(depth - 1, lam, 1.0)  # n - 1 in place of n must be resolved
    assert abs(z_score(out["ratio"], prediction, 1.0, wrong)) < Z_MAX
    assert abs(z_score(out["jac_ratio"], prediction, 1.0, wrong)) < Z_MAX
    assert out["layer_sq"].shape == (depth + 1, N_NETS)
    assert torch.allclose(out["layer_sq"][0], torch.full((N_NETS,), float(width),
                                                         dtype=torch.float64))


@pytest.mark.parametrize("width,lam", [(16, 0.5), (6, 1.0)])
def test_S3_prenorm_growth_is_linear_in_depth(width, lam):
    depth = 10
    out = signal_second_moments(depth, width, width, lam, N_NETS, norm="pre",
                                generator=torch.Generator().manual_seed(width))
    x0_sq = out["x0_sq"]
    for i in range(1, depth + 1):
        prediction = s3_prenorm_second_moment(i, lam, 1.0, width, x0_sq)
        assert abs(z_score(out["layer_sq"][i], prediction, x0_sq)) < Z_MAX


def test_S3_postnorm_norm_is_d_v_over_v_plus_eps():
    """||x_i||^2 = d v/(v + eps) to rounding, v the variance LayerNorm divides by: 'd exactly'
    is off by d eps/(v + eps), about 1e-5 relative, far above the tolerance."""
    out = signal_second_moments(10, 8, 8, 0.7, 1000, norm="post",
                                generator=torch.Generator().manual_seed(3))
    var = out["post_var"]
    assert out["post_var"].shape == (10, 1000)
    assert (out["layer_sq"][1:] / 8 - var / (var + LN_EPS)).abs().max() < 1e-13
    assert (out["layer_sq"][1:] / 8 - 1).abs().max() > 1e-6


@pytest.mark.parametrize("width,lam", [(16, 0.5), (8, 1.0)])
def test_S3_postnorm_identity_share_has_mean_rho_to_the_i(width, lam):
    """E c_i^2 ||x_0||^2/||x_i||^2 = rho^i, rho = E 1/s^2 (theorems.block_law), at every i; the
    first power of c_i (factor E 1/s) and the heuristic 1/(1 + lam^2) are >= 10 SE away. A
    share computed with the wrong power of c_i fails here."""
    depth = 8
    out = signal_second_moments(depth, width, width, lam, N_NETS, norm="post",
                                generator=torch.Generator().manual_seed(width + 1))
    rho = postln_factor(lam, 1.0, width, width)
    first_power = postln_factor(lam, 1.0, width, width, power=0.5)
    assert out["identity_share"][0].eq(1).all()
    for i in range(1, depth + 1):
        assert abs(z_score(out["identity_share"][i], rho**i, first_power**i,
                           (1 + lam * lam) ** -i)) < Z_MAX
    rate, se = geometric_rate(out["identity_share"])
    assert abs(rate - math.log(rho)) < Z_MAX * se
    assert abs(math.log(first_power) - math.log(rho)) > SEPARATION * se


def test_S2_typical_growth_is_n_g_and_the_median_follows_it():
    """S2 at lam = 1: E log(||x_n||^2/||x_0||^2) = n g exactly (i.i.d. block gains), the mean law
    n log 2 and (n - 1) g >= 10 SE away; the median within 5 SE of n g - kappa3/(6 v)."""
    n, width = 24, 8
    out = signal_second_moments(n, width, width, 1.0, N_NETS,
                                generator=torch.Generator().manual_seed(12))
    law = block_log_moments(1.0, 1.0, width, width)
    log_ratio = (out["layer_sq"][-1] / out["layer_sq"][0]).log()
    assert abs(z_score(log_ratio, n * law["mean"], n * math.log(2),
                       (n - 1) * law["mean"])) < Z_MAX
    per_block = (out["layer_sq"][1:] / out["layer_sq"][:-1]).log().flatten()
    assert per_block.var().item() == pytest.approx(law["var"], rel=0.05)
    median, se = median_and_se(log_ratio)
    assert abs(median - (n * law["mean"] - law["kappa3"] / (6 * law["var"]))) < Z_MAX * se


def test_S2_linear_branches_have_binomial_energies_by_length():
    depth, lam = 6, 0.7
    out = linear_path_energies(depth, 8, lam, N_NETS, generator=torch.Generator().manual_seed(9))
    assert out["sum_error"] < 1e-12
    law = s2_energy_by_length(depth, lam, 1.0)
    wrong = s2_energy_by_length(depth - 1, lam, 1.0) + [0.0]
    for k in range(1, depth + 1):
        assert abs(z_score(out["energy"][:, k], law[k])) < Z_MAX
    assert max(abs(p - w) / s for p, w, s in zip(law[1:], wrong[1:], out["se"][1:])) > SEPARATION


@pytest.mark.parametrize("width", [4, 16])
def test_S2_relu_energies_by_length_are_exactly_binomial_in_expectation(width):
    """ReLU, no biases: E||y_k||^2 = C(n,k) q^k ||x||^2 at every width (the cross terms vanish,
    proofs.md S2), each k resolved against C(n-1, k) q^k."""
    depth, lam = 5, 0.7
    law = s2_energy_by_length(depth, lam, 1.0)
    wrong = s2_energy_by_length(depth - 1, lam, 1.0) + [0.0]
    out = relu_path_energies(depth, width, width, lam, N_NETS,
                             generator=torch.Generator().manual_seed(4))
    assert out["sum_error"] < 1e-12  # the R2 split of each network is exact
    assert out["energy"].shape == (N_NETS, depth + 1)
    assert torch.all(out["energy"][:, 0] == 1)
    for k in range(1, depth + 1):
        mean, se = out["mean"][k], out["se"][k]
        assert abs(mean - law[k]) < Z_MAX * se
    assert max(abs(p - w) / s for p, w, s in zip(law[1:], wrong[1:], out["se"][1:])) > SEPARATION


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


def test_median_and_se_of_a_normal_sample():
    """The order-statistic SE of the median is about sqrt(pi/2) sd / sqrt(N)."""
    x = torch.randn(40_000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    median, se = median_and_se(x)
    assert se == pytest.approx(math.sqrt(math.pi / 2) / math.sqrt(40_000), rel=0.1)
    assert abs(median) < 5 * se
    with pytest.raises(ValueError, match="1-d"):
        median_and_se(torch.zeros(2, 3))


def test_geometric_rate_recovers_a_decay_and_its_se():
    """Shares prod of i.i.d. factors U(0.5, 1): the mean decays like 0.75^i; the slope is
    within 5 SE of log 0.75 and its SE matches the spread over independent repeats."""
    g = torch.Generator().manual_seed(3)
    slopes, ses = [], []
    for _ in range(20):
        factors = 0.5 + 0.5 * torch.rand(6, 2000, generator=g, dtype=torch.float64)
        shares = torch.cat([torch.ones(1, 2000, dtype=torch.float64), factors.cumprod(0)])
        slope, se = geometric_rate(shares)
        slopes.append(slope)
        ses.append(se)
        assert abs(slope - math.log(0.75)) < 5 * se
    spread = torch.tensor(slopes).std().item()
    assert spread == pytest.approx(sum(ses) / len(ses), rel=0.4)
    with pytest.raises(ValueError, match="shape"):
        geometric_rate(torch.ones(1, 5))


def test_montecarlo_is_reproducible_from_the_generator():
    a = signal_second_moments(3, 4, 4, 0.5, 50, generator=torch.Generator().manual_seed(5))
    b = signal_second_moments(3, 4, 4, 0.5, 50, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a["ratio"], b["ratio"])


@pytest.mark.gpu
def test_S2_cuda_monte_carlo_agrees_with_prediction():
    g = torch.Generator(device="cuda").manual_seed(0)
    out = signal_second_moments(8, 16, 16, 0.5, 20000, generator=g, device="cuda")
    assert abs(z_score(out["ratio"].cpu(), s2_ratio(8, 0.5, 1.0), 1.0, s2_ratio(7, 0.5, 1.0))) < Z_MAX


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
