"""Geometric complexity (S6, S7): GC = mean over data of ||d model(x)/d x||_F^2.

For a model f: R^D -> R^C and inputs x_1..x_N,

.. math::

    \\mathrm{GC} = \\frac1N \\sum_{i=1}^N \\Bigl\\| \\frac{\\partial f}{\\partial x}(x_i) \\Bigr\\|_F^2
    = \\frac1N \\sum_i \\sum_{c=1}^C \\|\\nabla_x f_c(x_i)\\|^2 ,

the quantity paper 1 reports as unimodal in lam after training (Dherin et al.'s geometric
complexity). The model must treat examples independently (BatchNorm in eval mode): then
d/dx_i of sum_j f_c(x_j) is grad f_c(x_i), and one backward pass per output c gives the whole
batch's gradients. Computed in the model's dtype (use a float64 copy for deep, exploding towers).

>>> from torch import nn
>>> lin = nn.Linear(3, 2, bias=False).double().eval()
>>> x = torch.randn(5, 3, dtype=torch.float64)
>>> abs(geometric_complexity(lin, x) - float(lin.weight.pow(2).sum())) < 1e-12
True
"""

import torch
from torch import nn

__all__ = ["geometric_complexity"]

CHUNK = 512


def geometric_complexity(model: nn.Module, x: torch.Tensor, *, chunk: int = CHUNK) -> float:
    """GC of ``model`` on the batch ``x`` (shape (N, D), float): see the module docstring.

    ``model`` must be in eval mode (examples independent); its parameters get no gradients.
    """
    if model.training:
        raise ValueError("geometric_complexity needs the model in eval mode (model.eval())")
    if x.ndim != 2 or not x.is_floating_point() or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty float batch of shape (N, D), got {tuple(x.shape)}")
    total = 0.0
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        for start in range(0, x.shape[0], chunk):
            xc = x[start:start + chunk].detach().clone().requires_grad_(True)
            out = model(xc).flatten(1)
            for c in range(out.shape[1]):
                (grad,) = torch.autograd.grad(out[:, c].sum(), xc,
                                              retain_graph=c < out.shape[1] - 1)
                total += float(grad.pow(2).sum())
    finally:
        for p in params:
            p.requires_grad_(True)
    return total / x.shape[0]
