"""The Jacobian expansion of a residual tower (R5).

For x_i = x_{i-1} + lam_i f_i(x_{i-1}) with differentiable branches, the chain rule gives

.. math::

    \\frac{\\partial x_n}{\\partial x_0} = \\prod_{i=n}^{1} \\bigl(I + \\lambda_i J_i(x_{i-1})\\bigr)
    = \\sum_{S \\subseteq [n]} \\lambda^S J_S, \\qquad J_S = J_{s_k} \\cdots J_{s_1},

with J_i = Df_i(x_{i-1}) the branch's true Jacobian at the input it actually sees. Features are
flattened: for inputs of shape (B, *feature_shape) every Jacobian is (B, D, D) with D the
number of features per sample. Blocks may use any normalisation for :func:`tower_jacobian`
(autograd through the whole block); the product form needs ``norm == "none"``.
"""

import itertools

import torch
from torch.func import jacfwd, vmap

__all__ = ["branch_jacobians", "jacobian_product", "jacobian_subset_sum", "tower_jacobian"]


def _per_sample(fn, x0: torch.Tensor) -> torch.Tensor:
    """The (B, D, D) Jacobians of a per-sample map ``fn`` on a batch of shape (B, *shape)."""
    shape = x0.shape[1:]

    def flat(v):
        return fn(v.reshape(1, *shape)).reshape(-1)

    return vmap(jacfwd(flat))(x0.reshape(x0.shape[0], -1))


def branch_jacobians(blocks, x0: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The branch Jacobians J_i(x_{i-1}), i = 1..n, each (B, D, D), and x_n.

    Raises ValueError for a block with normalisation (R5's product form is for norm='none').
    """
    blocks = list(blocks)
    if not blocks:
        raise ValueError("blocks must contain at least one residual block")
    jacobians, x = [], x0
    for i, block in enumerate(blocks, 1):
        if getattr(block, "norm", "none") != "none":
            raise ValueError(f"block {i} has norm={block.norm!r}; the product form needs 'none'")
        jacobians.append(_per_sample(block.branch, x).detach())
        with torch.no_grad():
            x = block(x)
    return jacobians, x


def jacobian_product(blocks, x0: torch.Tensor) -> torch.Tensor:
    """prod_{i=n..1} (I + lam_i J_i(x_{i-1})) per sample, shape (B, D, D) (R5, O(n) products).

    >>> from torch import nn
    >>> class Block(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.branch, self.lam, self.norm = nn.Linear(2, 2), torch.tensor(0.5), "none"
    ...     def forward(self, x):
    ...         return x + self.lam * self.branch(x)
    >>> blocks = [Block().double() for _ in range(3)]
    >>> x0 = torch.ones(1, 2, dtype=torch.float64)
    >>> bool(torch.allclose(jacobian_product(blocks, x0), tower_jacobian(blocks, x0)))
    True
    """
    blocks = list(blocks)
    jacobians, _ = branch_jacobians(blocks, x0)
    eye = torch.eye(jacobians[0].shape[-1], dtype=x0.dtype, device=x0.device)
    total = eye.expand_as(jacobians[0]).clone()
    for block, jac in zip(blocks, jacobians):
        total = (eye + block.lam.to(x0.dtype) * jac) @ total
    return total


def jacobian_subset_sum(jacobians: list[torch.Tensor], lams: list[float]) -> torch.Tensor:
    """sum over S of lam^S J_S by enumeration of all 2^n subsets: the small-n oracle of R5.

    ``jacobians[i - 1]`` is J_i (B, D, D) and ``lams[i - 1]`` is lam_i. Refuses n > 14.
    """
    n = len(jacobians)
    if n != len(lams):
        raise ValueError(f"got {n} Jacobians but {len(lams)} scales lams")
    if n > 14:
        raise ValueError(f"jacobian_subset_sum enumerates 2^n subsets; n = {n} > 14 is too many")
    eye = torch.eye(jacobians[0].shape[-1], dtype=jacobians[0].dtype, device=jacobians[0].device)
    total = torch.zeros_like(jacobians[0])
    for k in range(n + 1):
        for subset in itertools.combinations(range(n), k):
            term = eye.expand_as(total)
            for i in subset:
                term = lams[i] * jacobians[i] @ term
            total = total + term
    return total


def tower_jacobian(blocks, x0: torch.Tensor) -> torch.Tensor:
    """d x_n / d x_0 per sample, shape (B, D, D), by autograd through the whole tower.

    Uses :func:`torch.autograd.functional.jacobian` on each sample separately (reverse mode,
    independent of the product formula).
    """
    blocks = list(blocks)
    shape = x0.shape[1:]

    def tower(v):
        x = v.reshape(1, *shape)
        for block in blocks:
            x = block(x)
        return x.reshape(-1)

    flat = x0.reshape(x0.shape[0], -1)
    return torch.stack([torch.autograd.functional.jacobian(tower, row) for row in flat])
