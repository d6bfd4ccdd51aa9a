"""S1 measured (numerics/probes/lipschitz.py): an optimiser tries to beat (1 + lam c)^n and must fail."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.probes import lipschitz


@given(n=st.integers(1, 12), lam=st.floats(0, 2), c=st.floats(0, 2), d=st.integers(1, 6))
def test_S1_identity_tower_attains_the_bound(n, lam, c, d):
    """S1 tightness: J_i = c I gives a Jacobian of norm exactly (1 + lam c)^n (to rounding)."""
    gain = lipschitz.identity_tower_gain(n, lam, c, d)
    assert gain == pytest.approx((1 + lam * c) ** n, rel=lipschitz.rounding_tolerance(n, d))


@settings(max_examples=4)
@given(seed=st.integers(0, 2**31 - 1))
def test_S1_jacobian_matches_autograd(seed):
    """The hand-built product prod (I + lam J_i) equals autograd's Jacobian of the forward."""
    g = torch.Generator().manual_seed(seed)
    b, n, d, h, lam = 3, 4, 5, 6, 0.7
    w = {"W1": torch.randn(b, n, h, d, dtype=torch.float64, generator=g),
         "W2": torch.randn(b, n, d, h, dtype=torch.float64, generator=g),
         "b1": torch.randn(b, n, h, dtype=torch.float64, generator=g)}
    x = torch.randn(b, d, dtype=torch.float64, generator=g)

    def one(xx, w1, w2, b1):
        return lipschitz.tower_forward(xx[None], {"W1": w1[None], "W2": w2[None], "b1": b1[None]},
                                       lam)[0]

    auto = torch.func.vmap(torch.func.jacrev(one))(x, w["W1"], w["W2"], w["b1"])
    torch.testing.assert_close(lipschitz.tower_jacobian(x, w, lam), auto, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("branch", lipschitz.BRANCHES)
def test_S1_falsification_finds_no_violation(branch):
    """S1 (bound): the optimiser over inputs and normalised weights stays at or below the bound,
    and gets close to it (the bound is nearly attained: within 5%)."""
    result = lipschitz.falsify_s1(4, 3, 0.5, 1.5, branch=branch, restarts=8, steps=60,
                                  generator=torch.Generator().manual_seed(0))
    for key in ("jacobian_over_bound", "secant_over_bound"):
        assert result[key] <= 1 + result["tolerance"], result
        assert result[key] > 0.95, result


def test_falsify_rejects_bad_arguments():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="branch"):
        lipschitz.falsify_s1(2, 2, 0.5, 1.0, branch="tanh", generator=g)
    with pytest.raises(ValueError, match="lam"):
        lipschitz.falsify_s1(2, 2, float("nan"), 1.0, generator=g)
    with pytest.raises(ValueError, match="n"):
        lipschitz.falsify_s1(0, 2, 0.5, 1.0, generator=g)
