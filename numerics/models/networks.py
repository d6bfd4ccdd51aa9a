"""Residual networks: an MLP, a small CNN for 8x8 images and a Transformer, all one shape.

Every model built by :func:`build_model` is a :class:`ResidualNetwork` with

.. math::

    x_0 = \\mathrm{embed}(x), \\qquad x_i = B_i(x_{i-1}) \\ (i = 1..n), \\qquad
    \\mathrm{model}(x) = \\mathrm{head}(x_n),

where each B_i is a :class:`ResidualBlock` around a branch f_i with scale lam_i (THEORY.md's
tower; the Transformer's layers contribute two blocks each, attention then MLP). For
``norm == "post"`` the embedding ends with a LayerNorm, h_0 = LN(E x), so the post-LN model is
exactly THEORY's D model h_l = LN(h_{l-1} + g_l(h_{l-1})) with output W_out h_L. For
``norm == "pre"`` the head starts with a LayerNorm (the usual final norm of pre-LN networks).

Initialisation (all draws from one local ``torch.Generator``): the MLP branch has
W1 ~ N(0, 2/d), W2 ~ N(0, 1/h), zero biases, hence THEORY's sigma^2 = d s2^2 h s1^2 / 2 = 1;
the CNN branch uses the same rule with fan-ins 9c and 9h (3x3 kernels); attention projections are
N(0, 1/d); the embedding is N(0, 1/fan_in) (tokens: N(0, 1)); the head is N(0, 1/d).
The scaling schemes of S5 then act on top (see :mod:`numerics.models.config`): ``learnable`` makes lam a
parameter starting at 0; ``fixup`` zeroes each branch's last layer and the classifier, multiplies
the branch's first layer by L^(-1/(2m-2)) = n^(-1/2) (m = 2 layers per branch), and gives MLP and
convolutional branches Fixup's scalar biases and multiplier (:class:`numerics.models.fixup.FixupBranch`;
attention branches keep their projections); ``deepnorm`` multiplies the value/output
projections and both MLP layers by beta = (8N)^(-1/4) and sets lam = (2N)^(-1/4).

>>> from numerics.models.config import ModelConfig
>>> model = build_model(ModelConfig(depth=3, width=8), in_dim=5, out_dim=2)
>>> len(model.blocks), model(torch.zeros(4, 5)).shape
(3, torch.Size([4, 2]))
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from numerics.models.config import (
    NORMS,
    ModelConfig,
    deepnorm_beta,
    fixup_gain,
)
from numerics.models.fixup import FixupBranch, zero_classifier
from numerics.models.layers import LN_EPS, activation_module, default_generator, init_normal_
from numerics.models.transformer import LastTokenHead, SelfAttention, TokenEmbedding

__all__ = [
    "LN_EPS", "ResidualBlock", "ResidualNetwork", "SelfAttention", "build_model", "conv_branch",
    "mlp_branch",
]

class ResidualBlock(nn.Module):
    """One residual block x -> B(x) around the branch f with scale lam.

    .. math::

        \\text{none: } x + \\lambda f(x), \\quad
        \\text{pre: } x + \\lambda f(N(x)), \\quad
        \\text{post: } N(x + \\lambda f(x)), \\quad
        \\text{batch: } x + \\lambda f(\\mathrm{BN}(x)),

    N is LayerNorm without affine parameters over the last ``norm_dims`` dimensions (the whole
    residual stream of one example or token, so ||N(z)||^2 = d up to eps); BN is BatchNorm
    without affine parameters over ``features`` channels (placed like pre-normalisation).

    Parameters
    ----------
    branch : the branch f_i (``.branch``).
    lam : float, 0-dim tensor or nn.Parameter; stored as ``.lam`` (a buffer unless a Parameter).
    norm : "none" | "pre" | "post" | "batch" (``.norm``).
    features : channels of the BatchNorm (needed for ``norm == "batch"``).
    norm_dims : 1 (vectors, tokens) or 3 (C, H, W feature maps).
    """

    def __init__(self, branch: nn.Module, lam, norm: str, *, features: int | None = None,
                 norm_dims: int = 1):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        if norm_dims not in (1, 3):
            raise ValueError(f"norm_dims must be 1 or 3, got {norm_dims!r}")
        self.branch = branch
        if isinstance(lam, nn.Parameter):
            self.lam = lam
        else:
            # float64, so that .double() keeps lam exact; a 0-dim tensor never promotes x's dtype
            lam = torch.as_tensor(lam, dtype=torch.float64).detach().clone()
            if lam.ndim != 0 or not torch.isfinite(lam):
                raise ValueError(f"lam must be a finite scalar, got {lam!r}")
            self.register_buffer("lam", lam)
        self.norm = norm
        self.norm_dims = norm_dims
        if norm == "batch":
            if features is None:
                raise ValueError("norm='batch' needs features (the number of channels)")
            bn = nn.BatchNorm1d if norm_dims == 1 else nn.BatchNorm2d
            self.batchnorm = bn(features, affine=False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """N(x): affine-free LayerNorm over the stream, or BatchNorm for ``norm == "batch"``."""
        if self.norm == "batch":
            return self.batchnorm(x)
        return F.layer_norm(x, x.shape[-self.norm_dims:], eps=LN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm == "none":
            return x + self.lam * self.branch(x)
        if self.norm == "post":
            return self.normalise(x + self.lam * self.branch(x))
        return x + self.lam * self.branch(self.normalise(x))


class ResidualNetwork(nn.Module):
    """model(x) = head(B_n(... B_1(embed(x)))) with ``.embed``, ``.blocks``, ``.head``, ``.config``."""

    def __init__(self, config: ModelConfig, embed: nn.Module, blocks: list[ResidualBlock],
                 head: nn.Module):
        super().__init__()
        self.config = config
        self.embed = embed
        self.blocks = nn.ModuleList(blocks)
        self.head = head

    def run_blocks(self, x0: torch.Tensor) -> torch.Tensor:
        """x_n from x_0: the residual stream after every block."""
        x = x0
        for block in self.blocks:
            x = block(x)
        return x

    def block_parameters(self) -> list[nn.Parameter]:
        """The parameters of the residual blocks (what depth-muP's learning-rate rule scales)."""
        return list(self.blocks.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.run_blocks(self.embed(x)))


def mlp_branch(d: int, h: int, activation: str = "relu", bias: bool = True, *,
               generator: torch.Generator | None = None) -> nn.Sequential:
    """f(x) = W2 phi(W1 x + b1) + b2 with W1 ~ N(0, 2/d), W2 ~ N(0, 1/h), b = 0.

    For phi = ReLU this makes sigma^2 = d s2^2 h s1^2 / 2 = d (1/h) h (2/d) / 2 = 1 (THEORY S2).

    >>> mlp_branch(4, 6)
    Sequential(
      (0): Linear(in_features=4, out_features=6, bias=True)
      (1): ReLU()
      (2): Linear(in_features=6, out_features=4, bias=True)
    )
    """
    generator = default_generator(generator)
    branch = nn.Sequential(nn.Linear(d, h, bias=bias), activation_module(activation),
                           nn.Linear(h, d, bias=bias))
    init_normal_(branch[0], math.sqrt(2.0 / d), generator)
    init_normal_(branch[2], math.sqrt(1.0 / h), generator)
    return branch


def conv_branch(c: int, h: int, activation: str = "relu", bias: bool = True, *,
                generator: torch.Generator | None = None) -> nn.Sequential:
    """f(x) = K2 * phi(K1 * x + b1) + b2, 3x3 'same' convolutions c -> h -> c channels.

    K1 ~ N(0, 2/(9c)), K2 ~ N(0, 1/(9h)): the MLP rule with fan-ins 9c and 9h, sigma^2 = 1 per
    position away from the border.
    """
    generator = default_generator(generator)
    branch = nn.Sequential(nn.Conv2d(c, h, 3, padding=1, bias=bias), activation_module(activation),
                           nn.Conv2d(h, c, 3, padding=1, bias=bias))
    init_normal_(branch[0], math.sqrt(2.0 / (9 * c)), generator)
    init_normal_(branch[2], math.sqrt(1.0 / (9 * h)), generator)
    return branch


class ImageEmbedding(nn.Module):
    """x (B, s*s) -> conv3x3(1 -> c) on the s x s image; then LN over (c, s, s) for post-LN."""

    def __init__(self, side: int, c: int, post_ln: bool, bias: bool, *,
                 generator: torch.Generator):
        super().__init__()
        self.side = side
        self.conv = nn.Conv2d(1, c, 3, padding=1, bias=bias)
        init_normal_(self.conv, math.sqrt(1.0 / 9), generator)
        self.ln = (nn.LayerNorm([c, side, side], eps=LN_EPS, elementwise_affine=False)
                   if post_ln else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x.reshape(-1, 1, self.side, self.side))
        return x if self.ln is None else self.ln(x)


class ImageHead(nn.Module):
    """output = W_out mean_{h,w} LN?(x_n): global average pooling, then a linear layer."""

    def __init__(self, side: int, c: int, out_dim: int, pre_ln: bool, bias: bool, *,
                 generator: torch.Generator):
        super().__init__()
        self.ln = (nn.LayerNorm([c, side, side], eps=LN_EPS, elementwise_affine=False)
                   if pre_ln else None)
        self.linear = nn.Linear(c, out_dim, bias=bias)
        init_normal_(self.linear, math.sqrt(1.0 / c), generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x if self.ln is None else self.ln(x)
        return self.linear(x.mean(dim=(-2, -1)))


def _vector_embed(cfg: ModelConfig, in_dim: int, generator: torch.Generator) -> nn.Module:
    linear = nn.Linear(in_dim, cfg.width, bias=cfg.bias)
    init_normal_(linear, math.sqrt(1.0 / in_dim), generator)
    if cfg.norm != "post":
        return nn.Sequential(linear)
    return nn.Sequential(linear, nn.LayerNorm(cfg.width, eps=LN_EPS, elementwise_affine=False))


def _vector_head(cfg: ModelConfig, out_dim: int, generator: torch.Generator) -> nn.Module:
    linear = nn.Linear(cfg.width, out_dim, bias=cfg.bias)
    init_normal_(linear, math.sqrt(1.0 / cfg.width), generator)
    if cfg.norm != "pre":
        return nn.Sequential(linear)
    return nn.Sequential(nn.LayerNorm(cfg.width, eps=LN_EPS, elementwise_affine=False), linear)


def _lam(cfg: ModelConfig):
    """The block's lam: a Parameter at 0 for SkipInit/ReZero, else the rule's constant."""
    if cfg.scaling == "learnable":
        return nn.Parameter(torch.zeros(()))
    return cfg.block_lam()


def _rescale_branch(cfg: ModelConfig, first: list[torch.Tensor], last: list[torch.Tensor],
                    scaled: list[torch.Tensor]) -> None:
    """Apply Fixup (zero ``last``, ``first`` times n^(-1/2)) or DeepNorm (``scaled`` times beta)."""
    n = cfg.n_blocks()
    with torch.no_grad():
        if cfg.scaling == "fixup":
            for weight in first:
                weight.mul_(fixup_gain(n))
            for weight in last:
                weight.zero_()
        elif cfg.scaling == "deepnorm":
            for weight in scaled:
                weight.mul_(deepnorm_beta(n))


def _branch(cfg: ModelConfig, make, c: int, generator: torch.Generator) -> nn.Module:
    """``make(c, h, activation, bias)``'s branch, rescaled by S5's scheme; Fixup's scalar
    biases and multiplier in place of bias vectors under ``scaling == "fixup"``."""
    fixup = cfg.scaling == "fixup"
    branch = make(c, cfg.branch_hidden(), cfg.activation, cfg.bias and not fixup,
                  generator=generator)
    _rescale_branch(cfg, [branch[0].weight], [branch[2].weight],
                    [branch[0].weight, branch[2].weight])
    return FixupBranch(*branch, biases=cfg.bias) if fixup else branch


def _mlp_block(cfg: ModelConfig, d: int, generator: torch.Generator) -> ResidualBlock:
    branch = _branch(cfg, mlp_branch, d, generator)
    return ResidualBlock(branch, _lam(cfg), cfg.norm, features=d)


def _build_mlp(cfg, in_dim, out_dim, generator) -> ResidualNetwork:
    embed = _vector_embed(cfg, in_dim, generator)
    blocks = [_mlp_block(cfg, cfg.width, generator) for _ in range(cfg.depth)]
    return ResidualNetwork(cfg, embed, blocks, _vector_head(cfg, out_dim, generator))


def _build_cnn(cfg, in_dim, out_dim, generator) -> ResidualNetwork:
    side = math.isqrt(in_dim)
    if side * side != in_dim:
        raise ValueError(f"the cnn reads square images: in_dim must be a perfect square "
                         f"(64 for 8x8 digits), got {in_dim}")
    c = cfg.width
    embed = ImageEmbedding(side, c, cfg.norm == "post", cfg.bias, generator=generator)
    blocks = []
    for _ in range(cfg.depth):
        branch = _branch(cfg, conv_branch, c, generator)
        blocks.append(ResidualBlock(branch, _lam(cfg), cfg.norm, features=c, norm_dims=3))
    head = ImageHead(side, c, out_dim, cfg.norm == "pre", cfg.bias, generator=generator)
    return ResidualNetwork(cfg, embed, blocks, head)


def _build_transformer(cfg, in_dim, out_dim, generator) -> ResidualNetwork:
    d = cfg.width
    embed = TokenEmbedding(in_dim, d, cfg.norm == "post", generator=generator)
    blocks = []
    for _ in range(cfg.depth):
        attention = SelfAttention(d, cfg.heads, cfg.bias, generator=generator)
        _rescale_branch(cfg, [attention.value_weights()], [attention.out.weight],
                        [attention.value_weights(), attention.out.weight])
        blocks.append(ResidualBlock(attention, _lam(cfg), cfg.norm))
        blocks.append(_mlp_block(cfg, d, generator))
    head = LastTokenHead(d, out_dim, cfg.norm == "pre", cfg.bias, generator=generator)
    return ResidualNetwork(cfg, embed, blocks, head)


def _build_resnet(cfg, in_dim, out_dim, generator) -> ResidualNetwork:
    from numerics.models.conv_resnet import build_resnet

    return build_resnet(cfg, in_dim, out_dim, generator)


BUILDERS = {"mlp": _build_mlp, "cnn": _build_cnn, "transformer": _build_transformer,
            "resnet": _build_resnet, "resnet-proj": _build_resnet}


def build_model(cfg: ModelConfig, in_dim: int, out_dim: int, *,
                generator: torch.Generator | None = None) -> ResidualNetwork:
    """The residual model ``cfg`` describes, for inputs of size ``in_dim``, ``out_dim`` outputs.

    ``in_dim`` is the feature count (mlp), the pixel count of a square image (cnn), or the
    vocabulary size (transformer, whose inputs are token ids of shape (B, T)). Weights are drawn
    from ``generator`` (default: a fresh generator seeded 0), never from global random state.
    """
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a ModelConfig, got {type(cfg).__name__}")
    for name, value in (("in_dim", in_dim), ("out_dim", out_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    model = BUILDERS[cfg.arch](cfg, in_dim, out_dim, default_generator(generator))
    if cfg.scaling == "fixup" and cfg.arch not in ("resnet", "resnet-proj"):
        zero_classifier(model.head)
    return model
