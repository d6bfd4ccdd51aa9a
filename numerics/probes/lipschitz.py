r"""S1 measured: try to push a residual tower's Lipschitz constant past (1 + lam c)^n.

Towers x_i = x_{i-1} + lam f_i(x_{i-1}) (x_0 = x, i = 1..n) on R^d with branches whose Jacobians
satisfy \|J_i\| <= c in the spectral norm:

- ``linear``: f_i(z) = A_i z with A_i = c V_i / \|V_i\|_2;
- ``relu``: f_i(z) = W2 relu(W1 z + b1), W1 = U / \|U\|_2, W2 = c V / \|V\|_2, so
  \|J_i\| = \|W2 D W1\| <= c for every activation pattern D.

:func:`falsify_s1` runs Adam (float64) on ``restarts`` towers at once, in one tensor op per layer,
maximising both the Jacobian spectral norm \|dx_n/dx_0\|_2 at an input x and the secant ratio
\|T(x) - T(y)\| / \|x - y\| over inputs *and* the free weights V, U, b1. S1 says neither can
exceed

.. math::

    \operatorname{Lip}(T_n) \le (1 + \lambda c)^n ,

and :func:`identity_tower_gain` shows the bound is attained at J_i = c I.

>>> round(identity_tower_gain(3, 0.5, 2.0, d=4), 12)
8.0
"""

import math

import torch

__all__ = [
    "BRANCHES",
    "falsify_s1",
    "identity_tower_gain",
    "rounding_tolerance",
    "tower_forward",
    "tower_jacobian",
]

BRANCHES = ("linear", "relu")
DTYPE = torch.float64


def rounding_tolerance(n: int, d: int) -> float:
    """Relative slack for a product of n d-by-d float64 factors and an SVD: 8 (n + 1) d eps."""
    return 8.0 * (n + 1) * d * torch.finfo(DTYPE).eps


def _normalise(v: torch.Tensor, scale: float) -> torch.Tensor:
    """scale * v / ||v||_2 for a batch of matrices (spectral norm of the last two dims)."""
    return scale * v / torch.linalg.matrix_norm(v, ord=2)[..., None, None]


def identity_tower_gain(n: int, lam: float, c: float, d: int) -> float:
    """Spectral norm of prod_i (I + lam J_i) with J_i = c I: equals (1 + lam c)^n (tightness)."""
    eye = torch.eye(d, dtype=DTYPE)
    jac = eye.clone()
    for _ in range(n):
        jac = (eye + lam * c * eye) @ jac
    return float(torch.linalg.matrix_norm(jac, ord=2))


def _branch_weights(params: dict, branch: str, c: float) -> dict:
    if branch == "linear":
        return {"A": _normalise(params["V"], c)}
    return {"W1": _normalise(params["U"], 1.0), "W2": _normalise(params["V"], c),
            "b1": params["b1"]}


def tower_forward(x: torch.Tensor, weights: dict, lam: float) -> torch.Tensor:
    """T_n(x) for a batch: x of shape (B, d); weights of shape (B, n, ., .)."""
    n = next(iter(weights.values())).shape[1]
    for i in range(n):
        if "A" in weights:
            step = torch.einsum("bij,bj->bi", weights["A"][:, i], x)
        else:
            pre = torch.einsum("bij,bj->bi", weights["W1"][:, i], x) + weights["b1"][:, i]
            step = torch.einsum("bij,bj->bi", weights["W2"][:, i], torch.relu(pre))
        x = x + lam * step
    return x


def tower_jacobian(x: torch.Tensor, weights: dict, lam: float) -> torch.Tensor:
    """dx_n/dx_0 = prod_i (I + lam J_i(x_{i-1})) for a batch, shape (B, d, d)."""
    b, d = x.shape
    n = next(iter(weights.values())).shape[1]
    eye = torch.eye(d, dtype=x.dtype).expand(b, d, d)
    jac = eye
    for i in range(n):
        if "A" in weights:
            j_i = weights["A"][:, i]
        else:
            pre = torch.einsum("bij,bj->bi", weights["W1"][:, i], x) + weights["b1"][:, i]
            mask = (pre > 0).to(x.dtype)
            j_i = weights["W2"][:, i] @ (mask[..., None] * weights["W1"][:, i])
            x = x + lam * torch.einsum("bij,bj->bi", weights["W2"][:, i], torch.relu(pre))
        if "A" in weights:
            x = x + lam * torch.einsum("bij,bj->bi", j_i, x)
        jac = (eye + lam * j_i) @ jac
    return jac


def _validate(n, d, lam, c, branch, hidden, restarts, steps) -> None:
    for name, value in (("n", n), ("d", d), ("hidden", hidden), ("restarts", restarts),
                        ("steps", steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    for name, value in (("lam", lam), ("c", c)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    if branch not in BRANCHES:
        raise ValueError(f"branch must be one of {', '.join(BRANCHES)}, got {branch!r}")


def falsify_s1(n: int, d: int, lam: float, c: float, *, branch: str = "relu", hidden: int = 8,
               restarts: int = 16, steps: int = 150, lr: float = 0.05,
               generator: torch.Generator) -> dict:
    """S1 falsification: maximise Lipschitz estimates over inputs and constrained weights.

    Returns the bound (1 + lam c)^n, the largest Jacobian norm and secant ratio seen at any
    step of any restart, their ratios to the bound, and the rounding tolerance a violation
    would have to exceed.
    """
    _validate(n, d, lam, c, branch, hidden, restarts, steps)
    rows = d if branch == "linear" else hidden
    params = {"V": torch.randn(restarts, n, d, rows, dtype=DTYPE, generator=generator),
              "x": torch.randn(restarts, d, dtype=DTYPE, generator=generator),
              "y": torch.randn(restarts, d, dtype=DTYPE, generator=generator)}
    if branch == "relu":
        params["U"] = torch.randn(restarts, n, hidden, d, dtype=DTYPE, generator=generator)
        params["b1"] = 0.1 * torch.randn(restarts, n, hidden, dtype=DTYPE, generator=generator)
    for p in params.values():
        p.requires_grad_(True)
    optimiser = torch.optim.Adam(params.values(), lr=lr)
    best_jac = best_secant = 0.0
    for _ in range(steps):
        weights = _branch_weights(params, branch, c)
        jac_norm = torch.linalg.matrix_norm(tower_jacobian(params["x"], weights, lam), ord=2)
        diff = tower_forward(params["x"], weights, lam) - tower_forward(params["y"], weights, lam)
        secant = diff.norm(dim=-1) / (params["x"] - params["y"]).norm(dim=-1)
        best_jac = max(best_jac, float(jac_norm.detach().max()))
        best_secant = max(best_secant, float(secant.detach().max()))
        loss = -(torch.log(jac_norm).sum() + torch.log(secant).sum())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    bound = (1.0 + lam * c) ** n
    return {"bound": bound, "max_jacobian_norm": best_jac, "max_secant_ratio": best_secant,
            "jacobian_over_bound": best_jac / bound, "secant_over_bound": best_secant / bound,
            "tolerance": rounding_tolerance(n, d)}
