"""Residual models: block formulas, the embed/blocks/head decomposition, S5 initialisations."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from numerics.models.config import ModelConfig, deepnorm_beta, fixup_gain
from numerics.models.networks import ResidualBlock, SelfAttention, build_model, mlp_branch

IN_DIM = {"mlp": 64, "cnn": 64, "transformer": 13}
REL = 1e-12  # float64 identities: a few dozen roundings of O(1) numbers
# Weights are drawn and rescaled in float32: one rounding of the gain to float32 and one of the
# product, each at most the unit roundoff 2^-24 relative.
SCALED_REL = 2.0**-23


def inputs(arch: str, batch: int, generator: torch.Generator) -> torch.Tensor:
    if arch == "transformer":
        return torch.randint(0, IN_DIM[arch], (batch, 3), generator=generator)
    return torch.randn(batch, IN_DIM[arch], generator=generator, dtype=torch.float64)


def small(arch: str, **kwargs) -> ModelConfig:
    return ModelConfig(arch=arch, depth=3, width=8, heads=2, **kwargs)


def built(cfg: ModelConfig, seed: int = 0) -> nn.Module:
    model = build_model(cfg, IN_DIM[cfg.arch], 5, generator=torch.Generator().manual_seed(seed))
    return model.double()


def layer_norm(z: torch.Tensor, dims: int) -> torch.Tensor:
    """The affine-free LayerNorm written out: (z - mean) / sqrt(var + eps) over the last dims."""
    axes = tuple(range(-dims, 0))
    mean = z.mean(dim=axes, keepdim=True)
    var = ((z - mean) ** 2).mean(dim=axes, keepdim=True)
    return (z - mean) / torch.sqrt(var + 1e-5)


@given(seed=st.integers(0, 2**31 - 1), d=st.integers(2, 12), h=st.integers(1, 12),
       lam=st.floats(0.0, 3.0, allow_nan=False), norm=st.sampled_from(["none", "pre", "post"]))
def test_block_forward_equals_its_formula(seed, d, h, lam, norm):
    """none: x + lam f(x); pre: x + lam f(N(x)); post: N(x + lam f(x)), N = affine-free LN."""
    gen = torch.Generator().manual_seed(seed)
    f = mlp_branch(d, h, "relu", True, generator=gen).double()
    block = ResidualBlock(f, lam, norm).double()
    x = torch.randn(7, d, generator=gen, dtype=torch.float64) * 3
    expected = {"none": lambda: x + lam * f(x), "pre": lambda: x + lam * f(layer_norm(x, 1)),
                "post": lambda: layer_norm(x + lam * f(x), 1)}[norm]()
    torch.testing.assert_close(block(x), expected, rtol=REL, atol=REL)


def test_batch_block_is_prenorm_with_batch_statistics():
    gen = torch.Generator().manual_seed(1)
    f = mlp_branch(6, 4, generator=gen).double()
    block = ResidualBlock(f, 0.7, "batch", features=6).double().train()
    x = torch.randn(32, 6, generator=gen, dtype=torch.float64) + 2
    bn = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(block(x), x + 0.7 * f(bn), rtol=REL, atol=REL)


@pytest.mark.parametrize("arch, norm", [
    (arch, norm) for arch in ("mlp", "cnn", "transformer") for norm in ("none", "pre", "post", "batch")
    if (arch, norm) != ("transformer", "batch")  # ModelConfig rejects it
])
def test_model_is_head_of_blocks_of_embed(arch, norm):
    model = built(small(arch, norm=norm)).train()
    x = inputs(arch, 6, torch.Generator().manual_seed(2))
    h = model.embed(x)
    for block in model.blocks:
        h = block(h)
    torch.testing.assert_close(model(x), model.head(h), rtol=0, atol=0)
    assert all(isinstance(b, ResidualBlock) and b.norm == norm for b in model.blocks)


def test_transformer_has_two_blocks_per_layer_attention_first():
    model = built(small("transformer"))
    assert len(model.blocks) == 6
    assert [type(b.branch).__name__ for b in model.blocks[:2]] == ["SelfAttention", "Sequential"]


@pytest.mark.parametrize("arch", ["mlp", "cnn", "transformer"])
def test_D_post_model_starts_from_a_normalised_stream(arch):
    """For norm='post', h_0 = LN(E x): ||h_0||^2 = d per example (or token) up to LN's eps."""
    model = built(small(arch, norm="post"))
    h0 = model.embed(inputs(arch, 4, torch.Generator().manual_seed(3)))
    d = h0[0].numel() if arch == "cnn" else h0.shape[-1]
    sq = (h0 ** 2).flatten(1).sum(1) if arch == "cnn" else (h0 ** 2).sum(-1)
    assert torch.allclose(sq, torch.full_like(sq, d), rtol=1e-4)
    assert all(torch.allclose((b(h0) ** 2).flatten(1).sum(1) if arch == "cnn"
                              else (b(h0) ** 2).sum(-1), sq, rtol=1e-4) for b in model.blocks)


@pytest.mark.parametrize("arch", ["mlp", "cnn", "transformer"])
@pytest.mark.parametrize("scaling, rule", [
    ("constant", lambda a, n: a), ("inv-sqrt", lambda a, n: a / math.sqrt(n)),
    ("inv", lambda a, n: a / n), ("mup", lambda a, n: a / math.sqrt(n)),
])
def test_S5_block_lam_follows_the_scaling_rule(arch, scaling, rule):
    model = built(small(arch, scaling=scaling, lam=1.7))
    n = len(model.blocks)
    for block in model.blocks:
        assert not isinstance(block.lam, nn.Parameter) and block.lam.ndim == 0
        assert float(block.lam) == pytest.approx(rule(1.7, n), rel=1e-15)


@pytest.mark.parametrize("arch", ["mlp", "cnn", "transformer"])
def test_S5_learnable_lam_starts_at_zero_so_the_tower_is_the_identity(arch):
    """SkipInit/ReZero: each lam is its own trainable scalar, 0 at initialisation."""
    model = built(small(arch, scaling="learnable"))
    lams = [block.lam for block in model.blocks]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad and p.item() == 0 for p in lams)
    assert len({id(p) for p in lams}) == len(lams)
    x0 = model.embed(inputs(arch, 4, torch.Generator().manual_seed(4)))
    torch.testing.assert_close(model.run_blocks(x0), x0, rtol=0, atol=0)


def _branch_layers(block):
    branch = block.branch
    if isinstance(branch, SelfAttention):
        return branch.value_weights(), branch.out.weight
    return branch[0].weight, branch[2].weight


@pytest.mark.parametrize("arch", ["mlp", "cnn", "transformer"])
def test_S5_fixup_zeroes_last_layers_and_scales_first_layers(arch):
    """Fixup: W_last = 0, W_first = L^(-1/(2m-2)) x (standard draw), m = 2, L = n blocks."""
    fixup, plain = built(small(arch, scaling="fixup")), built(small(arch))
    gain = len(fixup.blocks) ** (-1 / (2 * 2 - 2))  # L^(-1/(2m-2)), m = 2 layers per branch
    assert gain == pytest.approx(fixup_gain(len(fixup.blocks)), rel=1e-15)
    for fb, pb in zip(fixup.blocks, plain.blocks):
        (f_first, f_last), (p_first, p_last) = _branch_layers(fb), _branch_layers(pb)
        assert torch.count_nonzero(f_last) == 0 and torch.count_nonzero(p_last) > 0
        torch.testing.assert_close(f_first, gain * p_first, rtol=SCALED_REL, atol=0)
    x0 = fixup.embed(inputs(arch, 4, torch.Generator().manual_seed(5)))
    torch.testing.assert_close(fixup.run_blocks(x0), x0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("arch", ["mlp", "cnn", "transformer"])
def test_S5_deepnorm_sets_alpha_and_beta(arch):
    """DeepNorm: LN(alpha x + G(x)) = LN(x + G(x)/alpha), so lam = 1/alpha; G's weights x beta."""
    deep = built(small(arch, norm="post", scaling="deepnorm"))
    plain = built(small(arch, norm="post"))
    n = len(deep.blocks)
    n_layers = n / 2
    alpha, beta = (2 * n_layers) ** 0.25, (8 * n_layers) ** -0.25
    assert beta == pytest.approx(deepnorm_beta(n), rel=1e-15)
    for db, pb in zip(deep.blocks, plain.blocks):
        assert float(db.lam) == pytest.approx(1 / alpha, rel=1e-15)
        for dw, pw in zip(_branch_layers(db), _branch_layers(pb)):
            torch.testing.assert_close(dw, beta * pw, rtol=SCALED_REL, atol=0)
    # the block computes LN(alpha x + G(x)) up to LN's eps
    x = deep.embed(inputs(arch, 4, torch.Generator().manual_seed(6)))
    block = deep.blocks[-1]
    dims = 3 if arch == "cnn" else 1
    torch.testing.assert_close(block(x), layer_norm(alpha * x + block.branch(x), dims),
                               rtol=1e-5, atol=1e-5)


def test_S2_mlp_branch_has_sigma_squared_one():
    """E||f(x)||^2 = sigma^2 ||x||^2 with sigma^2 = d s2^2 h s1^2 / 2 = 1 (ReLU, no biases).

    Monte Carlo over 400 independent branches at d = h = 16 for a fixed x; pass at |z| < 5.
    """
    gen = torch.Generator().manual_seed(7)
    d = h = 16
    x = torch.randn(d, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        ratios = torch.tensor([
            float((mlp_branch(d, h, bias=False, generator=gen).double()(x) ** 2).sum() / (x ** 2).sum())
            for _ in range(400)])
    se = ratios.std() / math.sqrt(len(ratios))
    z = (ratios.mean() - 1.0) / se
    assert abs(z) < 5 and se < 0.1, (float(ratios.mean()), float(z))


def test_options_reach_the_layers():
    model = built(small("mlp", activation="gelu", bias=False, hidden=11))
    branch = model.blocks[0].branch
    assert isinstance(branch[1], nn.GELU) and branch[0].out_features == 11
    assert all(not name.endswith("bias") for name, _ in model.named_parameters())


def test_same_generator_seed_same_weights_different_seed_different():
    a, b, c = built(small("mlp"), 1), built(small("mlp"), 1), built(small("mlp"), 2)
    for (_, pa), (_, pb), (_, pc) in zip(a.named_parameters(), b.named_parameters(),
                                         c.named_parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.blocks[0].branch[0].weight, c.blocks[0].branch[0].weight)


@pytest.mark.parametrize("call, match", [
    (lambda: build_model(ModelConfig(), 0, 3), "in_dim"),
    (lambda: build_model(ModelConfig(), 4, -1), "out_dim"),
    (lambda: build_model(ModelConfig(arch="cnn"), 50, 10), "perfect square"),
    (lambda: ResidualBlock(nn.Identity(), 1.0, "sideways"), "norm"),
    (lambda: ResidualBlock(nn.Identity(), float("nan"), "none"), "lam"),
    (lambda: ResidualBlock(nn.Identity(), 1.0, "batch"), "features"),
])
def test_impossible_models_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_a_config_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="ModelConfig"):
        build_model({"arch": "mlp"}, 4, 3)
