"""D2's observability test on real post-LN MLPs: exact statistics, size at G_pop = 0, power on a
planted gradient where theorems/joint_scaling.py says, misalignment at zero signal."""

import math

import pytest
import torch

from numerics.models.config import ModelConfig
from numerics.models.networks import build_model
from numerics.probes.expansion import gradient_noise, insert_block, make_loss, per_example_gradients
from numerics.probes.guarantee_coverage import clopper_pearson
from numerics.probes.observability import (
    directional_test,
    gradient_moments,
    misalignment_runs,
    population_decrease,
    split_test_runs,
)
from numerics.probes.planted_teacher import PlantedTeacher
from theorems.joint_scaling import detection_power, samples_to_detect

LOSS = make_loss("regression")
ALPHA = 0.05


def old_model(seed=0, depth=2, width=8):
    cfg = ModelConfig(arch="mlp", depth=depth, width=width, norm="post", bias=False)
    return build_model(cfg, 16, 1, generator=torch.Generator().manual_seed(seed)).double().eval()


@pytest.fixture(scope="module")
def setup():
    old = old_model()
    probe = insert_block(old, 2, generator=torch.Generator().manual_seed(1))
    return old, probe


def test_D2_directional_test_exact_values():
    """u = -mean(train)/||mean||; z = mean(d)/(sd(d)/sqrt(m)) with the m - 1 standard deviation."""
    train = torch.tensor([[2.0, 0.0], [4.0, 0.0]], dtype=torch.float64)
    held = torch.tensor([[-1.0, 5.0], [-2.0, 0.0], [-3.0, 1.0]], dtype=torch.float64)
    out = directional_test(train, held, 0.05)
    assert out["u"].tolist() == [-1.0, 0.0]
    d = [1.0, 2.0, 3.0]
    assert out["mean"] == 2.0 and out["se"] == pytest.approx(1.0 / math.sqrt(3), rel=1e-15)
    assert out["z"] == pytest.approx(2.0 * math.sqrt(3), rel=1e-15) and not out["observed"]
    flipped = directional_test(-train, held, 0.05)
    assert flipped["z"] == pytest.approx(-2.0 * math.sqrt(3)) and flipped["observed"]
    assert sum(d) == 6.0


def test_D2_gradient_moments_exact_values():
    gen = torch.Generator().manual_seed(3)
    for n, p in ((50, 4), (6, 9)):  # the p x p and the n x n routes
        g = torch.randn(n, p, generator=gen, dtype=torch.float64) + 0.5
        mean = g.mean(0)
        sigma = (g - mean).T @ (g - mean) / n
        mom = gradient_moments(g)
        assert mom["tr_sigma"] == pytest.approx(float(sigma.trace()), rel=1e-12)
        assert mom["tr_sigma2"] == pytest.approx(float((sigma @ sigma).trace()), rel=1e-12)
        assert mom["mu_sigma_mu"] == pytest.approx(float(mean @ sigma @ mean), rel=1e-12)
        assert mom["mu2"] == pytest.approx(float(mean @ mean - sigma.trace() / n), rel=1e-12)
        assert mom["d_eff"] == pytest.approx(float(sigma.trace() ** 2 / (sigma @ sigma).trace()))


def test_D2_gradient_noise_exact_value(setup):
    """The diagnostic SNR's noise is sqrt(tr Cov(g_i)/m) with the m - 1 covariance."""
    _, probe = setup
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(20, 16, generator=gen, dtype=torch.float64)
    y = torch.randn(20, 1, generator=gen, dtype=torch.float64)
    per = torch.stack([torch.autograd.grad(
        LOSS(probe(x[i:i + 1]), y[i:i + 1]).mean(), probe.blocks[2].branch[2].weight)[0].flatten()
        for i in range(20)])
    cov_trace = float(((per - per.mean(0)) ** 2).sum()) / 19
    out = gradient_noise(probe, 2, x, y, LOSS)
    assert out["noise"] == pytest.approx(math.sqrt(cov_trace / 20), rel=1e-10)
    assert out["grad_norm"] == pytest.approx(float(per.mean(0).norm()), rel=1e-10)
    assert torch.allclose(per_example_gradients(probe, 2, x, y, LOSS), per, rtol=1e-10)


def _binomial_z(k, n, p):
    return (k / n - p) / math.sqrt(p * (1 - p) / n)


def test_D2_split_test_size_at_the_teacher(setup):
    """At G_pop = 0 (the planted teacher at scale 0 is the old model) the test rejects at alpha:
    a standard error off by a factor 3 would reject about 29% of the time."""
    old, probe = setup
    teacher = PlantedTeacher(old, 2, 0.0, noise_std=0.1, generator=torch.Generator().manual_seed(5))
    runs = split_test_runs(probe, 2, teacher.sample, LOSS, m=32, reps=600, alpha=ALPHA,
                           generator=torch.Generator().manual_seed(6))
    assert abs(_binomial_z(runs["rejections"], 600, ALPHA)) < 3.3
    assert abs(sum(runs["z"]) / 600) < 5 / math.sqrt(600)


def test_D2_split_test_power_where_theory_says(setup):
    """On a planted gradient the detection rate crosses 1/2 within a factor 2 of the m_50 of
    theorems/joint_scaling.py, and follows its power curve at m_50/4 and 4 m_50."""
    old, probe = setup
    gen = torch.Generator().manual_seed(7)
    teacher = PlantedTeacher(old, 2, 0.2, noise_std=0.1, generator=torch.Generator().manual_seed(8))
    x, y = teacher.sample(20000, gen)
    mom = gradient_moments(per_example_gradients(probe, 2, x, y, LOSS))
    keys = {k: mom[k] for k in ("mu2", "mu_sigma_mu", "tr_sigma2")}
    m50 = samples_to_detect(**keys, alpha=ALPHA)
    assert 8 < m50 < 400
    reps = 200
    rates = {}
    for m in (max(4, round(m50 / 4)), round(m50 / 2), round(2 * m50), round(4 * m50)):
        runs = split_test_runs(probe, 2, teacher.sample, LOSS, m=m, reps=reps, alpha=ALPHA,
                               generator=gen)
        rates[m] = runs["rejections"] / reps
    low, half, double, high = rates.values()
    assert half < 0.5 < double
    for m, rate in rates.items():
        lo, hi = clopper_pearson(round(rate * reps), reps, 0.01)
        predicted = detection_power(m, **keys, alpha=ALPHA)
        assert lo - 0.2 <= predicted <= hi + 0.2
    assert low < high


def test_D2_misalignment_is_a_coin_flip_without_signal(setup):
    old, probe = setup
    teacher = PlantedTeacher(old, 2, 0.0, noise_std=0.1, generator=torch.Generator().manual_seed(9))
    runs = misalignment_runs(probe, 2, teacher.sample, LOSS, m=16, reps=400,
                             generator=torch.Generator().manual_seed(10))
    assert abs(_binomial_z(runs["misaligned"], 400, 0.5)) < 3.3


def test_D2_population_decrease_is_first_order_along_a_planted_direction(setup):
    old, probe = setup
    teacher = PlantedTeacher(old, 2, 1.0, noise_std=0.1, generator=torch.Generator().manual_seed(11))
    gen = torch.Generator().manual_seed(12)
    x, y = teacher.sample(4000, gen)
    g = per_example_gradients(probe, 2, x, y, LOSS).mean(0).reshape(8, 8)
    out = population_decrease(probe, 2, -g / g.norm(), 1e-3, teacher.sample, LOSS, n=20000,
                              generator=gen)
    assert out["z"] > 10
    assert out["mean"] == pytest.approx(1e-3 * float(g.norm()), rel=0.1)


@pytest.mark.parametrize("call", [
    lambda: directional_test(torch.zeros(3, 2), torch.ones(3, 2)),
    lambda: directional_test(torch.ones(3, 2), torch.ones(1, 2)),
    lambda: gradient_moments(torch.ones(1, 3)),
    lambda: directional_test(torch.ones(3, 2), torch.ones(3, 2), alpha=1.5),
])
def test_bad_input_is_rejected(call):
    with pytest.raises(ValueError):
        call()
