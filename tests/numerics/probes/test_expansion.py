"""D1 and D2 on real post-LN MLPs (float64): LN idempotence, function preservation, G, rho(t)."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from numerics.models.config import ModelConfig
from numerics.models.networks import build_model
from numerics.probes.expansion import (
    LN_EPS,
    block_gradient,
    block_inputs,
    directional_fd,
    first_order_deviation,
    first_order_ratio_fit,
    insert_block,
    line_search,
    make_loss,
    risk_at,
    risk_from_inputs,
    v_name,
)

CURVATURE = 100.0  # allowance for the O((c-1)^2) remainder of D1's first-order prediction
ROUNDING = 64 * 2.0**-52


def post_ln(seed: int, depth: int, width: int, in_dim: int = 5, out_dim: int = 2):
    cfg = ModelConfig(arch="mlp", depth=depth, width=width, norm="post", bias=False)
    gen = torch.Generator().manual_seed(seed)
    return build_model(cfg, in_dim, out_dim, generator=gen).double().eval()


def d1_residual_and_tol(old, expanded, position, x):
    """|expanded - old - (c-1) J h_j| and its tolerance CURVATURE (c-1)^2 |J h_j| + rounding."""
    dev = first_order_deviation(old, expanded, position, x)
    c1 = dev["c_minus_1"].abs()
    jh = (dev["predicted"].norm(dim=1) / c1.clamp_min(1e-300)).max()
    residual = (dev["measured"] - dev["predicted"]).norm(dim=1).max()
    with torch.no_grad():
        scale = 1 + old(x).abs().max()
    return float(residual), float(CURVATURE * c1.max() ** 2 * jh + ROUNDING * scale)


@given(seed=st.integers(0, 2**31 - 1), d=st.integers(2, 32),
       scale=st.floats(min_value=1e-2, max_value=1e2, allow_nan=False))
def test_D1_ln_of_ln_is_c_times_ln(seed, d, scale):
    """LN(LN(z)) = c LN(z), c = (v/(v+eps) + eps)^(-1/2), v = var z (exact in float64), and
    |c - 1| <= |x| / (2 (1 - |x|)) with x = eps (v + eps - 1)/(v + eps)."""
    z = scale * torch.randn(7, d, generator=torch.Generator().manual_seed(seed),
                            dtype=torch.float64)
    v = z.var(dim=1, unbiased=False, keepdim=True)
    once = F.layer_norm(z, (d,), eps=LN_EPS)
    twice = F.layer_norm(once, (d,), eps=LN_EPS)
    c = (v / (v + LN_EPS) + LN_EPS) ** -0.5
    assert torch.allclose(twice, c * once, rtol=1e-12, atol=1e-12)
    x = LN_EPS * (v + LN_EPS - 1) / (v + LN_EPS)  # s + eps - 1, so c = (1 + x)^(-1/2)
    assert ((c - 1).abs() <= x.abs() / (2 * (1 - x.abs())) * (1 + 1e-9) + 1e-15).all()


@given(seed=st.integers(0, 2**31 - 1), depth=st.integers(1, 3), width=st.integers(2, 12),
       data=st.data())
def test_D1_expansion_preserves_function_to_first_order_in_eps(seed, depth, width, data):
    position = data.draw(st.integers(0, depth))
    old = post_ln(seed, depth, width)
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    expanded = insert_block(old, position, generator=torch.Generator().manual_seed(seed + 2))
    residual, tol = d1_residual_and_tol(old, expanded, position, x)
    assert residual <= tol
    assert len(expanded.blocks) == depth + 1 and expanded.config.depth == depth + 1


def test_D1_check_fails_when_v_is_not_zero():
    """The D1 criterion can fail: a random nonzero V breaks function preservation far beyond tol
    (a constant V would not: LN removes the all-ones direction it writes)."""
    old = post_ln(3, 2, 8)
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    expanded = insert_block(old, 1, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        v = dict(expanded.named_parameters())[v_name(1)]
        v.copy_(1e-3 * torch.randn(v.shape, generator=torch.Generator().manual_seed(6)))
    residual, tol = d1_residual_and_tol(old, expanded, 1, x)
    assert residual > 100 * tol


@pytest.fixture(scope="module")
def expanded_regression():
    old = post_ln(7, 2, 8, in_dim=5, out_dim=1)
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(64, 5, generator=gen, dtype=torch.float64)
    y = torch.sin(x[:, :1]) + 0.1 * torch.randn(64, 1, generator=gen, dtype=torch.float64)
    model = insert_block(old, 1, generator=gen)
    return model, x, y, make_loss("regression")


def test_D2_gradient_autograd_equals_central_differences(expanded_regression):
    model, x, y, loss = expanded_regression
    g = block_gradient(model, 1, x, y, loss)
    dirs = torch.randn((3, *g.shape), generator=torch.Generator().manual_seed(9),
                       dtype=torch.float64)
    fd = directional_fd(model, 1, x, y, loss, dirs, 1e-5)
    exact = (dirs * g).flatten(1).sum(dim=1)
    assert torch.allclose(fd, exact, rtol=1e-6, atol=1e-9)
    assert g.norm() > 0


def test_D2_ratio_tends_to_one_linearly_in_t(expanded_regression):
    model, x, y, loss = expanded_regression
    g = block_gradient(model, 1, x, y, loss)
    steps = [10.0**k for k in (-4, -3.5, -3, -2.5, -2)]
    risks = line_search(model, 1, -g / g.norm(), [0.0] + steps, [("train", x, y, loss)])["train"]
    fit = first_order_ratio_fit(risks[0], risks[1:], steps, float(g.norm()))
    assert abs(fit["slope"] - 1) < 0.25
    assert abs(fit["ratios"][0] - 1) < 1e-2
    assert risks[1] < risks[0]


@pytest.mark.parametrize("kwargs", [{"position": -1}, {"position": 3}, {"position": 1.5}])
def test_insert_block_rejects_bad_position(kwargs):
    with pytest.raises(ValueError, match="position"):
        insert_block(post_ln(0, 2, 4), generator=torch.Generator(), **kwargs)


def test_insert_block_rejects_pre_ln_model():
    model = build_model(ModelConfig(depth=2, width=4, norm="pre"), 3, 1)
    with pytest.raises(ValueError, match="post-LN"):
        insert_block(model, 0, generator=torch.Generator())


@given(seed=st.integers(0, 2**31 - 1), bias=st.booleans(), data=st.data())
def test_D2_risk_from_the_block_inputs_equals_the_full_forward(seed, bias, data):
    """R(V) from the cached (h_j, a) is the same number as the full forward pass."""
    position = data.draw(st.integers(0, 2))
    cfg = ModelConfig(arch="mlp", depth=2, width=6, norm="post", bias=bias)
    gen = torch.Generator().manual_seed(seed)
    model = insert_block(build_model(cfg, 4, 2, generator=gen).double(), position, generator=gen)
    x = torch.randn(20, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(20, 2, generator=gen, dtype=torch.float64)
    v = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    loss = make_loss("regression")
    full = risk_at(model, position, v, x, y, loss)
    cached = risk_from_inputs(model, position, v, *block_inputs(model, position, x), y, loss)
    assert torch.allclose(full, cached, rtol=1e-14, atol=1e-15)
