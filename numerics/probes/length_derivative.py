"""R2/S6 second route: the length-weighted path sum as a derivative of the model's own forward.

Scale every branch of a residual tower by t: x_i(t) = x_{i-1}(t) + t lam_i f_i(x_{i-1}(t)).
With the gates frozen at t = 1 (piecewise-linear branches: the gates are locally constant in t
away from a kink) the output is the polynomial x_n(t) = sum_k t^k y_k of R2's path-length terms
(a path of length k passes k scaled branches), so

.. math::

    \\frac{d x_n}{dt}\\Big|_{t=1} = \\sum_k k\\, y_k, \\qquad
    \\frac{\\langle x_n, dx_n/dt \\rangle}{\\|x_n\\|^2} = \\sum_k k\\, s_k ,

the signed mean path length (s_k = <y_k, x_n>/||x_n||^2). Here dx_n/dt comes from reverse-mode
autograd through the blocks' own branches, as a Jacobian-vector product by the double-backward
trick (g(u) = u . dx_n/dt = d(u . x_n)/dt, then dx_n/dt = dg/du): no Jacobian, no offset, no
dynamic programme, so it checks the spectrum's terms (their lengths, not only their sum) by an
independent computation. Reverse mode runs on every device and tensor type training runs on.
"""

import torch

__all__ = ["length_weighted_sum", "signed_mean_length_by_scaling"]


def length_weighted_sum(blocks, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dx_n/dt at t = 1, x_n): sum_k k y_k and the output, by autograd in t.

    ``blocks`` have ``.branch`` and ``.lam`` and compute x + lam * branch(x) (norm 'none').

    >>> from torch import nn
    >>> class Block(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.branch, self.lam, self.norm = nn.Linear(2, 2, bias=False), torch.tensor(0.5), "none"
    >>> torch.manual_seed(0) and None
    >>> b = Block().double()
    >>> x0 = torch.randn(3, 2, dtype=torch.float64)
    >>> tangent, out = length_weighted_sum([b], x0)
    >>> torch.allclose(tangent, 0.5 * b.branch(x0))
    True
    """
    for i, block in enumerate(blocks, 1):
        if getattr(block, "norm", "none") != "none":
            raise ValueError(f"block {i} has norm={block.norm!r}; the scaling route needs 'none'")
    with torch.enable_grad():
        t = torch.ones((), dtype=x0.dtype, device=x0.device, requires_grad=True)
        x = x0.detach()
        for block in blocks:
            x = x + t * block.lam.detach().to(x0.dtype) * block.branch(x)
        u = torch.zeros_like(x, requires_grad=True)
        (g,) = torch.autograd.grad(x, t, grad_outputs=u, create_graph=True)
        (tangent,) = torch.autograd.grad(g, u, allow_unused=True)
    primal = x.detach()
    tangent = torch.zeros_like(primal) if tangent is None else tangent.detach()
    return tangent, primal


def signed_mean_length_by_scaling(blocks, x0: torch.Tensor) -> float:
    """sum_b <x_n, dx_n/dt> / sum_b ||x_n||^2: the signed mean path length (batch-summed, as
    :meth:`numerics.probes.spectrum.Spectrum.mean_length`)."""
    tangent, out = length_weighted_sum(blocks, x0)
    return float((tangent * out).sum() / out.pow(2).sum())
