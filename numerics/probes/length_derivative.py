"""R2/S6 second route: the length-weighted path sum as a derivative of the model's own forward.

Scale every branch of a residual tower by t: x_i(t) = x_{i-1}(t) + t lam_i f_i(x_{i-1}(t)).
With the gates frozen at t = 1 (piecewise-linear branches: the gates are locally constant in t
away from a kink) the output is the polynomial x_n(t) = sum_k t^k y_k of R2's path-length terms
(a path of length k passes k scaled branches), so

.. math::

    \\frac{d x_n}{dt}\\Big|_{t=1} = \\sum_k k\\, y_k, \\qquad
    \\frac{\\langle x_n, dx_n/dt \\rangle}{\\|x_n\\|^2} = \\sum_k k\\, s_k ,

the signed mean path length (s_k = <y_k, x_n>/||x_n||^2). Here dx_n/dt comes from one
forward-mode AD pass (:mod:`torch.autograd.forward_ad`) through the blocks' own branches: no
Jacobian, no offset, no dynamic programme, so it checks the spectrum's terms (their lengths, not
only their sum) by an independent computation.
"""

import torch
import torch.autograd.forward_ad as fwAD

__all__ = ["length_weighted_sum", "signed_mean_length_by_scaling"]


def length_weighted_sum(blocks, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dx_n/dt at t = 1, x_n): sum_k k y_k and the output, by forward-mode AD in t.

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
    with torch.no_grad(), fwAD.dual_level():
        t = fwAD.make_dual(torch.ones((), dtype=x0.dtype, device=x0.device),
                           torch.ones((), dtype=x0.dtype, device=x0.device))
        x = x0
        for block in blocks:
            x = x + t * block.lam.to(x0.dtype) * block.branch(x)
        primal, tangent = fwAD.unpack_dual(x)
    if tangent is None:
        tangent = torch.zeros_like(primal)
    return tangent, primal


def signed_mean_length_by_scaling(blocks, x0: torch.Tensor) -> float:
    """sum_b <x_n, dx_n/dt> / sum_b ||x_n||^2: the signed mean path length (batch-summed, as
    :meth:`numerics.probes.spectrum.Spectrum.mean_length`)."""
    tangent, out = length_weighted_sum(blocks, x0)
    return float((tangent * out).sum() / out.pow(2).sum())
