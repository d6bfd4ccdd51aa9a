"""The residual MLP with its blocks' weights stacked: the same function, less per-block overhead.

A depth-n residual MLP built by :func:`numerics.models.networks.build_model` runs n ResidualBlock
modules, each calling three sub-modules, and its optimiser steps 4n small tensors; at depth 256
and width 16 that bookkeeping, not arithmetic, is most of a training step on a CPU.
:class:`StackedTower` holds the same parameters as a few (n, ...) tensors,

.. math::

    W_1 \\in \\mathbb R^{n \\times h \\times d}, \\; b_1 \\in \\mathbb R^{n \\times h}, \\;
    W_2 \\in \\mathbb R^{n \\times d \\times h}, \\; b_2 \\in \\mathbb R^{n \\times d}, \\;
    \\lambda \\in \\mathbb R^n \\ (\\text{plus Fixup's scalars}),

and computes x_i = x_{i-1} + lam_i f_i(x_{i-1}) (or the pre/post-LN forms) with functional calls
on slices of them, sharing the embedding and head modules of the model it was made from.
:meth:`StackedTower.write_back` copies the trained slices back into that model, so everything
downstream sees an ordinary :class:`~numerics.models.networks.ResidualNetwork`. BatchNorm blocks (running
statistics per block) are not stacked. ``benchmarks/bench_train.py`` measures the gain.
"""

import torch
import torch.nn.functional as F
from torch import nn

from numerics.models.fixup import BIASES, FixupBranch
from numerics.models.layers import LN_EPS

__all__ = ["StackedTower"]

_ACTIVATIONS = {nn.ReLU: F.relu, nn.GELU: F.gelu}


def _stack(tensors: list) -> nn.Parameter | None:
    if any(t is None for t in tensors):
        return None
    return nn.Parameter(torch.stack([t.detach() for t in tensors]).clone())


class StackedTower(nn.Module):
    """``model``'s function with its residual blocks' parameters stacked (see the module doc).

    ``model`` is an MLP ResidualNetwork with norm none, pre or post; its embed and head modules
    are shared (trained in place), the blocks' parameters copied into stacked tensors.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        cfg = model.config
        if cfg.arch != "mlp" or cfg.norm == "batch":
            raise ValueError(f"the stacked engine runs residual MLPs with norm none, pre or "
                             f"post, not arch={cfg.arch!r} norm={cfg.norm!r}")
        blocks = list(model.blocks)
        self.norm, self.n = cfg.norm, len(blocks)
        self.embed, self.head = model.embed, model.head
        self.fixup = isinstance(blocks[0].branch, FixupBranch)
        layers = [(b.branch[0], b.branch[2]) for b in blocks]
        self.act = _ACTIVATIONS[type(blocks[0].branch[1])]
        self.w1 = _stack([first.weight for first, _ in layers])
        self.b1 = _stack([first.bias for first, _ in layers])
        self.w2 = _stack([last.weight for _, last in layers])
        self.b2 = _stack([last.bias for _, last in layers])
        self.learnable = isinstance(blocks[0].lam, nn.Parameter)
        lam = torch.stack([b.lam.detach().to(self.w1.dtype) for b in blocks])
        if self.learnable:
            self.lam = nn.Parameter(lam.clone())
        else:
            self.register_buffer("lam", lam)
            self._lam_floats = [float(v) for v in lam]
        if self.fixup:
            self.scale = _stack([b.branch.scale for b in blocks])
            for name in BIASES:
                setattr(self, name, _stack([getattr(b.branch, name) for b in blocks]))

    def block_parameters(self) -> list[nn.Parameter]:
        """The stacked parameters of the residual blocks (what depth-muP's lr rule scales)."""
        names = ["w1", "b1", "w2", "b2"] + (["lam"] if self.learnable else [])
        names += (["scale", *BIASES] if self.fixup else [])
        return [p for p in (getattr(self, n) for n in names) if isinstance(p, nn.Parameter)]

    def _slices(self, name: str) -> list:
        value = getattr(self, name, None)
        return [None] * self.n if value is None else list(value.unbind(0))

    def run_blocks(self, x: torch.Tensor) -> torch.Tensor:
        """x_n from x_0, block by block on the stacked parameters."""
        w1, b1, w2, b2 = (self._slices(n) for n in ("w1", "b1", "w2", "b2"))
        lam = list(self.lam.unbind(0)) if self.learnable else self._lam_floats
        extra = [self._slices(n) for n in ("scale", *BIASES)] if self.fixup else None
        for i in range(self.n):
            u = F.layer_norm(x, x.shape[-1:], eps=LN_EPS) if self.norm == "pre" else x
            if extra is None:
                f = F.linear(self.act(F.linear(u, w1[i], b1[i])), w2[i], b2[i])
            else:
                f = self._fixup_branch(u, w1[i], w2[i], [e[i] for e in extra])
            x = x + lam[i] * f if self.learnable else torch.add(x, f, alpha=lam[i])
            if self.norm == "post":
                x = F.layer_norm(x, x.shape[-1:], eps=LN_EPS)
        return x

    def _fixup_branch(self, u, w1, w2, scalars):
        """FixupBranch's formula on one block's slices (scale, bias1a, bias1b, bias2a, bias2b)."""
        scale, a1, b1, a2, b2 = scalars
        shift = (lambda t, s: t) if a1 is None else (lambda t, s: t + s)
        hidden = self.act(shift(F.linear(shift(u, a1), w1), b1))
        return shift(scale * F.linear(shift(hidden, a2), w2), b2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.run_blocks(self.embed(x)))

    @torch.no_grad()
    def write_back(self, model: nn.Module) -> None:
        """Copy the stacked parameters into ``model``'s blocks (embed and head are shared)."""
        for i, block in enumerate(model.blocks):
            first, last = block.branch[0], block.branch[2]
            for layer, w, b in ((first, self.w1, self.b1), (last, self.w2, self.b2)):
                layer.weight.copy_(w[i])
                if b is not None:
                    layer.bias.copy_(b[i])
            if self.learnable:
                block.lam.copy_(self.lam[i])
            if self.fixup:
                block.branch.scale.copy_(self.scale[i])
                for name in BIASES:
                    if getattr(self, name) is not None:
                        getattr(block.branch, name).copy_(getattr(self, name)[i])
