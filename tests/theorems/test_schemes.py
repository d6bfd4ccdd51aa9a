"""S5 (theorems/schemes.py): each scheme's effective lam at initialisation and its S4 regime."""

import math
import re

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from numerics.models.config import SCALINGS, ModelConfig, deepnorm_alpha, deepnorm_beta, fixup_gain
from theorems import schemes

EXPECTED_BETA = {"none": 0, "inv": 1, "inv-sqrt": sp.Rational(1, 2), "skipinit": sp.oo,
                 "rezero": sp.oo, "fixup": sp.oo, "deepnorm": sp.Rational(3, 4),
                 "depth-mup": sp.Rational(1, 2)}


def test_S5_every_scheme_has_a_source_with_a_year_and_a_model_option():
    assert {s.name for s in schemes.SCHEMES} == set(EXPECTED_BETA)
    for s in schemes.SCHEMES:
        assert re.search(r"(19|20)\d\d", s.source), s.name
        assert s.model_scaling in SCALINGS, s.name


@pytest.mark.parametrize("name", sorted(EXPECTED_BETA))
def test_S5_beta_and_regime(name):
    """S5: beta = -lim log lam_eff / log L, and the S4 regime / S1 boundedness it implies."""
    s = schemes.scheme(name)
    beta = EXPECTED_BETA[name]
    assert s.beta == beta
    regime = "explodes" if beta < sp.Rational(1, 2) else (
        "critical" if beta == sp.Rational(1, 2) else "collapses")
    assert s.regime == regime
    assert s.s1_bounded == bool(beta >= 1)


@given(depth=st.integers(min_value=2, max_value=4096), a=st.sampled_from([0.5, 1.0, 2.0]))
def test_S5_lam_schemes_match_model_config(depth, a):
    """S5 against numerics: lam_eff equals ModelConfig.block_lam for the pure-lam schemes."""
    for name in ("none", "inv", "inv-sqrt", "depth-mup"):
        s = schemes.scheme(name)
        lam = ModelConfig(depth=depth, scaling=s.model_scaling, lam=a).block_lam()
        assert schemes.effective_lam(name, depth, a) == pytest.approx(lam, rel=1e-14)


@given(depth=st.integers(min_value=2, max_value=4096))
def test_S5_deepnorm_relative_branch_scale(depth):
    """S5: DeepNorm's lam_eff = gain^2 / alpha, second route through numerics.models.config's constants."""
    expected = deepnorm_beta(depth) ** 2 / deepnorm_alpha(depth)
    assert schemes.effective_lam("deepnorm", depth) == pytest.approx(expected, rel=1e-13)
    assert schemes.effective_lam("deepnorm", depth) == pytest.approx(depth ** -0.75 / 2, rel=1e-13)


@pytest.mark.parametrize("m", [2, 3, 4, 6])
def test_S5_fixup_trained_scale_is_inverse_sqrt(m):
    """S5: Fixup's m - 1 inner layers times L^(-1/(2m-2)) each give L^(-1/2) once trained."""
    assert schemes.fixup_trained_scale(m) == 1 / sp.sqrt(schemes.L)
    assert fixup_gain(64, m) ** (m - 1) == pytest.approx(64 ** -0.5, rel=1e-14)
    assert schemes.fixup_trained_scale() == 1 / sp.sqrt(schemes.L)


@pytest.mark.parametrize("name", ["skipinit", "rezero", "fixup"])
def test_S5_zero_initialised_schemes_start_at_the_identity(name):
    assert schemes.effective_lam(name, 100) == 0.0
    assert schemes.scheme(name).beta is sp.oo


def test_S5_bad_inputs():
    with pytest.raises(ValueError, match="scheme"):
        schemes.scheme("batchnorm")
    with pytest.raises(ValueError, match="depth"):
        schemes.effective_lam("none", 0)
    assert math.isfinite(schemes.effective_lam("inv", 10**6))


@pytest.mark.parametrize("depth", [1, 4, 64, 1000])
def test_S5_depth_mup_learning_rate_rule_matches_numerics(depth):
    """Yang et al. 2023: block lr eta (SGD), eta L^(-1/2) (Adam); numerics applies the same."""
    from numerics.models.config import mup_lr_scale

    s = schemes.scheme("depth-mup")
    assert float(s.lr_sgd.subs(schemes.L, depth)) == mup_lr_scale(depth, "sgd") == 1.0
    assert float(s.lr_adam.subs(schemes.L, depth)) == pytest.approx(mup_lr_scale(depth, "adamw"),
                                                                    rel=1e-15)
    assert all(o.lr_sgd is None and o.lr_adam is None for o in schemes.SCHEMES if o is not s)
