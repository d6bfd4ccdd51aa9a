"""D5's prediction rule (theorems/joint_scaling.py): observability from D2, cost from D4."""

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from theorems.expansion_descent import d2_guaranteed_decrease
from theorems.joint_scaling import (
    predicted_to_help,
    samples_to_observe,
    samples_to_observe_expr,
    snr_at,
)

positive = st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False)


@given(snr0=positive, m0=positive, z=positive)
def test_D5_samples_to_observe_reaches_z_and_matches_sympy(snr0, m0, z):
    m = samples_to_observe(snr0=snr0, m0=m0, z=z)
    assert snr_at(m, snr0=snr0, m0=m0) == pytest.approx(z, rel=1e-12)
    symbolic = samples_to_observe_expr().subs(
        {sp.Symbol("snr0", positive=True): snr0, sp.Symbol("m0", positive=True): m0,
         sp.Symbol("z", positive=True): z})
    assert float(symbolic) == pytest.approx(m, rel=1e-12)


def test_D5_prediction_needs_both_observability_and_a_decrease_above_the_slack():
    assert d2_guaranteed_decrease(0.2, 1.0) == pytest.approx(0.02)
    assert predicted_to_help(grad_norm=0.2, smoothness=1.0, snr=4.0, slack=0.01)
    assert not predicted_to_help(grad_norm=0.2, smoothness=1.0, snr=2.0, slack=0.01)
    assert not predicted_to_help(grad_norm=0.2, smoothness=1.0, snr=4.0, slack=0.03)


def test_D5_bad_input_is_rejected():
    with pytest.raises(ValueError, match="snr0"):
        samples_to_observe(snr0=0.0, m0=10, z=3)
    with pytest.raises(ValueError, match="slack"):
        predicted_to_help(grad_norm=1, smoothness=1, snr=5, slack=float("nan"))
