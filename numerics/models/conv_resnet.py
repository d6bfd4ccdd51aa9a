"""Paper 1's architecture: He et al.'s CIFAR ResNet (ResNet-20/56/110), three stages of BasicBlocks.

``ModelConfig(arch="resnet", depth=d, width=w)`` builds

.. math::

    x_0 = \\mathrm{stem}(x), \\qquad x_i = P_i x_{i-1} + \\lambda_i f_i(N(x_{i-1}))
    \\ (i = 1..n = 3d), \\qquad \\mathrm{model}(x) = W_{out}\\, \\mathrm{pool}(x_n),

with d BasicBlocks per stage at w, 2w, 4w channels (He et al. 2016, section 4.2: w = 16 and
d = 3, 9, 18 give ResNet-20, -56, -110; 6d + 2 layers). A branch is f(x) = K_2 * relu(K_1 * x)
(3x3 convolutions, K_1 of stride 2 in the first block of stages 2 and 3). P_i is the identity
except at those two blocks, where the shortcut changes shape: ``arch="resnet"`` uses He's
option A, the parameter-free *padding* shortcut P x = [x[:, :, ::2, ::2], 0] (subsample, then
append zero channels); ``arch="resnet-proj"`` option B, a 1x1 convolution of stride 2 (a
*projection*, N(0, 1/c_in), bias-free). Both P are linear.

**Rules.** Without normalisation (``norm="none"``) the blocks are exactly S5's towers with a
linear shortcut: every scaling of :mod:`numerics.models.config` applies, lam_i = rule(n) with n
= 3d blocks (Fixup: scalar biases and multiplier, K_2 = 0, K_1 times n^(-1/2), zero classifier;
learnable: lam a parameter from 0). The branches use the MLP rule with fan-ins 9 c_in and 9 c:
K_1 ~ N(0, 2/(9 c_in)), K_2 ~ N(0, 1/(9 c)). ``norm="pre"``: N is the affine-free LayerNorm over
(C, H, W) (pre-LN); ``norm="batch"``: paper 1's BatchNorm baseline, He's BasicBlock branch
f = BN(K_2 * relu(BN(K_1 * x))) (BN with affine parameters, after each convolution; the
projection shortcut followed by BN), stem conv-BN-ReLU. One deviation from He, for every rule
alike: no ReLU after the addition, so that each block is x -> P x + lam f(x) (THEORY's tower;
the form of pre-activation ResNets, SkipInit and Fixup's analysis).

**Frozen-gate spectrum (R2), exact.** With gates frozen at the actual activations each branch is
an affine map J~_i (D_i v + c_i on the augmented coordinate), and x_n = prod_i (P_i + lam_i J~_i)
x~_0. Expanding the product over the choice P or J~ at each block splits x_n into y_k, the sum
of the paths through k branches: y^{(i)}_k = P_i y^{(i-1)}_k + lam_i J~_i y^{(i-1)}_{k-1}, the
programme of :func:`numerics.probes.spectrum.path_spectrum` with P_i applied to every term at
the two shape-changing blocks (:func:`resnet_spectrum`; D v by forward-mode AD, c = f(x) - D x,
as the spectrum's generic route does for the CNN). Deleting block i (a lesion) keeps P_i x.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from numerics.models.config import ModelConfig, fixup_gain
from numerics.models.fixup import FixupBranch
from numerics.models.layers import LN_EPS, activation_module, init_normal_

__all__ = ["RESNET_ARCHS", "PadShortcut", "StageBlock", "build_resnet", "image_shape",
           "resnet_spectrum"]

RESNET_ARCHS = ("resnet", "resnet-proj")
STAGES = 3


def image_shape(in_dim: int) -> tuple[int, int]:
    """(channels, side) of a flattened square image: 1 channel if in_dim is a square, else 3."""
    for channels in (1, 3):
        side = math.isqrt(in_dim // channels)
        if in_dim % channels == 0 and side * side * channels == in_dim and side >= 4:
            return channels, side
    raise ValueError(f"the resnet reads square images of 1 or 3 channels, flattened: in_dim "
                     f"must be s*s or 3*s*s (784 for Fashion-MNIST, 3072 for CIFAR-10), got "
                     f"{in_dim}")


class PadShortcut(nn.Module):
    """He's option A: P x = [x[..., ::2, ::2], zeros] from ``cin`` to ``cout`` channels."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.extra = cout - cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[..., ::2, ::2], (0, 0, 0, 0, 0, self.extra))


class StageBlock(nn.Module):
    """x -> P x + lam f(N(x)): ``.branch``, ``.lam``, ``.norm`` and ``.shortcut`` (None: P = I)."""

    def __init__(self, branch: nn.Module, lam, norm: str, shortcut: nn.Module | None = None):
        super().__init__()
        self.branch = branch
        if isinstance(lam, nn.Parameter):
            self.lam = lam
        else:
            self.register_buffer("lam", torch.as_tensor(lam, dtype=torch.float64).clone())
        self.norm = norm
        self.shortcut = shortcut

    def skip(self, x: torch.Tensor) -> torch.Tensor:
        """P x: what the block keeps when its branch is deleted."""
        return x if self.shortcut is None else self.shortcut(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inner = F.layer_norm(x, x.shape[-3:], eps=LN_EPS) if self.norm == "pre" else x
        return self.skip(x) + self.lam * self.branch(inner)


class Stem(nn.Module):
    """x (B, c*s*s) -> conv3x3(c -> w) on the image (then BN and ReLU for the BN baseline)."""

    def __init__(self, channels: int, side: int, width: int, batch: bool, bias: bool,
                 generator: torch.Generator):
        super().__init__()
        self.shape = (channels, side, side)
        self.conv = nn.Conv2d(channels, width, 3, padding=1, bias=bias and not batch)
        init_normal_(self.conv, math.sqrt(1.0 / (9 * channels)), generator)
        self.post = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU()) if batch else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x.reshape(-1, *self.shape))
        return x if self.post is None else self.post(x)


class PoolHead(nn.Module):
    """output = W_out mean_{h,w} LN?(x_n) (LN over (C, H, W) for pre-LN)."""

    def __init__(self, c: int, out_dim: int, pre_ln: bool, bias: bool,
                 generator: torch.Generator):
        super().__init__()
        self.pre_ln = pre_ln
        self.linear = nn.Linear(c, out_dim, bias=bias)
        init_normal_(self.linear, math.sqrt(1.0 / c), generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_ln:
            x = F.layer_norm(x, x.shape[-3:], eps=LN_EPS)
        return self.linear(x.mean(dim=(-2, -1)))


def _convs(cin: int, cout: int, stride: int, bias: bool, generator: torch.Generator):
    first = nn.Conv2d(cin, cout, 3, stride, 1, bias=bias)
    last = nn.Conv2d(cout, cout, 3, 1, 1, bias=bias)
    init_normal_(first, math.sqrt(2.0 / (9 * cin)), generator)
    init_normal_(last, math.sqrt(1.0 / (9 * cout)), generator)
    return first, last


def _branch(cfg: ModelConfig, cin: int, cout: int, stride: int,
            generator: torch.Generator) -> nn.Module:
    act = activation_module(cfg.activation)
    if cfg.norm == "batch":
        first, last = _convs(cin, cout, stride, False, generator)
        return nn.Sequential(first, nn.BatchNorm2d(cout), act, last, nn.BatchNorm2d(cout))
    fixup = cfg.scaling == "fixup"
    first, last = _convs(cin, cout, stride, cfg.bias and not fixup, generator)
    if not fixup:
        return nn.Sequential(first, act, last)
    with torch.no_grad():
        first.weight.mul_(fixup_gain(cfg.n_blocks()))
        last.weight.zero_()
    return FixupBranch(first, act, last, biases=cfg.bias)


def _shortcut(cfg: ModelConfig, cin: int, cout: int, generator: torch.Generator) -> nn.Module:
    if cfg.arch == "resnet":
        return PadShortcut(cin, cout)
    conv = nn.Conv2d(cin, cout, 1, 2, bias=False)
    init_normal_(conv, math.sqrt(1.0 / cin), generator)
    return nn.Sequential(conv, nn.BatchNorm2d(cout)) if cfg.norm == "batch" else conv


def build_resnet(cfg: ModelConfig, in_dim: int, out_dim: int, generator: torch.Generator):
    """The ResNet of ``cfg`` (see the module docstring) as a ResidualNetwork."""
    from numerics.models.fixup import zero_classifier
    from numerics.models.networks import ResidualNetwork

    if cfg.norm == "post":
        raise ValueError("the resnet has no post-LN variant (norm: none, pre or batch)")
    channels, side = image_shape(in_dim)
    widths = [cfg.width * 2 ** s for s in range(STAGES)]
    stem = Stem(channels, side, widths[0], cfg.norm == "batch", cfg.bias, generator)
    lam = cfg.block_lam()
    blocks, cin = [], widths[0]
    for cout in widths:
        for j in range(cfg.depth):
            stride = 2 if cin != cout else 1
            shortcut = _shortcut(cfg, cin, cout, generator) if stride == 2 else None
            block_lam = nn.Parameter(torch.zeros(())) if cfg.scaling == "learnable" else lam
            blocks.append(StageBlock(_branch(cfg, cin, cout, stride, generator), block_lam,
                                     "batch" if cfg.norm == "batch" else cfg.norm, shortcut))
            cin = cout
    head = PoolHead(widths[-1], out_dim, cfg.norm == "pre", cfg.bias, generator)
    model = ResidualNetwork(cfg, stem, blocks, head)
    if cfg.scaling == "fixup":
        zero_classifier(model.head)
    return model


def _apply_all(module: nn.Module, stack: torch.Tensor) -> torch.Tensor:
    """``module`` applied to every element of a stack (K, B, C, H, W) in one batched call."""
    out = module(stack.reshape(-1, *stack.shape[2:]))
    return out.reshape(*stack.shape[:2], *out.shape[1:])


def _linear_part(branch: nn.Module, x: torch.Tensor, stack: torch.Tensor) -> torch.Tensor:
    """D f(x) v for every v of ``stack`` (K, B, ...), by forward-mode AD (the K tangents ride
    in the batch dimension against K copies of x); the output may change shape."""
    import torch.autograd.forward_ad as fwAD

    k = stack.shape[0]
    primal = x.unsqueeze(0).expand(k, *x.shape).reshape(k * x.shape[0], *x.shape[1:])
    with fwAD.dual_level():
        dual = fwAD.make_dual(primal, stack.reshape(primal.shape))
        tangent = fwAD.unpack_dual(branch(dual)).tangent
    return tangent.reshape(k, x.shape[0], *tangent.shape[1:])


def resnet_spectrum(model, x: torch.Tensor):
    """The frozen-gate path-length spectrum y_0..y_n of an unnormalised ResNet at inputs ``x``
    (a :class:`numerics.probes.spectrum.Spectrum`; sum_k y_k = x_n up to rounding).

    Run it in float64 on an eval-mode model; raises ValueError for a normalised ResNet.
    """
    from numerics.probes.spectrum import Spectrum

    blocks = list(model.blocks)
    if any(b.norm != "none" for b in blocks):
        raise ValueError("the path spectrum needs a resnet without normalisation (norm='none')")
    with torch.no_grad():
        h = model.embed(x)
        terms = [h]
        for block in blocks:
            branch = _linear_part(block.branch, h, torch.stack(terms))
            branch[0] += block.branch(h) - _linear_part(block.branch, h, h.unsqueeze(0))[0]
            if block.shortcut is not None:
                terms = list(_apply_all(block.shortcut, torch.stack(terms)))
            lam = float(block.lam)
            terms = [terms[0]] + [t + lam * b for t, b in zip(terms[1:], branch[:-1])] + [
                lam * branch[-1]]
            h = block(h)
    return Spectrum(torch.stack(terms), h)
