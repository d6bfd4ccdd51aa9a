"""numerics.probes.joint_scaling's statistics over independently trained models (issue 21): the
t-test written as a z (D2's width law, the lesion rows) and the split test's power per point
(D5)."""

import math

import pytest
from scipy.stats import norm
from scipy.stats import t as student_t

from numerics.probes.joint_scaling import split_test_power, t_interval, t_z


def test_t_z_exact_values():
    values = [0.1, 0.3, 0.2, 0.25, 0.15]
    out = t_z(values)
    mean = 0.2
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 4)
    assert out["mean"] == pytest.approx(mean, rel=1e-15)
    assert out["se"] == pytest.approx(sd / math.sqrt(5), rel=1e-12)
    assert out["t"] == pytest.approx(mean / (sd / math.sqrt(5)), rel=1e-12) and out["df"] == 4
    # the same one-sided p-value as the t: Phi(z) = F_4(t), and |z| < |t| at 4 df
    assert norm.cdf(out["z"]) == pytest.approx(student_t.cdf(out["t"], 4), rel=1e-12)
    assert 0 < out["z"] < out["t"]
    assert (out["lower"], out["upper"]) == pytest.approx(t_interval(values)[1:], rel=1e-12)


def test_t_z_is_antisymmetric_and_tends_to_t_with_many_models():
    values = [1.0, -0.5, 2.0, 0.7]
    assert t_z([-v for v in values])["z"] == pytest.approx(-t_z(values)["z"], rel=1e-12)
    many = [math.sin(i) + 0.05 for i in range(4000)]
    out = t_z(many)
    assert out["t"] > 3 and out["z"] == pytest.approx(out["t"], rel=1e-2)


def test_t_z_far_tail_does_not_round_to_infinity():
    out = t_z([100.0, 101.0, 102.0, 103.0, 104.0])  # t = 144 on 4 df
    assert math.isfinite(out["z"]) and 5 < out["z"] < 6
    assert t_z([1.0, 1.0, 1.0])["z"] == math.inf and t_z([0.0, 0.0])["z"] == 0.0


def test_t_z_rejects_too_few_or_non_finite_values():
    for bad in ([1.0], [1.0, math.nan]):
        with pytest.raises(ValueError):
            t_z(bad)


def test_split_test_power_exact_values():
    crit = norm.isf(0.05)
    assert split_test_power([0.0, 0.0, 0.0, 0.0])["power"] == pytest.approx(0.05, rel=1e-12)
    zs = [-3.0, -5.0, -4.0, -6.0, -2.0]  # mean -4, sd sqrt(2.5) > 1
    out = split_test_power(zs, 0.05)
    spread = math.sqrt(2.5)
    assert out["z_spread"] == pytest.approx(spread, rel=1e-12)
    assert out["power"] == pytest.approx(norm.cdf((-crit + 4.0) / spread), rel=1e-12)
    lo, hi = out["interval"]
    assert lo < out["power"] < hi
    assert out["stouffer"] == pytest.approx(norm.cdf(-crit + math.sqrt(5) * 4.0), rel=1e-12)
    # the spread never falls below 1 (one model's sampling alone gives sd 1)
    tight = split_test_power([-2.0, -2.1, -1.9], 0.05)
    assert tight["z_spread"] == 1.0
    assert tight["power"] == pytest.approx(norm.cdf(-crit + 2.0), rel=1e-12)


def test_split_test_power_rises_with_the_effect():
    powers = [split_test_power([z, z + 0.5, z - 0.5], 0.05)["power"] for z in (0, -1, -2, -4)]
    assert powers == sorted(powers) and powers[0] < 0.1 < 0.8 < powers[-1]


def test_split_test_power_rejects_bad_input():
    for zs, alpha in (([-1.0], 0.05), ([-1.0, math.inf], 0.05), ([-1.0, -2.0], 1.5)):
        with pytest.raises(ValueError):
            split_test_power(zs, alpha)
