"""Capacity of residual MLPs (S6): weight norms, Lipschitz bounds, margins, path lengths.

S1 with the branch Lipschitz bound B_i = Lip(phi) prod_layers ||W||_2 (spectral norms) gives

.. math::

    \\mathrm{Lip}(T_n) \\le \\prod_{i=1}^{n} (1 + \\lambda_i B_i),

so depth enters this Lipschitz bound only through the product; a small lam keeps it near 1
even for large B_i. :func:`capacity_summary` measures, on a (trained) model, the quantities S6
asks about: weight norms, the bound, output margins and the R2 path-length spectrum (mean path
length from the signed shares); :func:`maximise_jacobian_norm` looks for inputs where
||d x_n / d x_0||_2 comes closest to the bound (S6's falsification attempt).
"""

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from numerics.probes.jacobian import tower_jacobian
from numerics.probes.length_derivative import signed_mean_length_by_scaling
from numerics.probes.spectrum import path_spectrum

__all__ = ["branch_lipschitz_bound", "capacity_summary", "lipschitz_product", "margins",
           "maximise_jacobian_norm"]

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
    ``mean_path_length`` (sum_k k s_k from the signed shares s_k = <y_k, x_n>/||x_n||^2),
    ``mean_path_length_by_scaling`` (the same number by a second route, <x_n, dx_n/dt>/||x_n||^2
    with every branch scaled by t: :mod:`numerics.probes.length_derivative`),
    ``signed_shares``, ``mean_path_length_energy``, ``energy_fractions`` and
    ``cross_term_fraction`` (R2 spectrum, float64: the energies are no decomposition); when
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
        "mean_path_length_by_scaling": signed_mean_length_by_scaling(blocks, x0),
        "signed_shares": spectrum.signed_shares(),
        "mean_path_length_energy": spectrum.mean_length_energy(),
        "energy_fractions": spectrum.energy_fractions(),
        "cross_term_fraction": spectrum.cross_term_fraction(),
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


def _mlp_layers(blocks) -> list[tuple]:
    """(lam, W1, b1, W2, b2) of each block; branches must be Sequential(Linear, ReLU, Linear)."""
    layers = []
    for i, block in enumerate(blocks, 1):
        parts = list(block.branch.children()) if isinstance(block.branch, nn.Sequential) else []
        kinds = [type(m) for m in parts]
        if kinds != [nn.Linear, nn.ReLU, nn.Linear] or getattr(block, "norm", "none") != "none":
            raise ValueError(f"block {i}: maximise_jacobian_norm needs Linear-ReLU-Linear "
                             f"branches without normalisation, got {[k.__name__ for k in kinds]}")
        first, last = parts[0], parts[2]
        zero = torch.zeros((), dtype=first.weight.dtype, device=first.weight.device)
        layers.append((block.lam.detach().to(first.weight.dtype), first.weight.detach(),
                       zero if first.bias is None else first.bias.detach(),
                       last.weight.detach(), zero if last.bias is None else last.bias.detach()))
    return layers


def _tower_jacobian(layers, x0: torch.Tensor, sharpness: float | None = None) -> torch.Tensor:
    """prod_i (I + lam_i W2 G_i W1) at x0 (B, d): G_i = 1[pre > 0] for the ReLU tower itself,
    or sigmoid(sharpness pre) for its softplus-smoothed stand-in (x then follows softplus)."""
    eye = torch.eye(x0.shape[1], dtype=x0.dtype, device=x0.device)
    x, jac = x0, eye.expand(x0.shape[0], -1, -1)
    for lam, w1, b1, w2, b2 in layers:
        pre = x @ w1.T + b1
        if sharpness is None:
            gate, act = (pre > 0).to(x.dtype), torch.relu(pre)
        else:
            gate, act = torch.sigmoid(sharpness * pre), F.softplus(pre, beta=sharpness)
        jac = jac + lam * (w2 @ (gate.unsqueeze(-1) * w1)) @ jac
        x = x + lam * (act @ w2.T + b2)
    return jac


def maximise_jacobian_norm(blocks, starts: torch.Tensor, *, steps: int = 40, lr: float = 0.05,
                           sharpness: float = 10.0) -> dict:
    """S6 falsification: Adam over the tower's inputs x_0 (one run per row of ``starts``)
    raising ||d x_n / d x_0 (x_0)||_2 towards the Lipschitz product.

    The ReLU tower's Jacobian is constant on each linear region, so its norm gives no gradient;
    the step follows log ||J|| of the softplus-smoothed tower (gates sigmoid(sharpness z)) and
    the *true* Jacobian norm of the ReLU tower is evaluated at every iterate. The inputs move
    in units of each start's norm. Returns ``max_norm`` (the largest true norm seen),
    ``start_max_norm`` (the largest at the starts) and ``steps``.
    """
    if steps < 0 or starts.ndim != 2 or starts.shape[0] == 0:
        raise ValueError("starts must be a non-empty (B, d) batch and steps >= 0")
    layers = _mlp_layers(blocks)
    scale = starts.norm(dim=1, keepdim=True).clamp_min(1e-12)
    direction = (starts / scale).detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([direction], lr=lr)
    start = best = _true_norm(layers, starts)
    for _ in range(steps):
        jac = _tower_jacobian(layers, direction * scale, sharpness)
        loss = -torch.log(torch.linalg.matrix_norm(jac, 2)).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        best = max(best, _true_norm(layers, direction.detach() * scale))
    return {"max_norm": best, "start_max_norm": start, "steps": steps}


def _true_norm(layers, x0: torch.Tensor) -> float:
    """The largest ||d x_n / d x_0||_2 over the rows of ``x0`` (the ReLU tower's own gates)."""
    with torch.no_grad():
        return torch.linalg.matrix_norm(_tower_jacobian(layers, x0), 2).max().item()


def _operator_norm(module: nn.Module) -> float:
    """The product of the spectral norms of the Linear layers in ``module``."""
    layers = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError(f"{type(module).__name__} has no Linear layer")
    return math.prod(torch.linalg.matrix_norm(m.weight.detach(), 2).item() for m in layers)
