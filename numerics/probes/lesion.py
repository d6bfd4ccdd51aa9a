"""Lesion study (Veit, Wilber and Belongie 2016) against the R2 path expansion.

Deleting block i of a residual tower keeps its skip: x_i = x_{i-1} in place of
x_{i-1} + lam_i f_i(x_{i-1}).

**Frozen gates (exact).** Hold every block's linear piece at the intact network's activations
(:func:`frozen_pieces`: D_i and c_i of :mod:`numerics.probes.spectrum`). The frozen tower with the
blocks of D deleted, x'_i = x'_{i-1} + lam_i (D_i x'_{i-1} + c_i) for i not in D and
x'_i = x'_{i-1} for i in D, is

.. math::

    \\tilde x'_n = \\prod_{i \\notin D} (I + \\lambda_i \\tilde J_i)\\, \\tilde x_0
    = \\sum_{S \\cap D = \\emptyset} \\lambda^S \\tilde J_S \\tilde x_0 ,

exactly the sum of the paths that avoid D (R1's expansion of the product over the kept
blocks). A path of length k avoids C(n - m, k) of the C(n, m) sets D of m blocks, so averaged
over all of them

.. math::

    \\operatorname{mean}_{|D| = m} x'_n(D) = \\sum_k \\rho_k(m)\\, y_k, \\qquad
    \\rho_k(m) = \\binom{n-m}{k} \\Big/ \\binom{n}{k},

and the *kept share* <x'_n, x_n> / ||x_n||^2 averages to sum_k rho_k(m) s_k, s_k the signed
shares of :meth:`numerics.probes.spectrum.Spectrum.signed_shares` (:func:`surviving_share`). Both
statements are identities for frozen gates. The energy shares give a different number, because
they leave out the interference between lengths.

**Real lesions (empirical).** The lesioned network recomputes its gates (the ReLU masks of
the later blocks move), so its kept share departs from the frozen prediction; how far is a
measurement (:func:`lesion_curve`).
"""

import itertools
import math

import torch

from numerics.probes.spectrum import _check_blocks, _check_piecewise_linear, _step

__all__ = ["frozen_lesion", "frozen_pieces", "kept_share", "lesion_curve", "lesion_subsets",
           "lesioned_forward", "surviving_paths", "surviving_share", "survival"]


def lesioned_forward(model, x: torch.Tensor, deleted) -> tuple[torch.Tensor, torch.Tensor]:
    """(output, x_n) of ``model`` on ``x`` with the blocks in ``deleted`` (0-based) skipped
    (a deleted block with a shortcut P, the resnet's, maps x to P x)."""
    deleted = set(deleted)
    n = len(model.blocks)
    if any(not 0 <= i < n for i in deleted):
        raise ValueError(f"deleted block indices must lie in 0..{n - 1}, got {sorted(deleted)}")
    h = model.embed(x)
    for i, block in enumerate(model.blocks):
        if i not in deleted:
            h = block(h)
        elif getattr(block, "shortcut", None) is not None:
            h = block.skip(h)  # a resnet's shape-changing block keeps its shortcut P x
    return model.head(h), h


def frozen_pieces(blocks, x0: torch.Tensor, *, route: str = "auto") -> tuple[list, torch.Tensor]:
    """The linear pieces J~_i at the actual activations of ``x0``, and x_n.

    ``pieces[i - 1]`` maps a stack of augmented vectors (first row t = 1, the others t = 0)
    as in :func:`numerics.probes.spectrum.path_spectrum`, so ``piece(v.unsqueeze(0))[0]`` is
    D_i v + c_i.
    """
    if route not in ("auto", "mlp", "generic"):
        raise ValueError(f"route must be 'auto', 'mlp' or 'generic', got {route!r}")
    blocks = _check_blocks(blocks)
    pieces, x = [], x0
    with torch.no_grad():
        for i, block in enumerate(blocks, 1):
            _check_piecewise_linear(block.branch, i)
            apply, x = _step(block, x, route)
            pieces.append(apply)
    return pieces, x


def frozen_lesion(pieces, lams, x0: torch.Tensor, deleted) -> torch.Tensor:
    """x'_n of the frozen tower with the blocks in ``deleted`` (0-based) skipped:
    x'_i = x'_{i-1} + lam_i (D_i x'_{i-1} + c_i) for the kept blocks."""
    deleted = set(deleted)
    x = x0
    with torch.no_grad():
        for i, (piece, lam) in enumerate(zip(pieces, lams, strict=True)):
            if i not in deleted:
                x = x + float(lam) * piece(x.unsqueeze(0))[0]
    return x


def surviving_paths(paths: torch.Tensor, deleted) -> torch.Tensor:
    """The sum of the enumerated path terms (:func:`numerics.probes.enumeration.enumerate_paths`,
    bit i of the index set iff the path takes block i, 0-based) whose set avoids ``deleted``."""
    mask = sum(1 << i for i in set(deleted))
    index = torch.arange(paths.shape[0], device=paths.device)
    return paths[(index & mask) == 0].sum(0)


def survival(n: int, m: int) -> list[float]:
    """rho_k(m) = C(n - m, k) / C(n, k), k = 0..n: the fraction of the paths of length k that
    avoid a given set of m deleted blocks.

    >>> survival(3, 1)
    [1.0, 0.6666666666666666, 0.3333333333333333, 0.0]
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m <= n:
        raise ValueError(f"m must be an integer in 0..{n}, got {m!r}")
    return [math.comb(n - m, k) / math.comb(n, k) for k in range(n + 1)]


def surviving_share(weights, m: int) -> float:
    """sum_k rho_k(m) w_k / sum_k w_k for weights w_0..w_n by length.

    With the signed shares (which sum to 1) this is the mean kept share of the frozen tower
    over all sets of m deleted blocks (module docstring); with energies ||y_k||^2 it is the
    surviving energy share, which is not (lengths interfere).

    >>> surviving_share([1.0, 2.0, 1.0], 1)  # n = 2: keeps w_0 and half of w_1
    0.5
    """
    weights = [float(w) for w in weights]
    total = sum(weights)
    if total == 0 or not math.isfinite(total):
        raise ValueError("the weights must have a finite, non-zero sum")
    rho = survival(len(weights) - 1, m)
    return math.fsum(r * w for r, w in zip(rho, weights)) / total


def kept_share(lesioned: torch.Tensor, full: torch.Tensor) -> float:
    """<x'_n, x_n> / ||x_n||^2, summed over the batch: the part of the output the lesion kept."""
    return float((lesioned * full).sum() / full.pow(2).sum())


def lesion_subsets(n: int, m: int, *, max_subsets: int, generator: torch.Generator
                   ) -> tuple[list[tuple[int, ...]], bool]:
    """The sets of m deleted blocks to measure, and whether they are all of them.

    All C(n, m) sets when there are at most ``max_subsets``, in lexicographic order (the mean
    over them is exact); otherwise ``max_subsets`` independent uniform draws from ``generator``.
    """
    survival(n, m)
    if math.comb(n, m) <= max_subsets:
        return list(itertools.combinations(range(n), m)), True
    return [tuple(sorted(torch.randperm(n, generator=generator)[:m].tolist()))
            for _ in range(max_subsets)], False


def _error(output, y, task) -> float:
    if task == "classification":
        return (output.argmax(-1) != y).double().mean().item()
    return (output - y).pow(2).mean().item()


def _mean_se(values: list[float], exhaustive: bool) -> tuple[float, float]:
    """The mean and its standard error (0 when the values are the whole population)."""
    mean = math.fsum(values) / len(values)
    if exhaustive or len(values) < 2:
        return mean, 0.0
    var = math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var / len(values))


def lesion_curve(model, x, y, *, ms, max_subsets: int, generator: torch.Generator,
                 task: str = "classification") -> list[dict]:
    """The real lesion: ``model`` with m blocks deleted (gates recomputed), for each m in ``ms``.

    The sets of deleted blocks come from :func:`lesion_subsets`. One row per m: ``m``,
    ``subsets`` (the sets measured), ``exhaustive``, ``kept`` (the kept share of each set),
    ``kept_mean`` and ``kept_se`` (its standard error, 0 when every set was measured),
    ``error`` and ``error_se`` (test error: misclassification rate, or mean squared error for
    ``task == "regression"``) and ``stream_change`` (mean ||x_n' - x_n||^2 / ||x_n||^2).
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    if isinstance(max_subsets, bool) or not isinstance(max_subsets, int) or max_subsets < 1:
        raise ValueError(f"max_subsets must be a positive integer, got {max_subsets!r}")
    n = len(model.blocks)
    rows = []
    with torch.no_grad():
        _, full = lesioned_forward(model, x, ())
        for m in ms:
            subsets, exhaustive = lesion_subsets(n, m, max_subsets=max_subsets,
                                                 generator=generator)
            kept, errors, changes = [], [], []
            for deleted in subsets:
                out, h = lesioned_forward(model, x, deleted)
                kept.append(kept_share(h, full))
                errors.append(_error(out, y, task))
                changes.append(float((h - full).pow(2).sum() / full.pow(2).sum()))
            kept_mean, kept_se = _mean_se(kept, exhaustive)
            error, error_se = _mean_se(errors, exhaustive)
            rows.append({"m": m, "subsets": subsets, "exhaustive": exhaustive, "kept": kept,
                         "kept_mean": kept_mean, "kept_se": kept_se, "error": error,
                         "error_se": error_se, "stream_change": math.fsum(changes) / len(changes)})
    return rows
