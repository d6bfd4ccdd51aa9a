"""Capacity of residual MLPs (S6): weight norms, Lipschitz bounds, margins, path lengths.

S1 with the branch Lipschitz bound B_i = Lip(phi) prod_layers ||W||_2 (spectral norms) gives

.. math::

    \\mathrm{Lip}(T_n) \\le \\prod_{i=1}^{n} (1 + \\lambda_i B_i),

so depth enters the capacity only through this product; a small lam keeps it near 1 even for
large B_i. :func:`capacity_summary` measures, on a (trained) model, the quantities S6 asks
about: weight norms, the bound, the largest Jacobian norm actually attained (which the bound
must dominate), output margins and the R2 path-length spectrum.
"""

import copy
import math

import torch
from torch import nn

from numerics.jacobian import tower_jacobian
from numerics.spectrum import path_spectrum

__all__ = ["branch_lipschitz_bound", "capacity_summary", "lipschitz_product", "margins"]

_ACTIVATION_LIPSCHITZ = {nn.ReLU: lambda m: 1.0,
                         nn.LeakyReLU: lambda m: max(1.0, abs(m.negative_slope))}


def branch_lipschitz_bound(branch: nn.Module) -> float:
    """B = prod over layers of ||W||_2 times the activations' Lipschitz constants.

    Defined for Sequential branches of Linear layers and ReLU/LeakyReLU; anything else raises
    ValueError (a convolution's operator norm is not its reshaped kernel's norm).
    """
    bound = 1.0
    for module in branch.children() if isinstance(branch, nn.Sequential) else [branch]:
        if isinstance(module, nn.Linear):
            bound *= torch.linalg.matrix_norm(module.weight.detach().double(), 2).item()
        elif type(module) in _ACTIVATION_LIPSCHITZ:
            bound *= _ACTIVATION_LIPSCHITZ[type(module)](module)
        else:
            raise ValueError(f"branch_lipschitz_bound handles Linear, ReLU and LeakyReLU layers, "
                             f"got {type(module).__name__}")
    return bound


def lipschitz_product(blocks) -> float:
    """prod_i (1 + |lam_i| B_i): the S1 bound on Lip(T_n) for branches with bound B_i."""
    return math.prod(1.0 + abs(float(b.lam)) * branch_lipschitz_bound(b.branch) for b in blocks)


def margins(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The classification margin per example: logit of the true class minus the best other."""
    true = output.gather(1, y.view(-1, 1)).squeeze(1)
    others = output.scatter(1, y.view(-1, 1), float("-inf"))
    return true - others.max(1).values


def capacity_summary(model, x: torch.Tensor, y: torch.Tensor | None = None, *,
                     n_jacobian: int = 32) -> dict:
    """S6 measurements of a residual MLP (norm == 'none') on inputs ``x`` (labels ``y``).

    Keys: ``lam`` (mean |lam_i|), ``weight_norm`` (Frobenius norm of all branch weights),
    ``branch_bound`` (mean B_i), ``log10_lipschitz_bound`` (log10 prod(1 + lam_i B_i)),
    ``mean_path_length`` and ``energy_fractions`` (R2 spectrum, float64); when
    ``n_jacobian > 0``, ``log10_max_jacobian`` (log10 of the largest ||d x_n / d x_0||_2 over
    the first ``n_jacobian`` inputs: S1 says it cannot exceed the bound); and with ``y``:
    ``margin_median`` and
    ``normalised_margin`` (median margin over ||head||_2 prod(1 + lam_i B_i) ||embed||_2).
    """
    model64 = copy.deepcopy(model).double().eval()
    blocks = list(model64.blocks)
    bounds = [branch_lipschitz_bound(b.branch) for b in blocks]
    log_bound = sum(math.log10(1 + abs(float(b.lam)) * c) for b, c in zip(blocks, bounds))
    with torch.no_grad():
        x0 = model64.embed(x.double())
        output = model64.head(model64.run_blocks(x0))
    spectrum = path_spectrum(blocks, x0)
    weights = [p for b in blocks for name, p in b.branch.named_parameters() if "weight" in name]
    out = {
        "lam": sum(abs(float(b.lam)) for b in blocks) / len(blocks),
        "weight_norm": math.sqrt(sum(p.pow(2).sum().item() for p in weights)),
        "branch_bound": sum(bounds) / len(bounds),
        "log10_lipschitz_bound": log_bound,
        "mean_path_length": spectrum.mean_length(),
        "energy_fractions": spectrum.energy_fractions(),
    }
    if n_jacobian > 0:
        jac = tower_jacobian(blocks, x0[:n_jacobian])
        out["log10_max_jacobian"] = math.log10(torch.linalg.matrix_norm(jac, 2).max().item())
    if y is not None:
        margin = margins(output, y).median().item()
        scale = (_operator_norm(model64.head) * _operator_norm(model64.embed)
                 * 10 ** log_bound)
        out["margin_median"] = margin
        out["normalised_margin"] = margin / scale
    return out


def _operator_norm(module: nn.Module) -> float:
    """The product of the spectral norms of the Linear layers in ``module``."""
    layers = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError(f"{type(module).__name__} has no Linear layer")
    return math.prod(torch.linalg.matrix_norm(m.weight.detach(), 2).item() for m in layers)
