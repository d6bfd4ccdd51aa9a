"""D2's observability test and D5's prediction in theorems/joint_scaling.py: the expected z of
the split test, its detection sample size (SymPy's root), misalignment and d_eff."""

import math

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from theorems.joint_scaling import (
    DETECTION_SAMPLE_SIZE,
    EXPECTED_Z,
    MISALIGNMENT_Z,
    alignment_dimension,
    critical_z,
    detection_power,
    expected_split_z,
    misalignment_probability,
    samples_to_detect,
)

positive = st.floats(1e-4, 1e2, allow_nan=False, allow_infinity=False)


def test_D2_expected_z_exact_value():
    """E z = -sqrt(m) |mu|^2 / sqrt(mu' S mu + tr(S^2)/m), exactly."""
    assert expected_split_z(100, mu2=0.01, mu_sigma_mu=0.001, tr_sigma2=0.01) == pytest.approx(
        -10 * 0.01 / math.sqrt(0.001 + 0.0001), rel=1e-15)
    assert critical_z(0.05) == pytest.approx(1.6448536269514722, rel=1e-12)
    assert expected_split_z(50, mu2=0.0, mu_sigma_mu=0.0, tr_sigma2=1.0) == 0.0


@given(mu2=positive, msm=positive, trs2=positive, alpha=st.floats(0.001, 0.4))
def test_D2_detection_sample_size_reaches_the_critical_z(mu2, msm, trs2, alpha):
    m = samples_to_detect(mu2=mu2, mu_sigma_mu=msm, tr_sigma2=trs2, alpha=alpha)
    z = expected_split_z(m, mu2=mu2, mu_sigma_mu=msm, tr_sigma2=trs2)
    assert z == pytest.approx(-critical_z(alpha), rel=1e-9)
    assert detection_power(m, mu2=mu2, mu_sigma_mu=msm, tr_sigma2=trs2,
                           alpha=alpha) == pytest.approx(0.5, abs=1e-9)


def test_D2_detection_sample_size_is_the_positive_root():
    m, mu2, msm, trs2, za = sp.symbols("m mu2 mu_Sigma_mu tr_Sigma2 z_alpha", positive=True)
    residual = mu2**2 * DETECTION_SAMPLE_SIZE**2 - za**2 * msm * DETECTION_SAMPLE_SIZE - za**2 * trs2
    assert sp.simplify(residual) == 0
    at_root = EXPECTED_Z.subs(m, DETECTION_SAMPLE_SIZE) + za  # nested radicals: check at points
    for values in ((1, 2, 3, 4), (sp.Rational(1, 7), 5, sp.Rational(2, 3), 2)):
        point = dict(zip((mu2, msm, trs2, za), values, strict=True))
        assert abs(sp.N(at_root.subs(point), 50)) < 1e-40


@given(mu2=positive, msm=positive, trs2=positive)
def test_D2_misalignment_falls_with_m_and_with_the_alignment_dimension(mu2, msm, trs2):
    kw = {"mu2": mu2, "mu_sigma_mu": msm}
    small = misalignment_probability(10, tr_sigma2=trs2, **kw)
    assert misalignment_probability(40, tr_sigma2=trs2, **kw) <= small <= 0.5
    # tr(S^2) = (tr S)^2 / d_eff: a larger d_eff at the same tr S lowers misalignment
    assert misalignment_probability(10, tr_sigma2=trs2 / 4, **kw) <= small


def test_D2_misalignment_exact_value_and_coin_flip():
    assert misalignment_probability(16, mu2=0.01, mu_sigma_mu=0.002, tr_sigma2=0.05) == \
        pytest.approx(0.5 * math.erfc(16 * 0.01 / math.sqrt(2 * 16 * 0.002 + 0.05) / math.sqrt(2)),
                      rel=1e-12)
    assert misalignment_probability(16, mu2=0.0, mu_sigma_mu=0.0, tr_sigma2=1.0) == 0.5
    m, mu2, msm, trs2 = sp.symbols("m mu2 mu_Sigma_mu tr_Sigma2", positive=True)
    assert sp.simplify(MISALIGNMENT_Z + m * mu2 / sp.sqrt(2 * m * msm + trs2)) == 0
    assert alignment_dimension(4.0, 2.0) == 8.0


@pytest.mark.parametrize("call", [
    lambda: samples_to_detect(mu2=0.0, mu_sigma_mu=1, tr_sigma2=1, alpha=0.05),
    lambda: expected_split_z(-1, mu2=1, mu_sigma_mu=1, tr_sigma2=1),
    lambda: critical_z(1.0),
    lambda: alignment_dimension(1.0, 0.0),
    lambda: misalignment_probability(4, mu2=float("nan"), mu_sigma_mu=1, tr_sigma2=1),
])
def test_D2_bad_input_is_rejected(call):
    with pytest.raises(ValueError):
        call()
