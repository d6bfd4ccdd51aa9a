"""Lesion study (Veit, Wilber and Belongie 2016): delete blocks, watch the error, count paths.

Deleting block i of a residual tower replaces x_i = x_{i-1} + lam_i f_i(x_{i-1}) by x_i = x_{i-1}
(the skip connection stays). In the path expansion (R2) this removes every path S with i in S.
Of the C(n, k) paths of length k, C(n - m, k) avoid m deleted blocks, so if the gates did not move
the lesioned output would keep the share

.. math::

    \\rho(m) = \\frac{\\sum_k \\binom{n-m}{k} / \\binom{n}{k} \\; e_k}{\\sum_k e_k}

of the path energy, with e_k = ||y_k||^2 the measured spectrum. The gates do move, so this is
an empirical comparison, not an identity.
"""

import math

import torch

__all__ = ["lesion_curve", "lesioned_forward", "surviving_share"]


def lesioned_forward(model, x: torch.Tensor, deleted) -> tuple[torch.Tensor, torch.Tensor]:
    """(output, x_n) of ``model`` on ``x`` with the blocks in ``deleted`` (0-based) skipped."""
    deleted = set(deleted)
    n = len(model.blocks)
    if any(not 0 <= i < n for i in deleted):
        raise ValueError(f"deleted block indices must lie in 0..{n - 1}, got {sorted(deleted)}")
    h = model.embed(x)
    for i, block in enumerate(model.blocks):
        if i not in deleted:
            h = block(h)
    return model.head(h), h


def _error(output, y, task) -> float:
    if task == "classification":
        return (output.argmax(-1) != y).double().mean().item()
    return (output - y).pow(2).mean().item()


def lesion_curve(model, x, y, *, ms, n_draws: int, generator: torch.Generator,
                 task: str = "classification") -> list[dict]:
    """The error of ``model`` with m random blocks deleted, for each m in ``ms``.

    For each m, ``n_draws`` subsets of m blocks are drawn uniformly (without replacement
    within a subset) from ``generator``. Returns one row per m: ``m``, ``error`` (mean test
    error: misclassification rate, or mean squared error for ``task == "regression"``),
    ``error_se`` (its standard error over draws, 0 for a single draw), and ``stream_change``
    (mean ||x_n' - x_n||^2 / ||x_n||^2 of the lesioned residual stream).
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    n = len(model.blocks)
    if not isinstance(n_draws, int) or n_draws < 1:
        raise ValueError(f"n_draws must be a positive integer, got {n_draws!r}")
    rows = []
    with torch.no_grad():
        _, full = lesioned_forward(model, x, ())
        for m in ms:
            if not isinstance(m, int) or not 0 <= m <= n:
                raise ValueError(f"each m in ms must be an integer in 0..{n}, got {m!r}")
            errors, changes = [], []
            for _ in range(n_draws):
                deleted = torch.randperm(n, generator=generator)[:m].tolist()
                out, h = lesioned_forward(model, x, deleted)
                errors.append(_error(out, y, task))
                changes.append(((h - full).flatten(1).pow(2).sum(1)
                                / full.flatten(1).pow(2).sum(1)).mean().item())
            mean = sum(errors) / len(errors)
            var = sum((e - mean) ** 2 for e in errors) / max(len(errors) - 1, 1)
            rows.append({"m": m, "error": mean, "error_se": math.sqrt(var / len(errors)),
                         "stream_change": sum(changes) / len(changes)})
    return rows


def surviving_share(energies, m: int) -> float:
    """rho(m) = sum_k C(n-m,k)/C(n,k) e_k / sum_k e_k for the spectrum energies e_0..e_n.

    >>> surviving_share([1.0, 2.0, 1.0], 1)  # n = 2: keeps e_0 and half of e_1
    0.5
    """
    energies = [float(e) for e in energies]
    n = len(energies) - 1
    if not isinstance(m, int) or not 0 <= m <= n:
        raise ValueError(f"m must be an integer in 0..{n}, got {m!r}")
    total = sum(energies)
    if not total > 0:
        raise ValueError("energies must have a positive sum")
    kept = sum(math.comb(n - m, k) / math.comb(n, k) * e for k, e in enumerate(energies))
    return kept / total
