"""Fixup (Zhang, Dauphin, Ma, ICLR 2019): a residual branch with scalar biases and a multiplier.

Fixup trains residual networks without normalisation by

1. zero-initialising the last layer of every branch and the classifier;
2. multiplying the other branch layers' standard (He) draws by L^(-1/(2m-2)) for L branches of
   m layers (:func:`numerics.models.config.fixup_gain`; L^(-1/2) for m = 2);
3. adding a scalar bias (init 0) before each linear or convolutional layer and before each
   activation, and a scalar multiplier (init 1) at the end of each branch, in place of the
   normalisation's affine parameters (the branch layers themselves carry no bias vector).

For a two-layer branch, as in the reference code's basic block,

.. math::

    f(x) = s \\, W_2 \\bigl(\\phi(W_1 (x + a_1) + b_1) + a_2\\bigr) + b_2 ,

with scalars a_1, b_1, a_2, b_2 (``bias1a``, ``bias1b``, ``bias2a``, ``bias2b``) and s
(``scale``). For linear layers the scalars fold into an ordinary branch with bias vectors,

.. math::

    W_1 (x + a_1 \\mathbf 1) + b_1 \\mathbf 1 = W_1 x + (a_1 W_1 \\mathbf 1 + b_1 \\mathbf 1), \\qquad
    s W_2 (r + a_2 \\mathbf 1) + b_2 \\mathbf 1 = (s W_2) r + (s a_2 W_2 \\mathbf 1 + b_2 \\mathbf 1),

which is what :func:`fold_fixup` does, so that the R2 path spectrum (which reads
Linear-activation-Linear branches) applies to Fixup towers too. (A convolution of a constant
image is not constant at the zero-padded border, so convolutional branches do not fold.)
"""

import copy

import torch
from torch import nn

__all__ = ["FixupBranch", "fold_fixup", "zero_classifier"]

BIASES = ("bias1a", "bias1b", "bias2a", "bias2b")


class FixupBranch(nn.Module):
    """f(x) = scale * last(act(first(x + bias1a) + bias1b) + bias2a) + bias2b.

    ``first`` and ``last`` are Linear or Conv2d layers without bias vectors; ``biases=False``
    leaves the four scalar biases out (a model built with ``bias=False``). Indexing reads the
    layers like the plain branch Sequential(first, act, last): ``branch[0]`` is ``first``.
    """

    def __init__(self, first: nn.Module, act: nn.Module, last: nn.Module, *, biases: bool = True):
        super().__init__()
        if first.bias is not None or last.bias is not None:
            raise ValueError("Fixup's branch layers carry scalar biases instead of bias vectors")
        self.first, self.act, self.last = first, act, last
        self.scale = nn.Parameter(torch.ones(()))
        for name in BIASES:
            self.register_parameter(name, nn.Parameter(torch.zeros(())) if biases else None)

    def __getitem__(self, index: int) -> nn.Module:
        return (self.first, self.act, self.last)[index]

    def __len__(self) -> int:
        return 3

    def _shift(self, x: torch.Tensor, name: str) -> torch.Tensor:
        bias = getattr(self, name)
        return x if bias is None else x + bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.act(self._shift(self.first(self._shift(x, "bias1a")), "bias1b"))
        return self._shift(self.scale * self.last(self._shift(hidden, "bias2a")), "bias2b")


def _folded(branch: FixupBranch) -> nn.Sequential:
    """The plain Sequential(Linear, act, Linear) computing the same function as ``branch``."""
    first, last = branch.first, branch.last
    if not (isinstance(first, nn.Linear) and isinstance(last, nn.Linear)):
        raise ValueError("only Fixup branches of Linear layers fold into a plain branch "
                         f"(got {type(first).__name__} and {type(last).__name__})")
    scalars = {name: (0.0 if getattr(branch, name) is None else getattr(branch, name).detach())
               for name in BIASES}
    w1, w2, s = first.weight.detach(), last.weight.detach(), branch.scale.detach()
    lin1 = nn.Linear(w1.shape[1], w1.shape[0]).to(w1)
    lin2 = nn.Linear(w2.shape[1], w2.shape[0]).to(w2)
    with torch.no_grad():
        lin1.weight.copy_(w1)
        lin1.bias.copy_(scalars["bias1a"] * w1.sum(1) + scalars["bias1b"])
        lin2.weight.copy_(s * w2)
        lin2.bias.copy_(s * scalars["bias2a"] * w2.sum(1) + scalars["bias2b"])
    return nn.Sequential(lin1, copy.deepcopy(branch.act), lin2)


def fold_fixup(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose Fixup branches are folded into plain Linear-act-Linear ones.

    The copy computes the same function (up to rounding); blocks without a Fixup branch are
    copied unchanged. ``model`` must have ``.blocks`` whose items have ``.branch``.
    """
    folded = copy.deepcopy(model)
    for block in folded.blocks:
        if isinstance(block.branch, FixupBranch):
            block.branch = _folded(block.branch)
    return folded


def zero_classifier(head: nn.Module) -> None:
    """Zero the weight and bias of the last Linear layer of ``head`` (Fixup's classifier)."""
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("the head has no Linear layer to zero")
    with torch.no_grad():
        linears[-1].weight.zero_()
        if linears[-1].bias is not None:
            linears[-1].bias.zero_()
